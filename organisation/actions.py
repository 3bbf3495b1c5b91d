"""Reference data: agencies and users (used by loaders and the admin)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from django.db import transaction
from django.utils.translation import gettext as _

from core.errors import InvalidInput, NotFound
from dispatch.models import (
    Agency,
    Role,
    User,
)

# --- organisation (reference data; used by loaders and the admin) ----------------------------------


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


AGENCIES_FILE = Path(__file__).resolve().parent.parent / "data" / "agencies.json"


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
