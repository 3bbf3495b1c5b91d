"""REST API of attachments.

- ``GET/POST /api/tickets/{id}/attachments/``: the ticket's files the viewer may see (centre: all, including its
  work orders' files; an agency: the ticket's own files and its own work orders'); add one (multipart, field
  ``file``, optional ``kind``: intake (default) or other).
- ``GET/POST /api/work-orders/{id}/attachments/``: the work order's files; add one (``kind``: note (default),
  reply or other).
- ``GET /api/attachments/{id}/file/`` and ``/thumbnail/``: the stored bytes, with the stored content type,
  ``X-Content-Type-Options: nosniff``, a sandboxing Content-Security-Policy and a Content-Disposition built by
  Django (images inline, documents as a download).

Anything outside the viewer's scope answers 404 (dispatch/attachments/access.py); anonymous requests 401/403.
"""

from __future__ import annotations

from typing import Any

from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import InvalidInput, NotFound
from dispatch.access import visible_tickets, visible_work_orders
from dispatch.attachments import actions, files
from dispatch.attachments.access import visible_attachments
from dispatch.attachments.models import Attachment, AttachmentKind
from organisation.policy import current_user


class AttachmentSerializer(serializers.ModelSerializer):
    ticket_id = serializers.IntegerField(read_only=True)
    work_order_id = serializers.IntegerField(read_only=True, allow_null=True)
    is_image = serializers.BooleanField(read_only=True)
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    uploaded_by = serializers.SerializerMethodField()
    uploaded_by_agency = serializers.SerializerMethodField()
    file_url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = [
            "id",
            "ticket_id",
            "work_order_id",
            "kind",
            "kind_label",
            "original_name",
            "content_type",
            "size",
            "sha256",
            "is_image",
            "created_at",
            "uploaded_by",
            "uploaded_by_agency",
            "file_url",
            "thumbnail_url",
        ]

    def get_uploaded_by(self, row: Attachment) -> str:
        return row.uploaded_by.get_full_name() or row.uploaded_by.username

    def get_uploaded_by_agency(self, row: Attachment) -> str | None:
        return row.uploaded_by_agency.display_name if row.uploaded_by_agency else None

    def get_file_url(self, row: Attachment) -> str:
        return f"/api/attachments/{row.pk}/file/"

    def get_thumbnail_url(self, row: Attachment) -> str | None:
        return f"/api/attachments/{row.pk}/thumbnail/" if row.thumbnail else None


class AttachmentUploadInput(serializers.Serializer):
    """For the schema only: the action checks the file and the kind (dispatch/attachments/actions.py)."""

    file = serializers.FileField()
    kind = serializers.ChoiceField(choices=AttachmentKind.choices, required=False)


class _SizeLimit(FileUploadHandler):
    """Stops keeping an uploaded file's bytes once it passes the limit (no copy of a huge file on disk)."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.limit = files.max_bytes()
        self.too_big = False
        self._received = 0

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self._received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self._received += len(raw_data)
        if self._received > self.limit:
            self.too_big = True
            raise SkipFile()
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def _rows(queryset: QuerySet[Attachment]) -> Any:
    rows = queryset.select_related("uploaded_by", "uploaded_by_agency").order_by("id")
    return AttachmentSerializer(rows, many=True).data


class _AttachmentsView(APIView):
    parser_classes = [MultiPartParser]

    def initialize_request(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Request:
        # Before anything reads the body (session authentication's CSRF check may): the limit applies while parsing.
        if request.method == "POST":
            request.upload_handlers = [_SizeLimit(request), *request.upload_handlers]
        return super().initialize_request(request, *args, **kwargs)

    def _upload(self, request: Request) -> tuple[Any, Any]:
        uploads = request.FILES.getlist("file")
        handler = next((h for h in request.upload_handlers if isinstance(h, _SizeLimit)), None)
        if handler is not None and handler.too_big:
            raise files.too_big_error()
        if len(uploads) > 1:
            raise InvalidInput(_("Some fields are not valid."), fields={"file": [_("One file per request.")]})
        return (uploads[0] if uploads else None), request.data.get("kind")


class TicketAttachmentsView(_AttachmentsView):
    @extend_schema(responses={200: AttachmentSerializer(many=True)})
    def get(self, request: Request, pk: int) -> Response:
        user = current_user(request)
        if not visible_tickets(user).filter(pk=pk).exists():
            raise NotFound(_("No such ticket."))
        return Response(_rows(visible_attachments(user).filter(ticket_id=pk)))

    @extend_schema(request={"multipart/form-data": AttachmentUploadInput}, responses={201: AttachmentSerializer})
    def post(self, request: Request, pk: int) -> Response:
        user = current_user(request)
        if not visible_tickets(user).filter(pk=pk).exists():
            raise NotFound(_("No such ticket."))
        upload, kind = self._upload(request)
        attachment = actions.do_attach_to_ticket(pk, upload, actor=user, kind=kind)
        return Response(AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)


class WorkOrderAttachmentsView(_AttachmentsView):
    @extend_schema(responses={200: AttachmentSerializer(many=True)})
    def get(self, request: Request, pk: int) -> Response:
        user = current_user(request)
        if not visible_work_orders(user).filter(pk=pk).exists():
            raise NotFound(_("No such work order."))
        return Response(_rows(visible_attachments(user).filter(work_order_id=pk)))

    @extend_schema(request={"multipart/form-data": AttachmentUploadInput}, responses={201: AttachmentSerializer})
    def post(self, request: Request, pk: int) -> Response:
        user = current_user(request)
        if not visible_work_orders(user).filter(pk=pk).exists():
            raise NotFound(_("No such work order."))
        upload, kind = self._upload(request)
        attachment = actions.do_attach_to_work_order(pk, upload, actor=user, kind=kind)
        return Response(AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)


class _AnyAccept(BaseContentNegotiation):
    """Files are sent whatever the client's Accept header says (an <img> asks for image/*); errors are JSON."""

    def select_parser(self, request: Request, parsers: Any) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(self, request: Request, renderers: Any, format_suffix: str | None = None) -> Any:
        return (renderers[0], renderers[0].media_type)


class _FileView(APIView):
    content_negotiation_class = _AnyAccept
    #: "file" or "thumbnail"
    part = "file"

    # Served in the type it is stored in (a HEIC photo is stored as JPEG; thumbnails are JPEG).
    @extend_schema(responses={(200, media): bytes for media in files.KNOWN_TYPES if media != files.HEIC})
    def get(self, request: Request, pk: int) -> FileResponse:
        attachment = visible_attachments(current_user(request)).filter(pk=pk).first()
        stored = getattr(attachment, self.part) if attachment is not None else None
        if attachment is None or not stored:
            raise NotFound(_("No such file."))
        thumbnail = self.part == "thumbnail"
        content_type = files.JPEG if thumbnail else attachment.content_type
        response = FileResponse(
            stored.storage.open(stored.name, "rb"),
            content_type=content_type,
            as_attachment=not attachment.is_image,
            filename=files.download_name(attachment.original_name, content_type),
        )
        response["X-Content-Type-Options"] = "nosniff"
        # Should a browser ever render it as a page, it may run nothing and load nothing.
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        response["Cross-Origin-Resource-Policy"] = "same-origin"
        response["Cache-Control"] = "private, max-age=300"
        if not thumbnail:
            response["ETag"] = f'"{attachment.sha256}"'
        return response


class AttachmentFileView(_FileView):
    part = "file"


class AttachmentThumbnailView(_FileView):
    part = "thumbnail"
