from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from callcenter import actions
from callcenter.models import KnowledgeArticle, Phrase, TicketPlacement
from callcenter.phrases.actions import check_save_phrase, do_save_phrase
from core import clock
from core.admin import ReadOnlyAdmin
from core.errors import InvalidInput
from organisation.policy import acting_user


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


class PhraseAdminForm(forms.ModelForm):
    class Meta:
        model = Phrase
        fields = ["kind", "subject", "title", "body", "sort_order", "active"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        try:
            check_save_phrase(phrase_data(data))
        except InvalidInput as problem:
            for name, messages in problem.fields.items():
                if name in self.fields and name not in self.errors:
                    self.add_error(name, messages)
        return data


def phrase_data(cleaned: dict[str, Any]) -> dict[str, Any]:
    subject = cleaned.get("subject")
    return {
        "kind": cleaned.get("kind"),
        "subject": subject.code if subject else None,
        "title": cleaned.get("title") or "",
        "body": cleaned.get("body") or "",
        "sort_order": cleaned.get("sort_order") or 0,
        "active": bool(cleaned.get("active")),
    }


@admin.register(Phrase)
class PhraseAdmin(admin.ModelAdmin):
    """Canned phrases; saved through callcenter/phrases/actions.py (audited, announced). Never deleted:
    deactivate instead (tickets' texts may have come from them)."""

    form = PhraseAdminForm
    list_display = ["title", "kind", "subject", "sort_order", "active", "updated_by", "updated_at"]
    list_filter = ["kind", "active"]
    search_fields = ["title", "body", "subject__name", "subject__code"]
    autocomplete_fields = ["subject"]
    readonly_fields = ["updated_by", "updated_at"]

    def has_delete_permission(self, request: HttpRequest, obj: Phrase | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Phrase, form: Any, change: bool) -> None:
        actor = acting_user(request)
        if actor is None:
            raise PermissionDenied
        saved = do_save_phrase(phrase_data(form.cleaned_data), actor=actor, phrase_id=obj.pk if change else None)
        obj.pk = saved.pk
