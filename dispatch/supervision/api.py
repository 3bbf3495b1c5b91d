"""REST API of the e-supervision board: KPIs and their drill-down, ranking, trend, the live lists,
and CSV/XLSX exports of each table.

Who may read: supervisors, auditors and administrators. Agency staff may not, not even for their own
agency: the board compares agencies and its drill-down is the centre's view (docs/KPIS.md says why).
Staff of one city read that city's board (dispatch/supervision/scope.py); another city's agency named as a
filter answers 404 like any foreign object.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db.models import Count
from django.http import HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, serializers
from rest_framework.exceptions import NotFound
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core import clock
from core.clock import local_zone
from core.parsing import IdField
from dispatch.supervision import board, kpis, tables
from dispatch.supervision.exports import Table, to_csv, to_xlsx
from dispatch.supervision.scope import CityScope
from organisation.models import Agency, Role
from organisation.policy import city_scope, current_user

READER_ROLES = (Role.SUPERVISOR, Role.AUDITOR, Role.COMMANDER, Role.ADMIN)
MAX_PERIOD_DAYS = 366
DEFAULT_PERIOD_DAYS = 30


def default_min_volume() -> int:
    return int(settings.HOTLINE.get("SUPERVISION_MIN_VOLUME", 10))


class IsSupervisionReader(permissions.BasePermission):
    message = gettext_lazy("Only supervisors, auditors and administrators may read the supervision board.")

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_role(*READER_ROLES))  # type: ignore[union-attr]


# --- query parameters --------------------------------------------------------------------------------


def viewer_city(request: Request) -> CityScope:
    """The city whose board the viewer reads (every city for staff named to none)."""
    return CityScope.of(city_scope(current_user(request)))


def agency_exists(agency_id: int, city: CityScope) -> bool:
    """Whether the agency exists (one query); another city's raises NotFound: a foreign object (404)."""
    agencies = Agency.objects.filter(pk=agency_id)
    if city.every_city:
        return agencies.exists()
    found = agencies.aggregate(known=Count("pk"), mine=Count("pk", filter=city.q("city")))
    if found["known"] and not found["mine"]:
        raise NotFound()
    return bool(found["known"])


class PeriodQuery(serializers.Serializer):
    """``from`` and ``to`` are local (Asia/Shanghai) dates; ``to`` is exclusive."""

    to = serializers.DateField(required=False)
    agency = IdField(required=False)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = serializers.DateField(required=False)
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        today = clock.now().astimezone(local_zone()).date()
        end = attrs.get("to") or today + dt.timedelta(days=1)
        start = attrs.get("from") or end - dt.timedelta(days=DEFAULT_PERIOD_DAYS)
        if start >= end:
            raise serializers.ValidationError({"to": [_("Must be later than 'from'.")]})
        if (end - start).days > MAX_PERIOD_DAYS:
            raise serializers.ValidationError(
                {"to": [_("A period is at most %(days)d days.") % {"days": MAX_PERIOD_DAYS}]}
            )
        agency_id = attrs.get("agency")
        if agency_id is not None and not agency_exists(agency_id, self.context["city"]):
            raise serializers.ValidationError({"agency": [_("Unknown agency.")]})
        attrs["period"] = kpis.Period(start, end)
        return attrs


class KpiQuery(PeriodQuery):
    min_volume = serializers.IntegerField(required=False, min_value=0, max_value=1_000_000)
    by = serializers.ChoiceField(choices=kpis.RANKING_KEYS, required=False)


class DrilldownQuery(PeriodQuery):
    metric = serializers.ChoiceField(choices=[m.code for m in kpis.METRICS])
    part = serializers.ChoiceField(choices=["numerator", "denominator"], required=False, default="numerator")


class EscalationQuery(serializers.Serializer):
    agency = IdField(required=False)

    def validate_agency(self, value: int) -> int:
        if not agency_exists(value, self.context["city"]):
            raise serializers.ValidationError(_("Unknown agency."))
        return value


