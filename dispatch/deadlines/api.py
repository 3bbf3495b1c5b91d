"""REST API of the working calendar, SLA policies and the timers of a work order.

Everyone signed in may read the calendar and the policies (agencies plan by them); only administrators
change them. The timers of a work order follow the work order's visibility: another agency's is a 404.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import chinese_calendar
from django.db.models import Prefetch
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import InvalidInput, NotAllowed, NotFound
from core.parsing import validated
from dispatch.deadlines import calendar, provisional
from dispatch.deadlines.actions import (
    SLA_POLICY_FIELDS,
    do_delete_calendar_day,
    do_delete_sla_policy,
    do_publish_calendar_year,
    do_save_calendar_day,
    do_save_sla_policy,
    do_set_working_periods,
    do_unpublish_calendar_year,
)
from dispatch.models import (
    CalendarDay,
    CalendarYear,
    Escalation,
    EscalationLevel,
    SlaPolicy,
    StageClock,
    Timer,
    WorkOrder,
)
from organisation.models import Role, User
from organisation.policy import current_user

LEVEL_RANK = {EscalationLevel.WARNING: 1, EscalationLevel.OVERDUE: 2, EscalationLevel.SERIOUS: 3}


def require_admin(user: User) -> None:
    if not user.has_role(Role.ADMIN):
        raise NotAllowed(_("Only administrators may change the working calendar and SLA policies."))


# --- calendar --------------------------------------------------------------------------------------


class CalendarDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    is_working_day = serializers.BooleanField()
    name = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")


class CalendarDayOutput(CalendarDaySerializer):
    # "source" is also an attribute of DRF fields in the type stubs, hence the ignore.
    source = serializers.ChoiceField(choices=["official", "provisional", "database"])  # type: ignore[assignment]


class CalendarYearOutput(serializers.Serializer):
    year = serializers.IntegerField()
    known = serializers.BooleanField(help_text="The year's schedule is official (chinesecalendar or published).")
    provisional = serializers.BooleanField(
        help_text="Deadlines touching this year run on the provisional calendar (weekends and statutory holidays) "
        "and are marked provisional until the year is published."
    )
    published_in_database = serializers.BooleanField()
    days = CalendarDayOutput(many=True, help_text="Holidays and make-up working days; other days follow the week.")


def year_days(year: int) -> dict[str, Any]:
    """Every day of a year that differs from the plain week (holidays, make-up working weekends)."""
    official = calendar.year_is_official(year)
    days: dict[dt.date, dict[str, Any]] = {}
    day = dt.date(year, 1, 1)
    try:
        while day.year == year:
            working = bool(chinese_calendar.is_workday(day))
            if working != (day.weekday() < 5):
                _holiday, name = chinese_calendar.get_holiday_detail(day)
                name = _(str(name)) if name else ""  # chinesecalendar's English names, translated
                days[day] = {"date": day, "is_working_day": working, "name": name, "source": "official"}
            day += dt.timedelta(days=1)
    except NotImplementedError:
        days = {}
        if year not in calendar.data().published_years and provisional.covers(year):
            for holiday in provisional.statutory_holidays(year):
                if holiday.weekday() < 5:
                    name = provisional.holiday_name(holiday)
                    days[holiday] = {"date": holiday, "is_working_day": False, "name": name, "source": "provisional"}
    for row in CalendarDay.objects.filter(date__year=year):
        days[row.date] = {
            "date": row.date,
            "is_working_day": row.is_working_day,
            "name": row.name,
            "source": "database",
        }
    return {
        "year": year,
        "known": official,
        "provisional": not official and provisional.covers(year),
        "published_in_database": CalendarYear.objects.filter(year=year).exists(),
        "days": [days[d] for d in sorted(days)],
    }


def _year_param(request: Request) -> int:
    raw = request.query_params.get("year") or str(dt.date.today().year)
    if not raw.isdigit() or not 2000 <= int(raw) <= 2100:
        raise InvalidInput(_("Some fields are not valid."), fields={"year": [_("A year between 2000 and 2100.")]})
    return int(raw)


class CalendarDaysView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("year", int, description="Default: this year")],
        responses=CalendarYearOutput,
        summary="The working calendar of a year: holidays and make-up days, official and overridden",
    )
    def get(self, request: Request) -> Response:
        current_user(request)
        return Response(CalendarYearOutput(year_days(_year_param(request))).data)

    @extend_schema(request=CalendarDaySerializer, responses={201: CalendarDaySerializer}, summary="Override a day")
    def post(self, request: Request) -> Response:
        require_admin(current_user(request))
        data = validated(CalendarDaySerializer, request)
        row = do_save_calendar_day(
            data["date"], is_working_day=data["is_working_day"], name=data["name"], actor=current_user(request)
        )
        return Response(CalendarDaySerializer(row).data, status=201)


class DayPath(serializers.Serializer):
    date = serializers.DateField()


class CalendarDayView(APIView):
    def _date(self, value: str) -> dt.date:
        serializer = DayPath(data={"date": value})
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)["date"]

    @extend_schema(request=CalendarDaySerializer, responses=CalendarDaySerializer, summary="Change an override")
    def put(self, request: Request, date: str) -> Response:
        require_admin(current_user(request))
        day = self._date(date)
        data = validated(CalendarDaySerializer, request)
        if data["date"] != day:
            raise InvalidInput(_("Some fields are not valid."), fields={"date": [_("Must match the address.")]})
        row = do_save_calendar_day(day, is_working_day=data["is_working_day"], name=data["name"])
        return Response(CalendarDaySerializer(row).data)

    @extend_schema(responses={204: None}, summary="Drop an override")
    def delete(self, request: Request, date: str) -> Response:
        require_admin(current_user(request))
        do_delete_calendar_day(self._date(date), actor=current_user(request))
        return Response(status=204)


class NamedDay(serializers.Serializer):
    date = serializers.DateField()
    name = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")


class PublishYearInput(serializers.Serializer):
    year = serializers.IntegerField(min_value=2000, max_value=2100)
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    holidays = NamedDay(many=True, required=False, default=list)
    working_days = NamedDay(many=True, required=False, default=list, help_text="Make-up working days (调休)")


class RecomputedOutput(serializers.Serializer):
    recomputed = serializers.IntegerField(help_text="Open deadlines computed again")
    moved = serializers.IntegerField(help_text="Replaced by a later official deadline (or given a first one)")
    kept = serializers.IntegerField(help_text="Kept as announced: the official one is not later, or it has passed")


class PublishedYearOutput(CalendarYearOutput):
    recomputed = RecomputedOutput()


class CalendarYearsView(APIView):
    @extend_schema(
        responses={200: {"type": "array", "items": {"type": "object", "additionalProperties": True}}},
        summary="Years published in the database",
    )
    def get(self, request: Request) -> Response:
        current_user(request)
        return Response(list(CalendarYear.objects.values("year", "note", "published_at")))

    @extend_schema(
        request=PublishYearInput,
        responses={201: PublishedYearOutput},
        summary="Publish a whole year; its open provisional deadlines are recomputed (never earlier)",
    )
    def post(self, request: Request) -> Response:
        require_admin(current_user(request))
        data = validated(PublishYearInput, request)
        published = do_publish_calendar_year(
            data["year"],
            holidays=[(d["date"], d["name"]) for d in data["holidays"]],
            working_days=[(d["date"], d["name"]) for d in data["working_days"]],
            note=data["note"],
            actor=current_user(request),
        )
        done = published.recomputed
        body = {
            **CalendarYearOutput(year_days(data["year"])).data,
            "recomputed": {"recomputed": done.recomputed, "moved": done.moved, "kept": done.kept},
        }
        return Response(PublishedYearOutput(body).data, status=201)


class CalendarYearView(APIView):
    @extend_schema(responses={204: None}, summary="Withdraw a published year")
    def delete(self, request: Request, year: int) -> Response:
        require_admin(current_user(request))
        do_unpublish_calendar_year(int(year), actor=current_user(request))
        return Response(status=204)


class WorkingHoursSerializer(serializers.Serializer):
    periods = serializers.ListField(
        child=serializers.ListField(child=serializers.CharField(max_length=5), min_length=2, max_length=2),
        help_text='e.g. [["08:30", "12:00"], ["14:30", "18:00"]]; empty: working hours off',
    )


class WorkingHoursView(APIView):
    @extend_schema(responses=WorkingHoursSerializer, summary="Office hours used for working-hour limits")
    def get(self, request: Request) -> Response:
        current_user(request)
        periods = [
            [start.strftime("%H:%M"), end.strftime("%H:%M") if end else "24:00"]
            for start, end in calendar.working_periods()
        ]
        return Response({"periods": periods})

    @extend_schema(request=WorkingHoursSerializer, responses=WorkingHoursSerializer, summary="Set the office hours")
    def put(self, request: Request) -> Response:
        require_admin(current_user(request))
        data = validated(WorkingHoursSerializer, request)
        do_set_working_periods(data["periods"], actor=current_user(request))
        calendar.invalidate()
        return self.get(request)


# --- SLA policies ----------------------------------------------------------------------------------


class SlaPolicySerializer(serializers.ModelSerializer):
    class Meta:
        model = SlaPolicy
        fields = ["id", *SLA_POLICY_FIELDS, "updated_at"]
        read_only_fields = ["id", "updated_at"]
        extra_kwargs = {"urgency": {"help_text": "normal, urgent, emergency; empty: any"}}


def _policy_fields(request: Request) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise InvalidInput(_("The request body must be a JSON object."), fields={"body": [_("Expected an object.")]})
    unknown = sorted(set(request.data) - set(SLA_POLICY_FIELDS))
    if unknown:
        raise InvalidInput(_("Some fields are not valid."), fields={name: [_("Unknown field.")] for name in unknown})
    fields = dict(request.data)
    for key in ("appeal_type", "subject"):
        if key in fields:
            fields[f"{key}_id"] = fields.pop(key)
    return fields


class SlaPoliciesView(APIView):
    @extend_schema(responses=SlaPolicySerializer(many=True), summary="SLA policies (time limits per key)")
    def get(self, request: Request) -> Response:
        current_user(request)
        return Response(SlaPolicySerializer(SlaPolicy.objects.order_by("id"), many=True).data)

    @extend_schema(request=SlaPolicySerializer, responses={201: SlaPolicySerializer}, summary="Create a policy")
    def post(self, request: Request) -> Response:
        require_admin(current_user(request))
        policy = do_save_sla_policy(actor=current_user(request), **_policy_fields(request))
        return Response(SlaPolicySerializer(policy).data, status=201)


class SlaPolicyView(APIView):
    @extend_schema(responses=SlaPolicySerializer)
    def get(self, request: Request, pk: int) -> Response:
        current_user(request)
        policy = SlaPolicy.objects.filter(pk=pk).first()
        if policy is None:
            raise NotFound(_("No such SLA policy."))
        return Response(SlaPolicySerializer(policy).data)

    @extend_schema(request=SlaPolicySerializer, responses=SlaPolicySerializer, summary="Replace a policy")
    def put(self, request: Request, pk: int) -> Response:
        require_admin(current_user(request))
        policy = do_save_sla_policy(actor=current_user(request), policy_id=int(pk), **_policy_fields(request))
        return Response(SlaPolicySerializer(policy).data)

    @extend_schema(responses={204: None}, summary="Delete a policy (deadlines already set stay)")
    def delete(self, request: Request, pk: int) -> Response:
        require_admin(current_user(request))
        do_delete_sla_policy(int(pk), actor=current_user(request))
        return Response(status=204)


# --- timers of a work order ------------------------------------------------------------------------


class TimerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Timer
        fields = ["level", "fire_at", "done_at", "outcome"]


class EscalationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Escalation
        fields = ["id", "level", "stage", "due_at", "fired_at", "supervision_case"]


class ClockTimersSerializer(serializers.ModelSerializer):
    timers = TimerSerializer(many=True, read_only=True)
    escalations = EscalationSerializer(many=True, read_only=True)

    class Meta:
        model = StageClock
        fields = [
            "id",
            "stage",
            "started_at",
            "time_limit",
            "policy",
            "warn_at",
            "due_at",
            "due_error",
            "due_provisional",
            "stopped_at",
            "stopped_by",
            "timers",
            "escalations",
        ]


class WorkOrderTimersSerializer(serializers.Serializer):
    work_order = serializers.IntegerField()
    escalation_level = serializers.CharField(allow_null=True, help_text="Highest level of a running clock")
    clocks = ClockTimersSerializer(many=True)


def escalation_level(levels: list[str]) -> str | None:
    """The highest of the given levels (warning < overdue < serious), or None."""
    return max(levels, key=lambda level: LEVEL_RANK.get(EscalationLevel(level), 0), default=None)


def work_order_timers(work_order: WorkOrder) -> dict[str, Any]:
    clocks = list(
        StageClock.objects.filter(work_order=work_order)
        .order_by("id")
        .prefetch_related(
            Prefetch("timers", queryset=Timer.objects.order_by("fire_at", "id")),
            Prefetch("escalations", queryset=Escalation.objects.order_by("id")),
        )
    )
    running_levels = [e.level for c in clocks if c.stopped_at is None for e in c.escalations.all()]
    return {"work_order": work_order.pk, "escalation_level": escalation_level(running_levels), "clocks": clocks}
