"""The admin pages of API keys (registered from exchange/admin.py): issue a key (shown once, in a message),
revoke or rotate selected keys, read each key's usage log. An agency's administrator given access sees its
own agency's keys only; a key cannot be edited after it is issued (rotate it instead) nor deleted (revoke it:
its usage log stays)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core import clock
from core.admin import ReadOnlyAdmin
from exchange.keys.actions import (
    KeyRequest,
    check_create_key,
    check_revoke_key,
    do_create_key,
    do_revoke_key,
    do_rotate_key,
    may_manage_keys,
    visible_keys,
)
from exchange.keys.scopes import SCOPES
from exchange.models import ApiKey, ApiKeyUse
from organisation.models import Agency, Role, User
from organisation.policy import acting_user


def _scope_choices() -> list[tuple[str, str]]:
    return [(name, f"{name} - {description}") for name, description in SCOPES.items()]


def _default_expiry() -> dt.datetime:
    return timezone.localtime(clock.now() + dt.timedelta(days=90)).replace(microsecond=0)


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        label=gettext_lazy("scopes"), choices=_scope_choices, widget=forms.CheckboxSelectMultiple
    )
    expires_at = forms.DateTimeField(label=gettext_lazy("expires at"), initial=_default_expiry)
    #: The acting user, set per request by ApiKeyAdmin.get_form.
    actor: User | None = None

    class Meta:
        model = ApiKey
        fields = ["name", "agency", "partner", "scopes", "expires_at", "rate"]

    def key_request(self) -> KeyRequest:
        data = self.cleaned_data
        return KeyRequest(
            name=data.get("name") or "",
            scopes=list(data.get("scopes") or []),
            expires_at=data.get("expires_at"),
            agency=data.get("agency"),
            partner=data.get("partner") or "",
            rate=data.get("rate") or "",
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name, errors in check_create_key(self.actor, self.key_request()).items():
            if name == "__all__" or name in data:  # a field that failed its own validation says so already
                for error in errors:
                    self.add_error(None if name == "__all__" else name, error)
        return data


def _show_key(modeladmin: admin.ModelAdmin, request: HttpRequest, key: ApiKey, raw: str) -> None:
    modeladmin.message_user(
        request,
        _("API key of %(name)s: %(key)s - copy it now, it is not shown again. It expires on %(until)s.")
        % {"name": key.name, "key": raw, "until": timezone.localtime(key.expires_at).strftime("%Y-%m-%d %H:%M")},
        messages.WARNING,
    )


@admin.action(description=gettext_lazy("Revoke the selected API keys"))
def revoke_keys(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
    user = acting_user(request)
    revoked = 0
    for key in queryset.select_related("user"):
        if user is not None and not check_revoke_key(user, key):
            do_revoke_key(user, key)
            revoked += 1
    modeladmin.message_user(
        request,
        _("%(count)d API keys revoked.") % {"count": revoked},
        messages.SUCCESS if revoked else messages.WARNING,
    )


@admin.action(description=gettext_lazy("Rotate the selected API keys (the old key works 24 more hours)"))
def rotate_keys(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
    user = acting_user(request)
    for key in queryset.select_related("agency"):
        if user is not None and not check_revoke_key(user, key):
            new, raw = do_rotate_key(user, key)
            _show_key(modeladmin, request, new, raw)


class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyForm
    list_display = ["name", "prefix", "agency", "partner", "expires_at", "revoked_at", "last_used_at"]
    list_filter = ["agency"]
    search_fields = ["name", "prefix", "partner"]
    actions = [revoke_keys, rotate_keys]
    readonly_fields = ["usage_log"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiKey]:
        return visible_keys(acting_user(request)).select_related("agency")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return may_manage_keys(acting_user(request)) and super().has_module_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["name", "agency", "partner", "scopes", "expires_at", "rate"]
        return [
            "name",
            "prefix",
            "agency",
            "partner",
            "scopes",
            "rate",
            "expires_at",
            "revoked_at",
            "created_at",
            "created_by",
            "last_used_at",
            "user",
            "usage_log",
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return []
        return self.get_fields(request, obj)  # issued keys are not edited: rotate or revoke them

    @admin.display(description=gettext_lazy("usage log"))
    def usage_log(self, obj: ApiKey) -> str:
        url = reverse("admin:exchange_apikeyuse_changelist") + f"?key__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, _("Requests made with this key"))

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form: Any = super().get_form(request, obj, change=change, **kwargs)
        form.actor = acting_user(request)  # a class made for this request (modelform_factory)
        return form

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        user = acting_user(request)
        if db_field.name == "agency" and user is not None and not (user.is_superuser or user.has_role(Role.ADMIN)):
            kwargs["queryset"] = Agency.objects.filter(pk=user.agency_id or 0)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            return  # nothing of an issued key is editable
        key, raw = do_create_key(acting_user(request), form.key_request())
        for field in ApiKey._meta.concrete_fields:  # the admin's object becomes the issued key (redirect, log)
            setattr(obj, field.attname, getattr(key, field.attname))
        obj._state.adding = False
        _show_key(self, request, key, raw)


class ApiKeyUseAdmin(ReadOnlyAdmin):
    list_display = ["at", "key", "method", "path", "status"]
    list_filter = ["status", "method"]
    list_select_related = ["key"]
    search_fields = ["key__prefix", "path"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiKeyUse]:
        keys = visible_keys(acting_user(request))
        return super().get_queryset(request).filter(key__in=keys)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return may_manage_keys(acting_user(request)) and super().has_module_permission(request)
