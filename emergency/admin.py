"""Admin of the emergency app: incidents and their timelines read-only (they change only through the
workflow), the transfer item lists editable through their action. The units helper registers its
models in units_admin.py or with a small edit here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from core.admin import ReadOnlyAdmin
from emergency.actions.transfer import do_save_transfer_rule
from emergency.models import Incident, IncidentAgency, IncidentTimelineEntry, Transfer, TransferRule


class IncidentAgencyInline(admin.TabularInline):
    model = IncidentAgency
    extra = 0
    can_delete = False
    fields = ("agency", "task", "status", "people_count", "contact_name", "notified_at", "finished_at")
    readonly_fields = ("agency", "task", "status", "people_count", "contact_name", "notified_at", "finished_at")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Incident)
class IncidentAdmin(ReadOnlyAdmin):
    list_display = ["number", "type", "level", "state", "title", "district_name", "public_alert", "reported_at"]
    list_filter = ["state", "level", "type", "public_alert"]
    search_fields = ["number", "title", "address"]
    inlines = [IncidentAgencyInline]


@admin.register(IncidentTimelineEntry)
class IncidentTimelineEntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "incident", "machine", "action", "from_state", "to_state", "actor", "created_at"]
    list_filter = ["machine", "action"]
    search_fields = ["incident__number"]


@admin.register(Transfer)
class TransferAdmin(ReadOnlyAdmin):
    list_display = ["id", "ticket", "line", "direction", "item", "override_reason", "incident", "created_at"]
    list_filter = ["line", "direction"]
    search_fields = ["ticket__number", "incident__number"]


@admin.register(TransferRule)
class TransferRuleAdmin(admin.ModelAdmin):
    """The agreed item lists (which subjects go to 110/119/120/122): data the centre maintains."""

    list_display = ["line", "subject", "item", "incident_type", "active", "sort_order"]
    list_filter = ["line", "active"]
    search_fields = ["item", "subject__code", "subject__name"]
    autocomplete_fields = ["subject"]

    def save_model(self, request: HttpRequest, obj: TransferRule, form: Any, change: bool) -> None:
        do_save_transfer_rule(obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Transfers reference their list entry: deactivate instead.
        return False
