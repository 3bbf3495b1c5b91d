"""Admin pages of the working calendar, SLA policies and the escalation records.

Saving goes through dispatch/calendar_actions.py, so caches are dropped and clocks waiting for an
unpublished year get their deadline; timers, escalations and reprimands are read-only records.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.options import csrf_protect_m
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from dispatch.admin import ReadOnlyAdmin
from dispatch.calendar_actions import (
    SLA_POLICY_FIELDS,
    check_save_sla_policy,
    do_delete_calendar_day,
    do_delete_sla_policy,
    do_publish_calendar_year,
    do_save_calendar_day,
    do_save_sla_policy,
    do_set_working_periods,
    do_unpublish_calendar_year,
)
from dispatch.errors import InvalidInput
from dispatch.models import CalendarDay, CalendarYear, Escalation, Reprimand, SlaPolicy, Timer, User, WorkingPeriod


def _actor(request: HttpRequest) -> User | None:
    return request.user if isinstance(request.user, User) else None


class ActionAdmin(admin.ModelAdmin):
    """The admin's own transaction around a save would nest the action's durable one: the action owns it."""

    @csrf_protect_m
    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        return self._changeform_view(request, object_id, form_url, extra_context)  # type: ignore[attr-defined]

    @csrf_protect_m
    def delete_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        return self._delete_view(request, object_id, extra_context)  # type: ignore[attr-defined]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        """The change list's bulk delete: each row through the action, as its own delete button does."""
        for obj in list(queryset):
            self.delete_model(request, obj)


@admin.register(CalendarDay)
class CalendarDayAdmin(ActionAdmin):
    list_display = ["date", "is_working_day", "name", "updated_at"]
    list_filter = ["is_working_day"]
    date_hierarchy = "date"
    fields = ["date", "is_working_day", "name"]

    def save_model(self, request: HttpRequest, obj: CalendarDay, form: Any, change: bool) -> None:
        if change and "date" in form.changed_data:
            do_delete_calendar_day(form.initial["date"], actor=_actor(request))
        saved = do_save_calendar_day(obj.date, is_working_day=obj.is_working_day, name=obj.name, actor=_actor(request))
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: CalendarDay) -> None:
        do_delete_calendar_day(obj.date, actor=_actor(request))


@admin.register(CalendarYear)
class CalendarYearAdmin(ActionAdmin):
    """Publishing a year makes its weekdays working days; add its holidays and make-up days as calendar days."""

    list_display = ["year", "note", "published_at"]
    fields = ["year", "note"]

    def save_model(self, request: HttpRequest, obj: CalendarYear, form: Any, change: bool) -> None:
        saved = do_publish_calendar_year(obj.year, note=obj.note, actor=_actor(request))
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: CalendarYear) -> None:
        do_unpublish_calendar_year(obj.year, actor=_actor(request))


@admin.register(WorkingPeriod)
class WorkingPeriodAdmin(ActionAdmin):
    """Office hours; none at all switches working hours off."""

    list_display = ["start", "end"]

    def _replace(self, request: HttpRequest, periods: list[tuple[Any, Any]]) -> None:
        do_set_working_periods([(s.strftime("%H:%M"), e.strftime("%H:%M")) for s, e in periods], actor=_actor(request))

    def save_model(self, request: HttpRequest, obj: WorkingPeriod, form: Any, change: bool) -> None:
        others = WorkingPeriod.objects.exclude(pk=obj.pk).values_list("start", "end")
        self._replace(request, [*others, (obj.start, obj.end)])

    def delete_model(self, request: HttpRequest, obj: WorkingPeriod) -> None:
        self._replace(request, list(WorkingPeriod.objects.exclude(pk=obj.pk).values_list("start", "end")))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[WorkingPeriod]) -> None:
        keep = WorkingPeriod.objects.exclude(pk__in=queryset.values("pk")).values_list("start", "end")
        self._replace(request, list(keep))


class SlaPolicyForm(forms.ModelForm):
    class Meta:
        model = SlaPolicy
        fields = list(SLA_POLICY_FIELDS)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        try:
            check_save_sla_policy(_policy_fields(data))
        except InvalidInput as error:
            for field, messages in error.fields.items():
                self.add_error(field.removesuffix("_id") if field.endswith("_id") else field, messages)
        return data


def _policy_fields(data: dict[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in data.items() if k not in {"appeal_type", "subject"}}
    fields["appeal_type_id"] = data["appeal_type"].pk if data.get("appeal_type") else None
    fields["subject_id"] = data["subject"].pk if data.get("subject") else None
    return fields


@admin.register(SlaPolicy)
class SlaPolicyAdmin(ActionAdmin):
    form = SlaPolicyForm
    list_display = [
        "__str__",
        "appeal_type",
        "subject",
        "urgency",
        "sign_limit",
        "handle_limit",
        "review_limit",
        "revisit_limit",
        "active",
    ]
    list_filter = ["urgency", "active", "appeal_type"]
    autocomplete_fields = ["subject"]

    def save_model(self, request: HttpRequest, obj: SlaPolicy, form: Any, change: bool) -> None:
        saved = do_save_sla_policy(
            actor=_actor(request), policy_id=obj.pk if change else None, **_policy_fields(form.cleaned_data)
        )
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: SlaPolicy) -> None:
        do_delete_sla_policy(obj.pk, actor=_actor(request))


@admin.register(Timer)
class TimerAdmin(ReadOnlyAdmin):
    list_display = ["id", "clock", "level", "fire_at", "done_at", "outcome", "claimed_until"]
    list_filter = ["level", "outcome"]


@admin.register(Escalation)
class EscalationAdmin(ReadOnlyAdmin):
    list_display = ["id", "level", "stage", "agency", "work_order", "due_at", "fired_at"]
    list_filter = ["level", "stage", "agency"]
    search_fields = ["ticket__number", "work_order__number"]


@admin.register(Reprimand)
class ReprimandAdmin(ReadOnlyAdmin):
    list_display = ["id", "agency", "work_order", "listed_at", "cleared_at"]
    list_filter = ["agency"]
