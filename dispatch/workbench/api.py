"""REST API of the workbench: the viewer's queues with their counts and rows, ticket search with CSV/XLSX
export, and bulk urge.

    GET  /api/queues/                          counts per queue for the viewer
    GET  /api/queues/<name>/?limit&offset      a queue's rows, by deadline (404 for a queue the viewer lacks)
    GET  /api/search/tickets/?<filters>        search, newest first, paginated (limit/offset)
    GET  /api/search/tickets/export.csv|xlsx   the same search as a file (at most 10,000 rows)
    POST /api/search/bulk-urge/                {"work_order_ids": [...], "note": "..."}: results per id
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core import clock
from core.clock import local_zone
from core.errors import InvalidInput
from core.pagination import BoundedLimitOffsetPagination
from core.parsing import IdField
from dispatch.supervision.api import EXPORT_FORMATS, FirstRenderer
from dispatch.supervision.exports import to_csv, to_xlsx
from dispatch.workbench import actions, exports, queues, rows, search
from organisation.policy import current_user


class RowsPage(BoundedLimitOffsetPagination):
    default_limit = 50
    max_limit = 200


class QueueCountsView(APIView):
    @extend_schema(
        operation_id="queues_counts",
        responses={200: OpenApiTypes.OBJECT},
        summary="The viewer's queues (待办) with the number of rows in each, straight from the database",
    )
    def get(self, request: Request) -> Response:
        user = current_user(request)
        return Response({"as_of": rows.iso(clock.now()), "queues": queues.counts(user)})


class QueueRowsView(APIView):
    @extend_schema(
        operation_id="queues_rows",
        parameters=[
            OpenApiParameter("name", OpenApiTypes.STR, OpenApiParameter.PATH, enum=list(queues.QUEUES_BY_NAME)),
            OpenApiParameter("limit", OpenApiTypes.INT),
            OpenApiParameter("offset", OpenApiTypes.INT),
        ],
        responses={200: OpenApiTypes.OBJECT},
        summary="One queue's rows sorted by the running clock's deadline, each with that clock and its card",
    )
    def get(self, request: Request, name: str) -> Response:
        user = current_user(request)
        queue = queues.queue_for(user, name)
        if queue is None:
            raise NotFound()
        ordered = rows.with_joins(queue.kind, queues.ordered_rows(user, queue.kind, queue.build(user)))
        paginator = RowsPage()
        page = paginator.paginate_queryset(ordered, request, view=self) or []
        response = paginator.get_paginated_response(rows.present(user, queue, page))
        response.data["queue"] = {"name": queue.name, "label": str(queue.label), "kind": queue.kind}
        return response


SEARCH_PARAMETERS = [
    OpenApiParameter("number", OpenApiTypes.STR, description="Exact ticket number"),
    OpenApiParameter("phone", OpenApiTypes.STR, description="Caller's phone number (centre only; 403 for agencies)"),
    OpenApiParameter("text", OpenApiTypes.STR, description="Words, each a substring of title, description or address"),
    OpenApiParameter("subject", OpenApiTypes.STR, description="Subject code (its descendants included)"),
    OpenApiParameter("agency", OpenApiTypes.STR, description="Agency code: tickets with a work order of it"),
    OpenApiParameter("district", OpenApiTypes.STR, description="District code of the ticket's placement"),
    OpenApiParameter("state", OpenApiTypes.STR),
    OpenApiParameter("urgency", OpenApiTypes.STR),
    OpenApiParameter("channel", OpenApiTypes.STR),
    OpenApiParameter("created_since", OpenApiTypes.DATETIME, description="Accepted at or after; with an offset"),
    OpenApiParameter("created_until", OpenApiTypes.DATETIME, description="Accepted at or before; with an offset"),
    OpenApiParameter("overdue", OpenApiTypes.BOOL, description="true: a running clock is past due; false: none is"),
]


class TicketSearchView(APIView):
    @extend_schema(
        parameters=[
            *SEARCH_PARAMETERS,
            OpenApiParameter("limit", OpenApiTypes.INT),
            OpenApiParameter("offset", OpenApiTypes.INT),
        ],
        responses={200: OpenApiTypes.OBJECT},
        summary="Search tickets in the viewer's scope; agencies see callers' numbers masked",
    )
    def get(self, request: Request) -> Response:
        user = current_user(request)
        tickets = search.search_tickets(user, search.parse_query(request.query_params, user))
        paginator = RowsPage()
        page = paginator.paginate_queryset(search.with_row_data(user, tickets), request, view=self) or []
        return paginator.get_paginated_response(search.present(user, page))


class TicketExportView(APIView):
    content_negotiation_class = FirstRenderer

    @extend_schema(
        parameters=[
            OpenApiParameter("extension", OpenApiTypes.STR, OpenApiParameter.PATH, enum=list(EXPORT_FORMATS)),
            *SEARCH_PARAMETERS,
        ],
        responses={(200, "text/csv"): OpenApiTypes.BINARY, (200, EXPORT_FORMATS["xlsx"]): OpenApiTypes.BINARY},
        summary="The search as CSV (UTF-8 with BOM) or XLSX, Chinese headers, at most 10,000 rows with a note",
    )
    def get(self, request: Request, extension: str) -> HttpResponse:
        user = current_user(request)
        tickets = search.search_tickets(user, search.parse_query(request.query_params, user))
        table, total, written = exports.search_table(user, tickets)
        body = to_csv(table) if extension == "csv" else to_xlsx(table)
        response = HttpResponse(body, content_type=EXPORT_FORMATS[extension])
        stamp = clock.now().astimezone(local_zone()).strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="tickets-{stamp}.{extension}"'
        response["X-Total-Count"] = str(total)
        response["X-Exported-Count"] = str(written)
        return response


class BulkUrgeInput(serializers.Serializer):
    work_order_ids = serializers.ListField(child=IdField(), min_length=1, max_length=actions.MAX_BULK)
    note = serializers.CharField(max_length=5000)


class BulkUrgeView(APIView):
    @extend_schema(
        request=BulkUrgeInput,
        responses={200: OpenApiTypes.OBJECT},
        summary="Urge (催办) many work orders: each in its own transaction, as the workflow table allows; "
        "results per id",
    )
    def post(self, request: Request) -> Response:
        data: Any = request.data
        if not isinstance(data, dict):
            message = _("The request body must be a JSON object.")
            raise InvalidInput(message, fields={"body": [_("Expected an object.")]})
        results = actions.do_bulk_urge_work_orders(
            data.get("work_order_ids"), actor=current_user(request), note=data.get("note")
        )
        return Response(
            {
                "results": results,
                "urged": sum(1 for r in results if r["ok"]),
                "refused": sum(1 for r in results if not r["ok"]),
            }
        )
