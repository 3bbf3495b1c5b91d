"""The keys' writes (check_* / do_*): issue, rotate, revoke; each audited (prefix and fields only, never the
key). Who may: an administrator for every key; an agency's administrator for its own agency's keys only."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from core import clock
from core.errors import InvalidInput, NotAllowed
from exchange.keys import hashing
from exchange.keys.scopes import AGENCY_SCOPES, unknown_scopes
from exchange.models import ApiKey
from organisation.actions import audit
from organisation.models import Agency, Role, User

#: After a rotation the old key keeps working this long at most, so the other system can switch over.
ROTATION_OVERLAP = dt.timedelta(hours=24)
_RATE = re.compile(r"^[1-9][0-9]{0,5}/(s|sec|second|m|min|minute|h|hour|d|day)$")


def max_days() -> int:
    return int(settings.HOTLINE.get("API_KEY_MAX_DAYS", 365))


def may_manage_keys(user: User | None, agency_id: int | None = None) -> bool:
    """An administrator: any key; an agency administrator: its own agency's (agency_id None: any of them)."""
    if user is None or not user.is_authenticated or not user.is_active or hasattr(user, "api_key"):
        return False
    if user.is_superuser or user.has_role(Role.ADMIN):
        return True
    return user.has_role(Role.AGENCY_ADMIN) and user.agency_id is not None and agency_id in (None, user.agency_id)


def visible_keys(user: User | None) -> QuerySet[ApiKey]:
    """The keys a user may see and manage (a foreign one is not there)."""
    if user is None or not may_manage_keys(user):
        return ApiKey.objects.none()
    if user.is_superuser or user.has_role(Role.ADMIN):
        return ApiKey.objects.all()
    return ApiKey.objects.filter(agency_id=user.agency_id or 0)


@dataclass
class KeyRequest:
    """What a new key should be: for an agency (its system) or for a named partner."""

    name: str
    scopes: list[str]
    expires_at: dt.datetime | None
    agency: Agency | None = None
    partner: str = ""
    rate: str = ""


def check_create_key(actor: User | None, request: KeyRequest) -> dict[str, list[str]]:
    """Field errors for issuing a key (empty: it may be issued)."""
    agency_id = request.agency.pk if request.agency is not None else None
    if not may_manage_keys(actor):
        return {"__all__": [_("You may not manage API keys.")]}
    errors: dict[str, list[str]] = {}
    if not may_manage_keys(actor, agency_id) or (agency_id is None and not _is_admin(actor)):
        errors["agency"] = [_("You may only issue keys for your own agency.")]
    if not (request.name or "").strip():
        errors["name"] = [_("Give the key a name.")]
    if request.agency is None and not (request.partner or "").strip():
        errors["partner"] = [_("Name the partner, or choose an agency.")]
    if request.agency is not None and (request.partner or "").strip():
        errors["partner"] = [_("A key belongs to an agency or to a partner, not both.")]
    if request.agency is not None and not request.agency.active:
        errors["agency"] = [_("This agency is not active.")]
    bad = unknown_scopes(request.scopes)
    if bad or not request.scopes:
        errors["scopes"] = [_("Choose one or more scopes from the list.")]
    elif request.agency is None and set(request.scopes) & AGENCY_SCOPES:
        errors["scopes"] = [_("Work order scopes are for an agency's keys only.")]
    now = clock.now()
    if request.expires_at is None:
        errors["expires_at"] = [_("Give the key an expiry date.")]
    elif request.expires_at <= now:
        errors["expires_at"] = [_("The expiry must be in the future.")]
    elif request.expires_at > now + dt.timedelta(days=max_days()):
        errors["expires_at"] = [_("A key may be valid for %(days)d days at most.") % {"days": max_days()}]
    if request.rate and not _RATE.match(request.rate):
        errors["rate"] = [_('Write the rate limit as a number per period, e.g. "120/min" (s, min, hour or day).')]
    return errors


def _is_admin(user: User | None) -> bool:
    return user is not None and (user.is_superuser or user.has_role(Role.ADMIN))


