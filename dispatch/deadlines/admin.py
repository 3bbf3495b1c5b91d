"""Admin pages of the working calendar, SLA policies and the escalation records.

Saving goes through dispatch/deadlines/actions.py, so caches are dropped and publishing a year recomputes the
open provisional deadlines; timers, escalations and reprimands are read-only records.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _

from core import clock
from core.admin import ReadOnlyAdmin
from core.errors import InvalidInput
from dispatch.deadlines import calendar, provisional
from dispatch.deadlines.actions import (
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
from dispatch.models import CalendarDay, CalendarYear, Escalation, Reprimand, SlaPolicy, Timer, WorkingPeriod
from organisation.policy import acting_user


class ActionAdmin(admin.ModelAdmin):
    """Saves and deletes go through the actions (each row's own delete, also from the change list)."""

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
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
            do_delete_calendar_day(form.initial["date"], actor=acting_user(request))
        saved = do_save_calendar_day(
            obj.date, is_working_day=obj.is_working_day, name=obj.name, actor=acting_user(request)
        )
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: CalendarDay) -> None:
        do_delete_calendar_day(obj.date, actor=acting_user(request))


def _parse_days(text: str, field: str) -> list[tuple[dt.date, str]]:
    """Lines of "YYYY-MM-DD name" (the name optional) into (date, name) pairs."""
    days = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        raw, _space, name = line.strip().partition(" ")
        try:
            day = dt.date.fromisoformat(raw)
        except ValueError as exc:
            message = _("Line %(n)d: a date as YYYY-MM-DD, then the name.") % {"n": number}
            raise forms.ValidationError({field: message}) from exc
        days.append((day, name.strip()))
    return days


def _next_unpublished_year() -> int:
    year = clock.now().year
    while calendar.year_is_official(year) and year < 2100:
        year += 1
    return year


class PublishYearForm(forms.ModelForm):
    holidays = forms.CharField(
        label=_("Holidays"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 14, "cols": 40}),
        help_text=_(
            "One date per line, then its name: 2027-02-05 春节. Pre-filled with the year's statutory holidays; "
            "add the bridge days of the State Council's notice."
        ),
    )
    working_days = forms.CharField(
        label=_("Make-up working days (调休)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "cols": 40}),
        help_text=_("Weekend days that are working days, one per line: 2027-02-20 春节调休."),
    )

    class Meta:
        model = CalendarYear
        fields = ["year", "note"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        data["holidays"] = _parse_days(data.get("holidays") or "", "holidays")
        data["working_days"] = _parse_days(data.get("working_days") or "", "working_days")
        return data


@admin.register(CalendarYear)
class CalendarYearAdmin(ActionAdmin):
    """Publishing a year makes its schedule official: weekdays work except the holidays entered with it, and its
    make-up days work. Every open provisional deadline is recomputed on it (never earlier)."""

    list_display = ["year", "note", "published_at"]
    form = PublishYearForm

    def get_fields(self, request: HttpRequest, obj: CalendarYear | None = None) -> Any:
        # Holidays and make-up days of a published year are calendar days; they are edited there.
        return ["year", "note"] if obj is not None else ["year", "note", "holidays", "working_days"]

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        year = _next_unpublished_year()
        initial: dict[str, Any] = {"year": year}
        if provisional.covers(year):
            initial["holidays"] = "\n".join(
                f"{day.isoformat()} {provisional.holiday_name(day)}" for day in provisional.statutory_holidays(year)
            )
        return initial

    def save_model(self, request: HttpRequest, obj: CalendarYear, form: Any, change: bool) -> None:
        published = do_publish_calendar_year(
            obj.year,
            holidays=form.cleaned_data.get("holidays", []) if not change else [],
            working_days=form.cleaned_data.get("working_days", []) if not change else [],
            note=obj.note,
            actor=acting_user(request),
        )
        obj.pk = published.row.pk
        done = published.recomputed
        self.message_user(
            request,
            _(
                "Published %(year)d: %(recomputed)d open deadlines recomputed, %(moved)d moved later, "
                "%(kept)d kept as announced."
            )
            % {"year": obj.year, "recomputed": done.recomputed, "moved": done.moved, "kept": done.kept},
            messages.SUCCESS,
        )

    def delete_model(self, request: HttpRequest, obj: CalendarYear) -> None:
        do_unpublish_calendar_year(obj.year, actor=acting_user(request))


@admin.register(WorkingPeriod)
class WorkingPeriodAdmin(ActionAdmin):
    """Office hours; none at all switches working hours off."""

    list_display = ["start", "end"]

    def _replace(self, request: HttpRequest, periods: list[tuple[Any, Any]]) -> None:
        do_set_working_periods(
            [(s.strftime("%H:%M"), e.strftime("%H:%M")) for s, e in periods], actor=acting_user(request)
        )

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
            actor=acting_user(request), policy_id=obj.pk if change else None, **_policy_fields(form.cleaned_data)
        )
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: SlaPolicy) -> None:
        do_delete_sla_policy(obj.pk, actor=acting_user(request))


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
