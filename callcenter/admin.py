from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from callcenter import actions
from callcenter.models import AppealType, KnowledgeArticle, Subject
from core import clock


@admin.register(AppealType)
class AppealTypeAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "name_en", "sort_order"]


@admin.register(Subject)
class SubjectAdmin(admin.ModelAdmin):
    list_display = ["code", "path", "is_leaf", "default_agency_function", "active"]
    list_filter = ["is_leaf", "default_agency_function", "active"]
    search_fields = ["code", "name", "path"]
    readonly_fields = ["path", "is_leaf"]

    def save_model(self, request: HttpRequest, obj: Subject, form: Any, change: bool) -> None:
        actions.do_save_subject(obj)


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
