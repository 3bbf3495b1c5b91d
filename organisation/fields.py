"""API input fields whose valid values are this installation's reference data (subjects, appeal types).

The API schema tells the values as served: drf-spectacular reads a bound field's ``choices``, and these fields
load theirs when a serializer binds them (once per request and per schema), so the schema's enum is the
reference data of the moment and a value outside it is a 400 naming the field, as the schema says.
"""

from __future__ import annotations

from typing import Any

from django.db import OperationalError, ProgrammingError
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

from organisation.models import AppealType, Subject


class CodeChoiceField(serializers.ChoiceField):
    """One of the ``code`` values of a queryset, read when the field is bound.

    With ``checked_by_action`` the field takes any text (of the column's length) and leaves the refusal to the
    action, which names it together with every other bad field; the schema's enum is the same either way.
    """

    def __init__(self, *, checked_by_action: bool = False, max_length: int = 40, **kwargs: Any):
        self.checked_by_action, self.max_length = checked_by_action, max_length
        super().__init__(choices=[], **kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if not self.checked_by_action:
            return super().to_internal_value(data)
        return serializers.CharField(max_length=self.max_length).run_validation(data)

    def rows(self) -> QuerySet[Any]:
        raise NotImplementedError

    def bind(self, field_name: str, parent: Any) -> None:
        super().bind(field_name, parent)
        try:
            self.choices = list(self.rows().order_by("code").values_list("code", flat=True))
        except (OperationalError, ProgrammingError):
            # A database not migrated yet (drf-spectacular builds the schema in `manage.py check`): no data.
            self.choices = []


class SubjectCodeField(CodeChoiceField):
    """A subject's code: a leaf of the tree (what tickets take) unless ``leaf_only`` is false, with
    ``active_only`` an active one."""

    def __init__(self, *, leaf_only: bool = True, active_only: bool = False, **kwargs: Any):
        self.leaf_only, self.active_only = leaf_only, active_only
        kwargs.setdefault("error_messages", {"invalid_choice": _("Choose a subject from the list.")})
        super().__init__(**kwargs)

    def rows(self) -> QuerySet[Any]:
        subjects = Subject.objects.all()
        if self.leaf_only:
            subjects = subjects.filter(is_leaf=True)
        return subjects.filter(active=True) if self.active_only else subjects


class AppealTypeCodeField(CodeChoiceField):
    def __init__(self, **kwargs: Any):
        kwargs.setdefault("error_messages", {"invalid_choice": _("Unknown appeal type.")})
        super().__init__(max_length=30, **kwargs)

    def rows(self) -> QuerySet[Any]:
        return AppealType.objects.all()


class CodeChoiceFieldExtension(OpenApiSerializerFieldExtension):
    """The enum inline: its values are data, so a named component (drf-spectacular's default) would be named
    after a hash of them."""

    target_class = CodeChoiceField
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        field = self.target
        values: list[Any] = list(field.choices)
        if field.allow_blank:
            values.append("")
        # No reference data yet (a database just migrated): no enum, which would have to be empty, and which
        # drf-spectacular would then take for one choice set under several names.
        # The enum sits inside allOf: drf-spectacular lifts enums that are a property's own keys into named
        # components by the field's name, and two fields named "subject" with different sets (leaves, every
        # subject) would then collide (a warning that fails `check --deploy` on a database with data).
        schema: dict[str, Any] = {"allOf": [{"type": "string", "enum": values}]} if values else {"type": "string"}
        if field.allow_null:
            schema["nullable"] = True
        return schema
