from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from callcenter import actions
from callcenter.models import KnowledgeArticle, TicketPlacement
from core import clock
from core.admin import ReadOnlyAdmin


@admin.register(KnowledgeArticle)
class KnowledgeArticleAdmin(admin.ModelAdmin):
    list_display = ["code", "title", "valid_from", "valid_to", "active", "updated_at"]
    list_filter = ["active"]
    search_fields = ["code", "title", "keywords"]
    filter_horizontal = ["subjects"]
    readonly_fields = ["updated_at"]

    def save_model(self, request: HttpRequest, obj: KnowledgeArticle, form: Any, change: bool) -> None:
        obj.updated_at = clock.now()
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        # The search index follows every edit, including the subject list saved just now.
        actions.reindex_article(form.instance)


@admin.register(TicketPlacement)
class TicketPlacementAdmin(ReadOnlyAdmin):
    list_display = ["ticket", "district_code", "street_code", "grid_code", "near_boundary", "placed_at"]
    list_filter = ["near_boundary"]
    search_fields = ["ticket__number", "district_code", "street_code", "grid_code"]
    list_select_related = ["ticket"]
