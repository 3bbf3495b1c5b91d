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

from core.admin import ReadOnlyAdmin
from exchange.actions import (
    check_rotate_secret,
    check_save_subscription,
    check_send_test_delivery,
    do_delete_subscription,
    do_retry_deliveries,
    do_rotate_secret,
    do_save_subscription,
    do_send_test_delivery,
)
from exchange.keys.admin import ApiKeyAdmin, ApiKeyUseAdmin
from exchange.models import ApiKey, ApiKeyUse, Delivery, DeliveryAttempt, Subscription
from organisation.models import User
from organisation.policy import acting_user
from realtime.schemas import EVENT_SCHEMAS


def _event_type_choices() -> list[tuple[str, str]]:
    # The event type names are the webhook contract (docs/EVENTS.md): shown as the receiver sees them.
    return [(name, name) for name in sorted(EVENT_SCHEMAS)]


class SubscriptionForm(forms.ModelForm):
    target_url = forms.URLField(label=gettext_lazy("target URL"), max_length=500, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        label=gettext_lazy("event types"),
        choices=_event_type_choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("None chosen: every type the subscription's scope may receive."),
    )
    #: The acting user, set per request by SubscriptionAdmin.get_form.
    actor: User | None = None

    class Meta:
        model = Subscription
        # The signing secrets are never edited here: generated on creation, replaced by the rotation action.
        fields = ["name", "target_url", "event_types", "agency", "allow_private_network", "active"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        probe = Subscription(
            name=data.get("name") or "",
            target_url=data.get("target_url") or "",
            event_types=list(data.get("event_types") or []),
            allow_private_network=bool(data.get("allow_private_network")),
            agency=data.get("agency"),
        )
        for field, errors in check_save_subscription(self.actor, probe).items():
            if field == "__all__" or field in data:  # a field that failed its own validation says so already
                for error in errors:
                    self.add_error(None if field == "__all__" else field, error)
        return data


def _scoped(request: HttpRequest, queryset: QuerySet[Any], agency_field: str) -> QuerySet[Any]:
    """Beyond the model permissions: only a superuser sees the centre's subscriptions and every agency's; any
    other user given access sees its own agency's at most (a foreign one is not there)."""
    user = acting_user(request)
    if user is not None and user.is_superuser:
        return queryset
    if user is None or user.agency_id is None:
        return queryset.none()
    return queryset.filter(**{agency_field: user.agency_id})


@admin.action(description=gettext_lazy("Rotate the signing secret of the selected subscriptions"))
def rotate_secrets(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Subscription]) -> None:
    user = acting_user(request)
    if user is None:
        return
    for subscription in queryset:
        if check_rotate_secret(user, subscription):
            continue
        secret = do_rotate_secret(user, subscription)
        until = timezone.localtime(subscription.previous_secret_until)
        modeladmin.message_user(
            request,
            _(
                "New signing secret of %(name)s: %(secret)s - copy it now, it is not shown again. The previous "
                "secret keeps signing until %(until)s."
            )
            % {"name": subscription.name, "secret": secret, "until": until.strftime("%Y-%m-%d %H:%M")},
            messages.WARNING,
        )


@admin.action(description=gettext_lazy("Send a test delivery to the selected subscriptions"))
def send_test_deliveries(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Subscription]) -> None:
    user = acting_user(request)
    sent = 0
    for subscription in queryset:
        if user is not None and not check_send_test_delivery(user, subscription):
            do_send_test_delivery(user, subscription)
            sent += 1
    modeladmin.message_user(
        request,
        _("%(count)d test deliveries queued: see each subscription's delivery log.") % {"count": sent},
        messages.SUCCESS if sent else messages.WARNING,
    )


def delivery_log_url(subscription: Subscription) -> str:
    return reverse("admin:exchange_delivery_changelist") + f"?subscription__id__exact={subscription.pk}"


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    form = SubscriptionForm
    list_display = ["name", "target_url", "agency", "active", "allow_private_network", "delivery_log"]
    list_filter = ["active", "allow_private_network"]
    search_fields = ["name", "target_url"]
    actions = [rotate_secrets, send_test_deliveries]
    readonly_fields = ["delivery_log"]

    @admin.display(description=gettext_lazy("delivery log"))
    def delivery_log(self, obj: Subscription) -> str:
        if obj.pk is None:
            return "-"
        return format_html('<a href="{}">{}</a>', delivery_log_url(obj), _("Deliveries and their attempts"))

    def get_queryset(self, request: HttpRequest) -> QuerySet[Subscription]:
        return _scoped(request, super().get_queryset(request), "agency")

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form: Any = super().get_form(request, obj, change=change, **kwargs)
        form.actor = acting_user(request)  # a class made for this request (modelform_factory)
        return form

    def save_model(self, request: HttpRequest, obj: Subscription, form: Any, change: bool) -> None:
        _saved, secret = do_save_subscription(acting_user(request), obj, changed=form.changed_data)
        if secret:
            self.message_user(
                request,
                _("Signing secret of %(name)s: %(secret)s - copy it now, it is not shown again.")
                % {"name": obj.name, "secret": secret},
                messages.WARNING,
            )

    def delete_model(self, request: HttpRequest, obj: Subscription) -> None:
        user = acting_user(request)
        if user is not None:
            do_delete_subscription(user, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Subscription]) -> None:
        for subscription in queryset:
            self.delete_model(request, subscription)


class AttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = ("number", "started_at", "duration_ms", "status_code", "error_kind", "ok")
    readonly_fields = ("number", "started_at", "duration_ms", "status_code", "error_kind", "ok")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.action(description=gettext_lazy("Retry the selected parked deliveries"))
def retry_deliveries(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
    user = acting_user(request)
    if user is None:
        return
    retried = do_retry_deliveries(user, queryset)
    modeladmin.message_user(
        request,
        _("%(count)d deliveries queued again.") % {"count": retried},
        messages.SUCCESS if retried else messages.WARNING,
    )


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ["id", "subscription", "event_type", "state", "attempt_count", "next_attempt_at", "parked_reason"]
    list_filter = ["state", "event_type"]
    list_select_related = ["subscription"]
    search_fields = ["id"]
    exclude = ["body", "claim_token"]
    inlines = [AttemptInline]
    actions = [retry_deliveries]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Delivery]:
        return _scoped(request, super().get_queryset(request), "subscription__agency")


admin.site.register(ApiKey, ApiKeyAdmin)
admin.site.register(ApiKeyUse, ApiKeyUseAdmin)
