"""The exchange's writes (check_* / do_*): subscriptions (saved, audited; secrets generated and rotated here),
retrying parked deliveries, test deliveries, checking a subscription's URL. API keys: exchange/keys/actions.py."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from core import clock
from core.errors import InvalidInput, NotAllowed
from exchange import targets
from exchange.keys.scopes import WEBHOOKS_MANAGE
from exchange.models import ApiKey, Delivery, DeliveryState, Subscription
from exchange.outbox import enqueue
from organisation.actions import audit
from organisation.models import User
from realtime.schemas import EVENT_SCHEMAS

#: After a rotation the previous secret keeps signing (a second v1=) this long, so receivers can switch over.
ROTATION_OVERLAP = dt.timedelta(hours=24)


def check_target_url(url: str, *, allow_private: bool) -> list[str]:
    """Errors for a webhook URL: not http(s), unresolvable, or a non-public address without the admin's leave."""
    try:
        targets.resolve_target(url, allow_private=allow_private)
    except targets.TargetRefused as refused:
        return [
            {
                "bad_url": _("Use an http or https URL without a user name or password."),
                "unresolvable": _("The URL's host name does not resolve."),
                "private_address": _(
                    "The URL points to a loopback, private or link-local address; an administrator must allow "
                    "private network addresses for this subscription."
                ),
            }.get(refused.code, _("This URL cannot be used."))
        ]
    return []


def check_retry_delivery(user: User, delivery: Delivery) -> list[str]:
    if not user.is_superuser and not user.has_perm("exchange.change_delivery"):
        return [_("You may not retry deliveries.")]
    if delivery.state != DeliveryState.PARKED:
        return [_("Only parked deliveries can be retried.")]
    return []


def do_retry_deliveries(user: User, deliveries: Iterable[Delivery]) -> int:
    """Put parked deliveries back in the queue, due now, with a fresh count of failures; returns how many."""
    retried = 0
    with transaction.atomic():
        for delivery in deliveries:
            if check_retry_delivery(user, delivery):
                continue
            delivery.state = DeliveryState.PENDING
            delivery.failures = 0
            delivery.next_attempt_at = clock.now()
            delivery.claim_token, delivery.claimed_until = "", None
            delivery.parked_reason = ""
            delivery.save()
            audit(user, "delivery_retry", target_type="delivery", details=[{"delivery": str(delivery.pk)}])
            retried += 1
    return retried


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def _key_manages(user: User | None, key: ApiKey | None, subscription: Subscription | None = None) -> bool:
    """Whether ``user`` acts through ``key``, an agency's key holding webhooks:manage (and, given a saved
    subscription, whether it is that agency's)."""
    if user is None or key is None or key.user_id != user.pk or key.agency_id is None:
        return False
    if WEBHOOKS_MANAGE not in (key.scopes or ()) or key.revoked_at is not None:
        return False
    return subscription is None or subscription.pk is None or subscription.agency_id == key.agency_id


def _may_manage_subscriptions(
    user: User | None, key: ApiKey | None = None, subscription: Subscription | None = None
) -> bool:
    """Administrators and users given the permission; or an agency's key with webhooks:manage, for its own
    agency's subscriptions (``key``: the key the request was made with, passed by the API)."""
    if key is not None:
        return _key_manages(user, key, subscription)
    return user is not None and (user.is_superuser or user.has_perm("exchange.change_subscription"))


def check_save_subscription(
    actor: User | None, subscription: Subscription, *, key: ApiKey | None = None
) -> dict[str, list[str]]:
    """Field errors for saving a subscription (empty: it may be saved)."""
    if not _may_manage_subscriptions(actor, key, subscription):
        return {"__all__": [_("You may not manage webhook subscriptions.")]}
    errors: dict[str, list[str]] = {}
    if key is not None:
        # A system's key: its own agency's view only, public URLs only, whatever its service account may do.
        if subscription.agency_id != key.agency_id:
            errors["agency"] = [_("A key subscribes its own agency only.")]
        if subscription.allow_private_network:
            errors["allow_private_network"] = [_("Only an administrator may allow private network addresses.")]
    elif actor is not None and not actor.is_superuser:
        # Someone given the permission without being an administrator: its own agency's view only, public URLs.
        if actor.agency_id is None or subscription.agency_id != actor.agency_id:
            errors["agency"] = [_("Only an administrator may subscribe another scope than your own agency.")]
        if subscription.allow_private_network:
            errors["allow_private_network"] = [_("Only an administrator may allow private network addresses.")]
    if not (subscription.name or "").strip():
        errors["name"] = [_("Give the subscription a name.")]
    url_errors = check_target_url(subscription.target_url or "", allow_private=subscription.allow_private_network)
    if url_errors:
        errors["target_url"] = url_errors
    types = subscription.event_types
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        errors["event_types"] = [_("Choose event types from the list.")]
    elif unknown := sorted(set(types) - set(EVENT_SCHEMAS)):
        errors["event_types"] = [_("Unknown event types: %(types)s.") % {"types": ", ".join(unknown)}]
    return errors


