from django.contrib import admin

from core.admin import ReadOnlyAdmin
from dispatch.models import TimelineEntry


@admin.register(TimelineEntry)
class TimelineEntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "ticket", "work_order", "action", "from_state", "to_state", "actor", "created_at"]
    list_filter = ["machine", "action"]
    search_fields = ["ticket__number"]


# The calendar, SLA and escalation pages of the deadlines sub-package (Django looks for admin.py per app only).
from dispatch.deadlines import admin as _deadlines_admin  # noqa: E402, F401
