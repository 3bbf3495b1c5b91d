"""Admin pages of agencies, users, the taxonomy and the audit log. Saves go through organisation/actions.py (audited);
passwords only through Django's own password forms, which hash them."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm, UsernameField
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from core.admin import ReadOnlyAdmin
from organisation.actions import do_save_agency, do_save_appeal_type, do_save_city, do_save_subject, do_save_user
from organisation.models import Agency, AppealType, AuditEntry, City, Role, Subject, User
from organisation.policy import acting_user


@admin.register(City)
class CityAdmin(admin.ModelAdmin):
    """Cities served by this installation (bulk data: the management API, docs/OPERATIONS.md "Cities")."""

    list_display = ["code", "name", "name_en", "adcode", "active", "sort_order"]
    search_fields = ["code", "name", "name_en", "adcode"]

    def save_model(self, request: HttpRequest, obj: City, form: Any, change: bool) -> None:
        do_save_city(obj, actor=acting_user(request), changed=form.changed_data)


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "function", "parent", "adcode", "city", "active"]
    list_filter = ["city", "kind", "function", "active"]
    search_fields = ["code", "name", "name_en", "adcode"]
    autocomplete_fields = ["parent"]

    def save_model(self, request: HttpRequest, obj: Agency, form: Any, change: bool) -> None:
        do_save_agency(obj, actor=acting_user(request), changed=form.changed_data)


class RolesField(forms.MultipleChoiceField):
    widget = forms.CheckboxSelectMultiple


class UserRolesChangeForm(UserChangeForm):
    """Django's change form (the password is a read-only hash with a link to the password form) plus roles."""

    roles = RolesField(choices=Role.choices, required=False, label=_("roles"))

    class Meta:
        model = User
        fields = "__all__"
        field_classes = {"username": UsernameField}


class UserRolesCreationForm(AdminUserCreationForm):
    roles = RolesField(choices=Role.choices, required=False, label=_("roles"))

    class Meta:
        model = User
        fields = ["username", "agency", "roles", "extension"]
        field_classes = {"username": UsernameField}


@admin.register(User)
class HotlineUserAdmin(UserAdmin):
    form = UserRolesChangeForm
    add_form = UserRolesCreationForm
    list_display = ["username", "first_name", "agency", "city", "roles", "is_active"]
    list_filter = ["is_active", "agency__kind", "city"]
    autocomplete_fields = ["agency"]
    fieldsets = (*(UserAdmin.fieldsets or ()), (_("Hotline"), {"fields": ("agency", "city", "roles", "extension")}))
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "usable_password", "password1", "password2")}),
        (_("Hotline"), {"fields": ("agency", "roles", "extension")}),
    )

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        before = list(form.initial.get("roles") or []) if change else []
        do_save_user(obj, actor=acting_user(request), changed=form.changed_data, roles_before=before)


@admin.register(AppealType)
class AppealTypeAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "name_en", "sort_order"]

    def save_model(self, request: HttpRequest, obj: AppealType, form: Any, change: bool) -> None:
        do_save_appeal_type(obj, actor=acting_user(request), changed=form.changed_data)


@admin.register(Subject)
class SubjectAdmin(admin.ModelAdmin):
    list_display = ["code", "path", "is_leaf", "default_agency_function", "active"]
    list_filter = ["is_leaf", "default_agency_function", "active"]
    search_fields = ["code", "name", "path"]
    readonly_fields = ["path", "is_leaf"]

    def save_model(self, request: HttpRequest, obj: Subject, form: Any, change: bool) -> None:
        do_save_subject(obj, actor=acting_user(request), changed=form.changed_data)


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "actor", "actor_agency", "action", "target_type", "target_id", "created_at"]
    list_filter = ["action", "target_type"]
