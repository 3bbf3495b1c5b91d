from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.utils.translation import gettext_lazy as _

from core.admin import ReadOnlyAdmin
from dispatch.models import Agency, Role, TimelineEntry, User


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "function", "parent", "adcode", "active"]
    list_filter = ["kind", "function", "active"]
    search_fields = ["code", "name", "name_en", "adcode"]
    autocomplete_fields = ["parent"]


class RolesField(forms.MultipleChoiceField):
    widget = forms.CheckboxSelectMultiple


class UserRolesForm(forms.ModelForm):
    roles = RolesField(choices=Role.choices, required=False, label=_("roles"))

    class Meta:
        model = User
        fields = ["username", "agency", "roles", "extension"]


@admin.register(User)
class HotlineUserAdmin(UserAdmin):
    form = UserRolesForm
    list_display = ["username", "first_name", "agency", "roles", "is_active"]
    list_filter = ["is_active", "agency__kind"]
    autocomplete_fields = ["agency"]
    fieldsets = (*(UserAdmin.fieldsets or ()), (_("Hotline"), {"fields": ("agency", "roles", "extension")}))


@admin.register(TimelineEntry)
class TimelineEntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "ticket", "work_order", "action", "from_state", "to_state", "actor", "created_at"]
    list_filter = ["machine", "action"]
    search_fields = ["ticket__number"]


# Last: those pages build on ReadOnlyAdmin above.
from dispatch.deadlines import admin as _deadlines_admin  # noqa: E402, F401  (registers the calendar, SLA and escalation pages)