def _service_roles(agency: Agency | None, scopes: list[str]) -> list[str]:
    """An agency's key acts as that agency's handler. A partner's key has a role only where the workflow table
    asks one of its scopes' actions: taking a request in (Open311) is the intake row's, the operator's. The
    scopes still refuse the key every route but their own (exchange/keys/scopes.py)."""
    if agency is not None:
        return [Role.AGENCY_HANDLER.value]
    return [Role.OPERATOR.value] if "open311:submit" in scopes else []


def _service_account(prefix: str, name: str, agency: Agency | None, scopes: list[str]) -> User:
    """The key's own user: active, no usable password (it cannot log in to the screens or the admin), with
    the roles of ``_service_roles``."""
    user = User(
        username=f"apikey-{prefix}",
        first_name=name[:150],
        agency=agency,
        roles=_service_roles(agency, scopes),
        is_active=True,
        is_staff=False,
        is_superuser=False,
    )
    user.set_unusable_password()
    user.save()
    return user


def do_create_key(
    actor: User | None, request: KeyRequest, *, audit_action: str = "api_key_created"
) -> tuple[ApiKey, str]:
    """Issue a key; returns it and the raw key, to be shown once (it cannot be recovered)."""
    if actor is None or not may_manage_keys(actor):
        raise NotAllowed(_("You may not manage API keys."))
    errors = check_create_key(actor, request)
    if errors:
        raise InvalidInput(_("The API key cannot be issued."), fields=errors)
    assert request.expires_at is not None  # checked above
    raw, prefix, secret = hashing.new_key()
    name = request.name.strip()
    with transaction.atomic():
        key = ApiKey.objects.create(
            name=name,
            agency=request.agency,
            partner="" if request.agency is not None else request.partner.strip(),
            prefix=prefix,
            secret_hash=hashing.hash_secret(prefix, secret),
            scopes=sorted(set(request.scopes)),
            rate=request.rate,
            expires_at=request.expires_at,
            user=_service_account(prefix, name, request.agency, list(request.scopes)),
            created_by=actor,
        )
        details = [{"prefix": prefix, "scopes": key.scopes, "expires_at": key.expires_at.isoformat()}]
        audit(actor, audit_action, target_type="api_key", target_id=key.pk, details=details)
    return key, raw


def check_revoke_key(actor: User | None, key: ApiKey) -> list[str]:
    if not may_manage_keys(actor, key.agency_id) or (key.agency_id is None and not _is_admin(actor)):
        return [_("You may not manage API keys.")]
    if key.revoked_at is not None:
        return [_("This key is revoked already.")]
    return []


def do_revoke_key(actor: User, key: ApiKey) -> ApiKey:
    """Revoke a key: refused from its next request on; its service account is deactivated."""
    errors = check_revoke_key(actor, key)
    if errors:
        raise InvalidInput(errors[0])
    with transaction.atomic():
        key.revoked_at = clock.now()
        key.save(update_fields=["revoked_at"])
        account = key.user
        account.is_active = False
        account.save(update_fields=["is_active"])
        audit(actor, "api_key_revoked", target_type="api_key", target_id=key.pk, details=[{"prefix": key.prefix}])
    return key


def do_rotate_key(actor: User, key: ApiKey, *, overlap: dt.timedelta = ROTATION_OVERLAP) -> tuple[ApiKey, str]:
    """A new key with the same owner, scopes, rate and validity period; the old one keeps working until the
    overlap ends (or its own expiry, if sooner). Returns the new key and its raw key, shown once."""
    errors = check_revoke_key(actor, key)
    if errors:
        raise InvalidInput(errors[0])
    now = clock.now()
    period = min(key.expires_at - key.created_at, dt.timedelta(days=max_days()))
    request = KeyRequest(
        name=key.name,
        scopes=list(key.scopes),
        expires_at=now + max(period, dt.timedelta(days=1)),
        agency=key.agency,
        partner=key.partner,
        rate=key.rate,
    )
    with transaction.atomic():
        new, raw = do_create_key(actor, request, audit_action="api_key_rotated")
        key.expires_at = min(key.expires_at, now + overlap)
        key.save(update_fields=["expires_at"])
        details = [{"prefix": key.prefix, "replaced_by": new.prefix, "expires_at": key.expires_at.isoformat()}]
        audit(actor, "api_key_replaced", target_type="api_key", target_id=key.pk, details=details)
    return new, raw