def parse(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    """The validated query, with ``city``: the viewer's (a CityScope) that every read below is narrowed to."""
    city = viewer_city(request)
    serializer = serializer_class(data=request.query_params.dict(), context={"city": city})
    serializer.is_valid(raise_exception=True)
    return {**serializer.validated_data, "city": city}


PERIOD_PARAMETERS = [
    OpenApiParameter("from", OpenApiTypes.DATE, description="First local date (Asia/Shanghai), default 30 days ago"),
    OpenApiParameter("to", OpenApiTypes.DATE, description="Local date after the last one (exclusive), default today+1"),
    OpenApiParameter("agency", OpenApiTypes.INT, description="Only this agency (its id)"),
]
RANKING_PARAMETERS = [
    OpenApiParameter("min_volume", OpenApiTypes.INT, description="Agencies with fewer work orders are not ranked"),
    OpenApiParameter("by", OpenApiTypes.STR, enum=list(kpis.RANKING_KEYS), description="Rank by this rate first"),
]
DRILLDOWN_PARAMETERS = [
    OpenApiParameter("metric", OpenApiTypes.STR, enum=[m.code for m in kpis.METRICS], required=True),
    OpenApiParameter("part", OpenApiTypes.STR, enum=["numerator", "denominator"], description="Default numerator"),
]


def period_body(period: kpis.Period, as_of: dt.datetime) -> dict[str, Any]:
    return {"from": period.start, "to": period.end, "as_of": as_of}


def metric_catalogue() -> list[dict[str, Any]]:
    return [{"code": m.code, "label": str(m.label), "kind": m.kind, "unit": m.unit} for m in kpis.METRICS]


# --- the data each endpoint and its export share -----------------------------------------------------


def _kpi_rows(query: dict[str, Any], as_of: dt.datetime) -> list[kpis.AgencyKpis]:
    agency = query.get("agency")
    return kpis.agency_kpis(query["period"], as_of=as_of, agency_ids=[agency] if agency else None, city=query["city"])


def _ranking(query: dict[str, Any], as_of: dt.datetime) -> dict[str, Any]:
    min_volume = query.get("min_volume")
    min_volume = default_min_volume() if min_volume is None else min_volume
    by = query.get("by") or kpis.RANKING_KEYS[0]
    rows = kpis.agency_kpis(query["period"], as_of=as_of, city=query["city"])
    excluded = [
        {"id": r.agency_id, "code": r.agency_code, "name": r.agency_name, "volume": r.volume}
        for r in rows
        if r.volume < min_volume
    ]
    return {
        "min_volume": min_volume,
        "by": by,
        "ranking": kpis.ranking(rows, min_volume=min_volume, by=by),
        "excluded": excluded,
    }


def _drilldown(query: dict[str, Any], as_of: dt.datetime) -> dict[str, Any]:
    metric = kpis.METRICS_BY_CODE[query["metric"]]
    items = kpis.drilldown(
        metric.code, query["part"], query["period"], as_of=as_of, agency_id=query.get("agency"), city=query["city"]
    )
    return {
        "metric": metric.code,
        "label": str(metric.label),
        "unit": metric.unit,
        "part": query["part"],
        "agency": query.get("agency"),
        "count": len(items),
        "items": items,
    }


def _trend(query: dict[str, Any], as_of: dt.datetime) -> list[dict[str, Any]]:
    return kpis.daily_trend(query["period"], as_of=as_of, agency_id=query.get("agency"), city=query["city"])


def _lists(query: dict[str, Any]) -> dict[str, Any]:
    return board.board_lists(agency_id=query.get("agency"), city=query["city"])


class SupervisionView(APIView):
    permission_classes = [permissions.IsAuthenticated, IsSupervisionReader]


class KpiView(SupervisionView):
    @extend_schema(
        parameters=[*PERIOD_PARAMETERS, *RANKING_PARAMETERS],
        responses={200: OpenApiTypes.OBJECT},
        summary="Agency KPIs over a period, each as numerator/denominator/value, with the ranking",
    )
    def get(self, request: Request) -> Response:
        query = parse(KpiQuery, request)
        as_of = clock.now()
        rows = _kpi_rows(query, as_of)
        ranked = _ranking(query, as_of) if query.get("agency") is None else None
        return Response(
            {
                "period": period_body(query["period"], as_of),
                "metrics": metric_catalogue(),
                "agencies": [row.as_dict() for row in rows],
                "ranking": ranked,
            }
        )


class DrilldownView(SupervisionView):
    @extend_schema(
        parameters=[*PERIOD_PARAMETERS, *DRILLDOWN_PARAMETERS],
        responses={200: OpenApiTypes.OBJECT},
        summary="The exact work orders or tickets counted in one part of one KPI",
    )
    def get(self, request: Request) -> Response:
        query = parse(DrilldownQuery, request)
        as_of = clock.now()
        return Response({"period": period_body(query["period"], as_of), **_drilldown(query, as_of)})


class RankingView(SupervisionView):
    @extend_schema(
        parameters=[*PERIOD_PARAMETERS[:2], *RANKING_PARAMETERS],
        responses={200: OpenApiTypes.OBJECT},
        summary="Agencies ranked, leaving out those below the minimum volume",
    )
    def get(self, request: Request) -> Response:
        query = parse(KpiQuery, request)
        query.pop("agency", None)
        as_of = clock.now()
        return Response({"period": period_body(query["period"], as_of), **_ranking(query, as_of)})


class TrendView(SupervisionView):
    @extend_schema(
        parameters=PERIOD_PARAMETERS,
        responses={200: OpenApiTypes.OBJECT},
        summary="Daily on-time sign and completion rates by dispatch day",
    )
    def get(self, request: Request) -> Response:
        query = parse(PeriodQuery, request)
        as_of = clock.now()
        days = _trend(query, as_of)
        return Response({"period": period_body(query["period"], as_of), "days": days})


class EscalationsView(SupervisionView):
    @extend_schema(
        parameters=[OpenApiParameter("agency", OpenApiTypes.INT, description="Only this agency (its id)")],
        responses={200: OpenApiTypes.OBJECT},
        summary="Live red and yellow cards and warnings, open supervision cases, the reprimand list",
    )
    def get(self, request: Request) -> Response:
        query = parse(EscalationQuery, request)
        return Response({"as_of": clock.now(), **_lists(query)})


# --- exports -----------------------------------------------------------------------------------------

EXPORT_TABLES = ("kpis", "ranking", "escalations", "cases", "reprimands", "drilldown", "trend")
EXPORT_FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class FirstRenderer(BaseContentNegotiation):
    """Exports answer a file whatever the Accept header says (errors are still JSON)."""

    def select_parser(self, request: Request, parsers: Any) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(self, request: Request, renderers: Any, format_suffix: str | None = None) -> Any:
        return renderers[0], renderers[0].media_type


def export_table(name: str, request: Request) -> Table:
    as_of = clock.now()
    if name == "kpis":
        return tables.kpi_table(_kpi_rows(parse(KpiQuery, request), as_of))
    if name == "ranking":
        query = parse(KpiQuery, request)
        return tables.ranking_table(_ranking(query, as_of)["ranking"])
    if name == "trend":
        query = parse(PeriodQuery, request)
        return tables.trend_table(_trend(query, as_of))
    if name == "drilldown":
        query = parse(DrilldownQuery, request)
        return tables.drilldown_table(query["metric"], query["part"], _drilldown(query, as_of)["items"])
    query = parse(EscalationQuery, request)
    agency_id, city = query.get("agency"), query["city"]
    if name == "cases":
        return tables.cases_table(board.open_cases(agency_id=agency_id, city=city))
    if name == "reprimands":
        return tables.reprimands_table(board.reprimand_list(agency_id=agency_id, city=city))
    return tables.escalation_table(_lists(query))


class ExportView(SupervisionView):
    content_negotiation_class = FirstRenderer

    @extend_schema(
        parameters=[
            OpenApiParameter("table", OpenApiTypes.STR, OpenApiParameter.PATH, enum=list(EXPORT_TABLES)),
            OpenApiParameter("extension", OpenApiTypes.STR, OpenApiParameter.PATH, enum=list(EXPORT_FORMATS)),
            *PERIOD_PARAMETERS,
            *RANKING_PARAMETERS,
            OpenApiParameter(
                "metric",
                OpenApiTypes.STR,
                enum=[m.code for m in kpis.METRICS],
                description="Only for the drilldown table",
            ),
            DRILLDOWN_PARAMETERS[1],
        ],
        responses={(200, "text/csv"): OpenApiTypes.BINARY, (200, EXPORT_FORMATS["xlsx"]): OpenApiTypes.BINARY},
        summary="One table of the board as CSV (UTF-8 with BOM) or XLSX, headers in the request's language",
    )
    def get(self, request: Request, table: str, extension: str) -> HttpResponse:
        built = export_table(table, request)
        body = to_csv(built) if extension == "csv" else to_xlsx(built)
        response = HttpResponse(body, content_type=EXPORT_FORMATS[extension])
        stamp = clock.now().astimezone(local_zone()).strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="supervision-{table}-{stamp}.{extension}"'
        return response