def do_save_subscription(
    actor: User | None, subscription: Subscription, *, changed: Sequence[str] = (), key: ApiKey | None = None
) -> tuple[Subscription, str | None]:
    """Save a subscription, audited (field names only, never a secret). A new one gets a generated secret,
    returned here to be shown once; afterwards (None) the secret only changes by do_rotate_secret."""
    if actor is None or not _may_manage_subscriptions(actor, key, subscription):
        raise NotAllowed(_("You may not manage webhook subscriptions."))
    errors = check_save_subscription(actor, subscription, key=key)
    if errors:
        raise InvalidInput(_("The subscription cannot be saved."), fields=errors)
    created = subscription.pk is None
    shown: str | None = None
    if created and not subscription.secret:
        shown = subscription.secret = new_secret()
    fields = sorted(set(changed) - {"secret", "previous_secret", "previous_secret_until"})
    with transaction.atomic():
        subscription.save()
        details: list[dict[str, Any]] = [{"fields": fields}]
        action = "subscription_created" if created else "subscription_changed"
        audit(actor, action, target_type="subscription", target_id=subscription.pk, details=details)
    return subscription, shown


def check_rotate_secret(actor: User | None, subscription: Subscription, *, key: ApiKey | None = None) -> list[str]:
    if not _may_manage_subscriptions(actor, key, subscription):
        return [_("You may not manage webhook subscriptions.")]
    if subscription.pk is None:
        return [_("Save the subscription first.")]
    return []


def do_rotate_secret(
    actor: User, subscription: Subscription, *, overlap: dt.timedelta = ROTATION_OVERLAP, key: ApiKey | None = None
) -> str:
    """A new signing secret (returned, to be shown once); the current one becomes the previous one and keeps
    signing until the overlap ends."""
    if not _may_manage_subscriptions(actor, key, subscription):
        raise NotAllowed(_("You may not manage webhook subscriptions."))
    errors = check_rotate_secret(actor, subscription, key=key)
    if errors:
        raise InvalidInput(errors[0])
    secret = new_secret()
    with transaction.atomic():
        subscription.previous_secret = subscription.secret
        subscription.previous_secret_until = clock.now() + overlap
        subscription.secret = secret
        subscription.save(update_fields=["secret", "previous_secret", "previous_secret_until"])
        until = subscription.previous_secret_until.isoformat()
        audit(
            actor,
            "subscription_secret_rotated",
            target_type="subscription",
            target_id=subscription.pk,
            details=[{"previous_secret_until": until}],
        )
    return secret


def do_delete_subscription(actor: User, subscription: Subscription, *, key: ApiKey | None = None) -> None:
    """Delete a subscription and its deliveries, audited."""
    if not _may_manage_subscriptions(actor, key, subscription):
        raise NotAllowed(_("You may not manage webhook subscriptions."))
    with transaction.atomic():
        pk = subscription.pk
        subscription.delete()
        audit(actor, "subscription_deleted", target_type="subscription", target_id=pk)


#: The event type of a test delivery (docs/EVENTS.md): a receiver answers it 2xx and otherwise ignores it.
PING = "ping"


def check_send_test_delivery(actor: User | None, subscription: Subscription, *, key: ApiKey | None = None) -> list[str]:
    if not _may_manage_subscriptions(actor, key, subscription):
        return [_("You may not manage webhook subscriptions.")]
    if subscription.pk is None:
        return [_("Save the subscription first.")]
    return []


def do_send_test_delivery(actor: User, subscription: Subscription, *, key: ApiKey | None = None) -> Delivery:
    """Queue a signed ``ping`` to the subscription's URL through the outbox (even if it is paused), audited;
    its attempts show in the delivery log like any other delivery's."""
    errors = check_send_test_delivery(actor, subscription, key=key)
    if errors:
        raise NotAllowed(errors[0])
    now = clock.now()
    body = json.dumps(
        {"kind": "event", "id": None, "type": PING, "at": now.isoformat(), "ticket_id": None, "payload": {}},
        separators=(",", ":"),
    )
    with transaction.atomic():
        delivery = enqueue(subscription, PING, body)
        details = [{"delivery": str(delivery.pk)}]
        audit(
            actor, "subscription_test_delivery", target_type="subscription", target_id=subscription.pk, details=details
        )
    return delivery
