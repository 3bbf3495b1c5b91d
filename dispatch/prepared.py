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
from django.db.models import sql

M = TypeVar("M", bound=models.Model)

#: Marker values for the parameters: unlikely among a queryset's own constants, within a 32-bit integer column's range
#: (Django refuses to compile a lookup with an out-of-range integer).
_MARKER_BASE = -1_987_654_000
_BIGINT_MIN, _BIGINT_MAX = -(2**63), 2**63 - 1


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
        if any(not _BIGINT_MIN <= value <= _BIGINT_MAX for value in values):
            return []  # no id column holds it (Django's own lookups find nothing either, rather than fail)
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
        if not rows:
            return []  # (an out-of-range id matches nothing without compiling the query)
        attnames = self._compiled[connections[using]].attnames
        if attnames is None:
            raise TypeError("this PreparedQuery selects values, not model instances")
        return [self.model.from_db(using, attnames, row) for row in rows]


class PreparedInsert(Generic[M]):
    """``instance.save()`` of a new row, with the INSERT compiled once per connection.

    Values are prepared per call exactly as Django's insert compiler prepares them (``pre_save``, then
    ``get_db_prep_save``), and the primary key comes back from ``RETURNING``. No signals are sent: use it
    only for models that have no signal receivers and no ``save()`` logic for new rows.
    """

    def __init__(self, model: type[M]) -> None:
        self.model = model
        meta = model._meta
        self.fields = [f for f in meta.local_concrete_fields if f is not meta.auto_field and not f.generated]
        if meta.auto_field is None or list(meta.db_returning_fields) != [meta.auto_field]:
            raise ValueError("PreparedInsert needs a model whose only returned column is its auto primary key")
        if any(hasattr(field, "get_placeholder") for field in self.fields):
            raise ValueError("PreparedInsert supports plain %s placeholders only")
        self._sql: weakref.WeakKeyDictionary[BaseDatabaseWrapper, str] = weakref.WeakKeyDictionary()

    def _compile(self, connection: BaseDatabaseWrapper, instance: M) -> str:
        if not connection.features.can_return_columns_from_insert:
            raise NotImplementedError("the database cannot return the new primary key from its INSERT")
        query = sql.InsertQuery(self.model)
        query.insert_values(self.fields, [instance])
        compiler = query.get_compiler(connection=connection)
        compiler.returning_fields = [self.model._meta.auto_field]
        statements = compiler.as_sql()
        if len(statements) != 1 or len(statements[0][1]) != len(self.fields):
            raise ValueError("PreparedInsert expected one statement with one parameter per field")
        self._sql[connection] = statements[0][0]
        return statements[0][0]

    def insert(self, instance: M, using: str = "default") -> M:
        connection = connections[using]
        params = []
        for field in self.fields:
            value = field.pre_save(instance, True)
            if hasattr(value, "resolve_expression"):
                raise TypeError(f"PreparedInsert does not take expressions ({field.name})")
            params.append(field.get_db_prep_save(value, connection=connection))
        statement = self._sql.get(connection) or self._compile(connection, instance)
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
            (pk,) = cursor.fetchone()
        instance.pk = pk
        instance._state.adding = False
        instance._state.db = using
        return instance


class PreparedUpdate(Generic[M]):
    """``instance.save(update_fields=...)`` of an existing row, the UPDATE compiled once per connection and
    field list. Values are prepared as Django prepares them; no signals are sent (see PreparedInsert)."""

    def __init__(self, model: type[M]) -> None:
        self.model = model
        # Per connection, by (field names, which values are NULL): Django writes NULL into the SQL itself.
        self._sql: weakref.WeakKeyDictionary[
            BaseDatabaseWrapper, dict[tuple[tuple[str, ...], tuple[bool, ...]], str]
        ] = weakref.WeakKeyDictionary()

    def _fields(self, names: tuple[str, ...]) -> list[models.Field[Any, Any]]:
        fields = []
        for name in names:
            field = self.model._meta.get_field(name)
            if not isinstance(field, models.Field) or not field.concrete or field.primary_key:
                raise ValueError(f"PreparedUpdate writes concrete columns only ({name})")
            if hasattr(field, "get_placeholder"):
                raise ValueError("PreparedUpdate supports plain %s placeholders only")
            fields.append(field)
        return fields

    def _compile(
        self, connection: BaseDatabaseWrapper, fields: list[models.Field[Any, Any]], instance: M, not_null: int
    ) -> str:
        query = sql.UpdateQuery(self.model)
        values = [(field, None, getattr(instance, field.attname)) for field in fields]
        query.add_update_fields(values)  # type: ignore[arg-type]  # the stubs want a Case
        query.add_q(models.Q(pk=_MARKER_BASE))
        statement, params = query.get_compiler(connection=connection).as_sql()
        if len(params) != not_null + 1 or params[-1] != _MARKER_BASE:
            raise ValueError("PreparedUpdate expected one parameter per non-NULL value, then the primary key")
        return str(statement)

    def update(self, instance: M, update_fields: Sequence[str], using: str = "default") -> int:
        """Writes the named fields of ``instance``; returns the number of rows changed (0: no such row)."""
        connection = connections[using]
        names = tuple(update_fields)
        fields = self._fields(names)
        prepared = []
        for field in fields:
            value = field.pre_save(instance, False)
            if hasattr(value, "resolve_expression"):
                raise TypeError(f"PreparedUpdate does not take expressions ({field.name})")
            prepared.append(field.get_db_prep_save(value, connection=connection))
        key = (names, tuple(value is None for value in prepared))
        statements = self._sql.setdefault(connection, {})
        statement = statements.get(key)
        if statement is None:
            not_null = sum(value is not None for value in prepared)
            statement = statements[key] = self._compile(connection, fields, instance, not_null)
        params = [value for value in prepared if value is not None]
        params.append(instance.pk)
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
            return int(cursor.rowcount)
