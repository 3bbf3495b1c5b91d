"""Querysets on the hot write path, compiled to SQL once per database connection and run again with new values.

Django compiles a queryset to SQL every time it runs. For the small single-row statements every
work-order action makes (the visibility check, the row locks) compiling costs 0.2-0.4 ms each, about
ten times what the database needs to run them, and it was most of a socket command's time
(docs/BENCHMARKS.md, "Command round trip"). A ``PreparedQuery`` builds its queryset once with marker
values, keeps the SQL Django compiled for it, and runs that SQL with the real values: the same
statement, the same locks, the same rows as the queryset itself, turned into model instances with
Django's own converters (``Model.from_db``), as the queryset would.

Only plain querysets of one model are supported (no ``select_related``, no annotations): anything else
is refused when it is first compiled.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from django.db import connections, models
from django.db.backends.base.base import BaseDatabaseWrapper

M = TypeVar("M", bound=models.Model)

#: Marker values for the parameters: unlikely among a queryset's own constants, within a 32-bit integer column's range
#: (Django refuses to compile a lookup with an out-of-range integer).
_MARKER_BASE = -1_987_654_000


class _Compiled:
    __slots__ = ("attnames", "constants", "converters", "slots", "sql")

    def __init__(
        self,
        sql: str,
        slots: list[int | None],
        constants: list[Any],
        attnames: list[str] | None,
        converters: dict[int, tuple[list[Any], Any]],
    ) -> None:
        self.sql = sql
        self.slots = slots  # for each SQL parameter: the index of the caller's value, or None for a constant
        self.constants = constants
        self.attnames = attnames  # the model's fields in column order, or None for plain rows
        self.converters = converters


class PreparedQuery(Generic[M]):
    """``build(*values)`` returns the queryset; ``rows``/``instances`` run its SQL with other values.

    The values must be integers (ids): the queryset is compiled with marker integers in their place,
    and each marker must appear in the compiled parameters.
    """

    def __init__(self, model: type[M], build: Callable[..., Any], arity: int) -> None:
        self.model = model
        self.build = build
        self.arity = arity
        self._compiled: weakref.WeakKeyDictionary[BaseDatabaseWrapper, _Compiled] = weakref.WeakKeyDictionary()

    def _compile(self, connection: BaseDatabaseWrapper) -> _Compiled:
        markers = [_MARKER_BASE - position for position in range(self.arity)]
        queryset = self.build(*markers)
        query = queryset.query
        if query.select_related or query.annotations or query.extra:
            raise ValueError("PreparedQuery supports plain querysets only")
        compiler = query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        slots: list[int | None] = []
        constants: list[Any] = []
        for value in params:
            slots.append(markers.index(value) if value in markers else None)
            constants.append(value)
        if sorted(slot for slot in slots if slot is not None) != list(range(self.arity)):
            raise ValueError("each value of a PreparedQuery must appear exactly once in its SQL")
        columns = [select[0] for select in compiler.select[: compiler.col_count]]
        attnames: list[str] | None = None
        if compiler.klass_info is not None:
            if compiler.klass_info.get("related_klass_infos"):
                raise ValueError("PreparedQuery supports plain querysets only")
            attnames = [column.target.attname for column in columns]
        compiled = _Compiled(sql, slots, constants, attnames, compiler.get_converters(columns))
        self._compiled[connection] = compiled
        return compiled

    def rows(self, *values: int, using: str = "default") -> list[tuple[Any, ...]]:
        """The result rows, converted to Python values as Django would."""
        if len(values) != self.arity:
            raise TypeError(f"expected {self.arity} values, got {len(values)}")
        connection = connections[using]
        compiled = self._compiled.get(connection) or self._compile(connection)
        params = [
            values[slot] if slot is not None else constant
            for slot, constant in zip(compiled.slots, compiled.constants, strict=True)
        ]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            fetched: Sequence[Sequence[Any]] = cursor.fetchall()
        if not compiled.converters:
            return [tuple(row) for row in fetched]
        converted = []
        for row in fetched:
            values_out = list(row)
            for position, (functions, expression) in compiled.converters.items():
                value = values_out[position]
                for function in functions:
                    value = function(value, expression, connection)
                values_out[position] = value
            converted.append(tuple(values_out))
        return converted

    def instances(self, *values: int, using: str = "default") -> list[M]:
        """The rows as model instances (the queryset must select model instances, not values)."""
        rows = self.rows(*values, using=using)
        attnames = self._compiled[connections[using]].attnames
        if attnames is None:
            raise TypeError("this PreparedQuery selects values, not model instances")
        return [self.model.from_db(using, attnames, row) for row in rows]
