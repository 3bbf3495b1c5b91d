"""The archive register in the admin: read only (records are written by archive/actions.py)."""

from __future__ import annotations

from django.contrib import admin

from archive.models import ArchiveRecord
from core.admin import ReadOnlyAdmin


@admin.register(ArchiveRecord)
class ArchiveRecordAdmin(ReadOnlyAdmin):
    list_display = ("package_name", "state", "category", "closed_at", "retention_until", "transferred_at")
    list_filter = ("state", "category")
    search_fields = ("package_name",)
    date_hierarchy = "closed_at"
    readonly_fields = (
        "package_name",
        "state",
        "category",
        "retention_years",
        "retention_until",
        "closed_at",
        "delivery_id",
        "destination",
        "queued_at",
        "queued_by",
        "transferred_at",
        "package_sha256",
        "payload_oxum",
    )
    exclude = ("ticket", "incident")
