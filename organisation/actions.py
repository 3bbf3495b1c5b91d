"""Writes of the organisation: agencies and users (loaders, the admin), and the audit log every app writes to.

Reference-data changes made by a person are audited, and every registered listener hears of them inside the
same transaction: the realtime layer registers one at start-up that appends a ``reference.changed`` event
(a seam: organisation knows no higher app).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from core import clock
from core.errors import InvalidInput, NotFound
from organisation.models import Agency, AuditEntry, Role, User


@dataclass(frozen=True)
class ReferenceChange:
    kind: str  # "agency", "user", "appeal_type", "routing_rule", ...
    id: int
    action: str  # "created", "changed", "deleted"
    fields: tuple[str, ...]  # the names of the fields that changed (never their values: no personal data)


#: Called inside the transaction of every audited reference-data change (registered at start-up).
change_listeners: list[Callable[[ReferenceChange], None]] = []


def audit(
    actor: User,
    action: str,
    *,
    target_type: str = "",
    target_id: int | None = None,
    reason: str = "",
    details: Any = (),
) -> AuditEntry:
    """Append to the audit log (inside the caller's transaction)."""
    return AuditEntry.objects.create(
        actor=actor,
        actor_agency_id=actor.agency_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        reason=reason,
        fields=list(details),
        created_at=clock.now(),
    )


def record_reference_change(actor: User | None, change: ReferenceChange, *, details: Any = ()) -> None:
    """Audit a person's change of reference data and tell the listeners (inside the caller's transaction)."""
    if actor is not None:
        audit(
            actor,
            f"{change.kind}_{change.action}",
            target_type=change.kind,
            target_id=change.id,
            details=details or [{"fields": list(change.fields)}],
        )
    for listener in change_listeners:
        listener(change)


def do_save_agency(agency: Agency, *, actor: User | None, changed: Sequence[str]) -> Agency:
    """An agency edited by a person (the admin): saved, audited, announced."""
    with transaction.atomic():  # the admin's own transaction may enclose it
        created = agency.pk is None
        agency.save()
        change = ReferenceChange("agency", agency.pk, "created" if created else "changed", tuple(changed))
        record_reference_change(actor, change)
    return agency


def do_save_user(user: User, *, actor: User | None, changed: Sequence[str], roles_before: Sequence[str] = ()) -> User:
    """A user edited by a person (the admin): saved, audited (role changes with the roles before and after),
    announced. Passwords are set only through Django's password forms, which hash them."""
    bad = [r for r in user.roles or () if r not in Role.values]
    if bad:
        raise InvalidInput(_("Unknown role."), fields={"roles": bad})
    with transaction.atomic():  # the admin's own transaction may enclose it
        created = user.pk is None
        user.is_staff = user.is_staff or Role.ADMIN in (user.roles or ())
        user.save()
        details: list[dict[str, Any]] = [{"fields": sorted(set(changed) - {"password"})}]
        if "roles" in changed or created:
            details.append({"roles_before": sorted(roles_before), "roles_after": sorted(user.roles or ())})
        change = ReferenceChange("user", user.pk, "created" if created else "changed", tuple(sorted(set(changed))))
        record_reference_change(actor, change, details=details)
    return user


# --- loaders (reference data from files; no person acts) ---------------------------------------------


def do_upsert_agency(
    *,
    code: str,
    name: str,
    kind: str,
    function: str,
    name_en: str = "",
    parent_code: str | None = None,
    adcode: str = "",
    active: bool = True,
    sort_order: int = 0,
) -> Agency:
    with transaction.atomic():
        parent = None
        if parent_code:
            parent = Agency.objects.filter(code=parent_code).first()
            if parent is None:
                raise NotFound(f"Unknown parent agency {parent_code}")
        agency, _created = Agency.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "name_en": name_en,
                "kind": kind,
                "function": function,
                "parent": parent,
                "adcode": adcode,
                "active": active,
                "sort_order": sort_order,
            },
        )
        return agency


AGENCIES_FILE = Path(__file__).resolve().parent / "data" / "agencies.json"


def do_load_agencies(path: Path = AGENCIES_FILE) -> int:
    """Upsert the agency tree from a JSON list (parents before children), keeping the file's order."""
    rows = json.loads(path.read_text(encoding="utf-8"))
    with transaction.atomic():
        for order, row in enumerate(rows):
            do_upsert_agency(
                code=row["code"],
                name=row["name"],
                name_en=row.get("name_en", ""),
                kind=row["kind"],
                function=row["function"],
                parent_code=row.get("parent"),
                adcode=row.get("adcode", ""),
                sort_order=order,
            )
    return len(rows)


def do_upsert_user(
    *,
    username: str,
    password: str | None,
    roles: Sequence[str],
    agency_code: str | None,
    first_name: str = "",
    extension: str = "",
    is_staff: bool = False,
) -> User:
    bad = [r for r in roles if r not in Role.values]
    if bad:
        raise InvalidInput(_("Unknown role."), fields={"roles": bad})
    with transaction.atomic():
        agency = Agency.objects.get(code=agency_code) if agency_code else None
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User(username=username)
        user.roles, user.agency, user.first_name, user.extension = list(roles), agency, first_name, extension
        user.is_staff = is_staff or Role.ADMIN in roles
        user.is_superuser = Role.ADMIN in roles
        if password and not user.check_password(password):
            user.set_password(password)
        elif not password and user.pk is None:
            user.set_unusable_password()
        user.save()
        return user
