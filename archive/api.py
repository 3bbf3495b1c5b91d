"""The records office's API (归档): the archive register and batches of transfers by closing date.

Readers (organisation.policy.may_read_archive) list and read records; administrators (may_run_archive) queue
batches. Anyone else is refused the register and batches (403, as every collection answers a role that may not
use it) and finds no record (404, as every foreign object).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from archive import actions
from archive.models import ArchiveRecord, ArchiveState
from core import clock
from core.errors import InvalidInput, NotAllowed, NotFound
from core.pagination import BoundedLimitOffsetPagination
from organisation.models import User
from organisation.policy import current_user, may_read_archive, may_run_archive


def _reader(request: Request, *, record: bool = False) -> User:
    user = current_user(request)
    if not may_read_archive(user):
        if record:
            raise NotFound(_("No such archive record."))
        raise NotAllowed(_("Your role may not read the archive."))
    return user


def _when(value: Any) -> str | None:
    return value.astimezone(clock.local_zone()).isoformat() if value else None


def record_row(record: ArchiveRecord) -> dict[str, Any]:
    return {
        "id": record.pk,
        "kind": record.kind,
        "package": record.package_name,
        "state": record.state,
        "state_label": str(ArchiveState(record.state).label),
        "category": record.category,
        "retention_years": record.retention_years,
        "retention_until": record.retention_until.isoformat() if record.retention_until else None,
        "closed_at": _when(record.closed_at),
        "queued_at": _when(record.queued_at),
        "transferred_at": _when(record.transferred_at),
        "delivery_id": str(record.delivery_id),
        "package_sha256": record.package_sha256,
        "payload_oxum": record.payload_oxum,
    }


class BatchInput(serializers.Serializer):
    closed_from = serializers.CharField(max_length=10)
    closed_to = serializers.CharField(max_length=10)
    kind = serializers.CharField(max_length=10, required=False, default="all")


class ArchiveRecordListView(APIView):
    @extend_schema(
        operation_id="archive_records_list",
        parameters=[
            OpenApiParameter("closed_from", str, description="YYYY-MM-DD (Asia/Shanghai), included"),
            OpenApiParameter("closed_to", str, description="YYYY-MM-DD (Asia/Shanghai), included"),
            OpenApiParameter("state", str, enum=ArchiveState.values),
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
        ],
        responses={200: dict},
    )
    def get(self, request: Request) -> Response:
        _reader(request)
        records = ArchiveRecord.objects.all()
        closed_from = request.query_params.get("closed_from")
        closed_to = request.query_params.get("closed_to")
        if closed_from or closed_to:
            # One end alone leaves the range open on the other side.
            first, last = actions.check_closing_range(
                closed_from or "1900-01-01", closed_to or "9998-12-31", max_days=None
            )
            start, end = actions.day_range(first, last)
            records = records.filter(closed_at__gte=start, closed_at__lt=end)
        state = request.query_params.get("state")
        if state:
            if state not in ArchiveState.values:
                raise InvalidInput(_("Unknown state."), fields={"state": [_("Unknown state.")]})
            records = records.filter(state=state)
        paginator = BoundedLimitOffsetPagination()
        paginator.default_limit = 100
        page = paginator.paginate_queryset(records.order_by("-closed_at", "-id"), request, view=self) or []
        return paginator.get_paginated_response([record_row(record) for record in page])


class ArchiveRecordView(APIView):
    @extend_schema(operation_id="archive_records_retrieve", responses={200: dict})
    def get(self, request: Request, pk: int) -> Response:
        _reader(request, record=True)
        record = ArchiveRecord.objects.filter(pk=pk).first()
        if record is None:
            raise NotFound(_("No such archive record."))
        return Response(record_row(record))


class ArchiveBatchView(APIView):
    @extend_schema(operation_id="archive_batches_create", request=BatchInput, responses={202: dict})
    def post(self, request: Request) -> Response:
        user = current_user(request)
        if not may_run_archive(user):
            raise NotAllowed(_("Your role may not queue archive transfers."))
        if not isinstance(request.data, dict):
            raise InvalidInput(
                _("The request body must be a JSON object."), fields={"body": [_("Expected an object.")]}
            )
        serializer = BatchInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = actions.do_archive_batch(data["closed_from"], data["closed_to"], kind=data["kind"], actor=user)
        return Response({"tickets": result.tickets, "incidents": result.incidents}, status=status.HTTP_202_ACCEPTED)
