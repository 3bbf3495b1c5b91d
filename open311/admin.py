"""Open311 submissions waiting behind a token, read-only: what the intake worker did with each (its intake data,
which holds the caller's details, is not shown)."""

from django.contrib import admin

from core.admin import ReadOnlyAdmin
from open311.models import Submission


@admin.register(Submission)
class SubmissionAdmin(ReadOnlyAdmin):
    list_display = ["token", "state", "submitted_by", "ticket", "created_at", "processed_at"]
    list_filter = ["state"]
    fields = ("token", "state", "submitted_by", "jurisdiction_id", "ticket", "error", "created_at", "processed_at")
    readonly_fields = (
        "token",
        "state",
        "submitted_by",
        "jurisdiction_id",
        "ticket",
        "error",
        "created_at",
        "processed_at",
    )
