"""Writes of the organisation: agencies, users and the taxonomy (loaders, the admin), and the audit log every
app writes to.

Reference-data changes made by a person are audited, and every registered listener hears of them inside the
same transaction: the realtime layer registers one at start-up that appends a ``reference.changed`` event
(a seam: organisation knows no higher app).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ForeignObjectRel, Q
from django.utils.translation import gettext as _

from core import clock
from core.errors import Conflict, InvalidInput, NotFound
from organisation import imports
from organisation.models import Agency, AppealType, AuditEntry, City, Role, Subject, User, default_city_id


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
        if actor is not None and not created and sorted(roles_before) != sorted(user.roles or ()):
            # A security event of its own (the user's tokens and sockets are revoked: organisation/identity/).
            roles = {"roles_before": sorted(roles_before), "roles_after": sorted(user.roles or ())}
            audit(actor, "role_changed", target_type="user", target_id=user.pk, details=[roles])
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
    city: City | None = None,
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
                **({"city": city} if city is not None else {}),  # no city given: the agency's stays
            },
        )
        return agency


AGENCIES_FILE = Path(__file__).resolve().parent / "data" / "agencies.json"


def do_load_agencies(path: Path = AGENCIES_FILE, *, city: City | None = None) -> int:
    """Upsert the agency tree from a JSON list (parents before children), keeping the file's order; with
    ``city``, the agencies are that city's."""
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
                city=city,
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


def do_create_first_admin(*, username: str, password: str, email: str = "") -> User | None:
    """The first administrator of a production installation (``init_production``): created once with the
    admin role. A user of that name is left exactly as it is (its password is never overwritten); returns the
    user created, or None. The password must pass the configured password validators."""
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    username = username.strip()
    if not username:
        raise InvalidInput(_("An administrator needs a user name."), fields={"username": [_("Required.")]})
    with transaction.atomic():
        if User.objects.filter(username=username).exists():
            return None
        user = User(username=username, email=email.strip(), roles=[Role.ADMIN], is_staff=True, is_superuser=True)
        try:
            validate_password(password, user)
        except ValidationError as error:
            message = _("The administrator's password is too weak.")
            raise InvalidInput(message, fields={"password": error.messages}) from None
        user.set_password(password)
        user.save()
        record_reference_change(None, ReferenceChange("user", user.pk, "created", ("roles", "username")))
        return user


def _subject_rows(nodes: list[dict[str, Any]], parent: Subject | None, path: str, order: list[int]) -> None:
    for node in nodes:
        order[0] += 1
        children = node.get("children") or []
        full_path = f"{path} > {node['name']}" if path else node["name"]
        subject, _created = Subject.objects.update_or_create(
            code=node["code"],
            defaults={
                "name": node["name"],
                "name_en": node.get("name_en", ""),
                "parent": parent,
                "path": full_path,
                "is_leaf": not children,
                "default_agency_function": node.get("default_agency_function", ""),
                "time_limits": node.get("time_limits", {}),
                "sort_order": order[0],
                "active": True,
            },
        )
        _subject_rows(children, subject, full_path, order)


def do_load_taxonomy(document: dict[str, Any]) -> tuple[int, int]:
    with transaction.atomic():
        for position, row in enumerate(document["appeal_types"]):
            AppealType.objects.update_or_create(
                code=row["code"],
                defaults={"name": row["name"], "name_en": row.get("name_en", ""), "sort_order": position},
            )
        _subject_rows(document["subjects"], None, "", [0])
    return AppealType.objects.count(), Subject.objects.filter(is_leaf=True).count()


def do_save_appeal_type(appeal_type: AppealType, *, actor: User | None, changed: Sequence[str]) -> AppealType:
    """An appeal type edited by a person (the admin): saved, audited, announced."""
    with transaction.atomic():  # the admin's own transaction may enclose it
        created = appeal_type.pk is None
        appeal_type.save()
        change = ReferenceChange("appeal_type", appeal_type.pk, "created" if created else "changed", tuple(changed))
        record_reference_change(actor, change)
    return appeal_type


def do_save_subject(subject: Subject, *, actor: User | None, changed: Sequence[str]) -> Subject:
    """A subject edited by a person (the admin): saved with the stored full names and leaf flags kept true for
    the whole tree, audited, announced."""
    with transaction.atomic():  # the admin's own transaction may enclose it
        created = subject.pk is None
        _save_subject_tree(subject)
        change = ReferenceChange("subject", subject.pk, "created" if created else "changed", tuple(changed))
        record_reference_change(actor, change)
    return subject


def _save_subject_tree(subject: Subject) -> None:
    parent_path = subject.parent.path if subject.parent_id and subject.parent else ""
    subject.path = f"{parent_path} > {subject.name}" if parent_path else subject.name
    subject.is_leaf = not subject.pk or not Subject.objects.filter(parent=subject).exists()
    subject.save()
    if subject.parent_id:
        Subject.objects.filter(pk=subject.parent_id).update(is_leaf=False)
    for child in Subject.objects.filter(parent=subject):
        _save_subject_tree(child)


# --- cities and bulk imports (the management API and the admin) --------------------------------------


def do_save_city(city: City, *, actor: User | None, changed: Sequence[str]) -> City:
    """A city created or edited by a person: saved (its change time tells every process's routing index to
    rebuild), audited, announced. The first city created is the default one: rows naming no city belong to it."""
    with transaction.atomic():
        created = city.pk is None
        # Later than the stored time even under a pinned clock: the routing index's key must change.
        stored = None if created else City.objects.filter(pk=city.pk).values_list("updated_at", flat=True).first()
        now = clock.now()
        city.updated_at = now if stored is None or now > stored else stored + dt.timedelta(microseconds=1)
        city.save()
        record_reference_change(
            actor, ReferenceChange("city", city.pk, "created" if created else "changed", tuple(changed))
        )
    return city


def check_delete_city(city: City) -> None:
    """A city is deleted only while nothing refers to it: agencies, staff, layers, routing rules, tickets, ...
    (every relation to City, whichever app holds it), and for the default city also the rows that name no city
    while another city exists (they would silently move to the next default city). Conflict names them."""
    default_id = default_city_id()
    others = City.objects.exclude(pk=city.pk).exists()
    found = []
    for relation in City._meta.get_fields(include_hidden=True):
        if not isinstance(relation, ForeignObjectRel) or not isinstance(relation.related_model, type):
            continue
        model, name = relation.related_model, relation.field.name
        rows = model._default_manager.filter(**{name: city})
        if city.pk == default_id and others and relation.field.null:
            rows = model._default_manager.filter(Q(**{name: city}) | Q(**{f"{name}__isnull": True}))
        count = rows.count()
        if count:
            found.append(f"{model._meta.verbose_name_plural} ({count})")
    if found:
        raise Conflict(
            _("The city is still in use and cannot be deleted: %(uses)s. Deactivate it instead.")
            % {"uses": ", ".join(found)},
            code="city_in_use",
        )


def do_delete_city(city_id: int, *, actor: User | None) -> None:
    """Delete a city nothing refers to (check_delete_city), audited and announced."""
    with transaction.atomic():
        city = City.objects.select_for_update(of=("self",)).filter(pk=city_id).first()
        if city is None:
            raise NotFound(_("No such city."))
        check_delete_city(city)
        city.delete()
        record_reference_change(actor, ReferenceChange("city", city_id, "deleted", ()))


def do_ensure_city(*, code: str, name: str, name_en: str = "", adcode: str = "") -> City:
    """A city for a loader (no person acts): created once, left as it is afterwards (an administrator's edits
    stay)."""
    with transaction.atomic():
        city, _created = City.objects.get_or_create(
            code=code, defaults={"name": name, "name_en": name_en, "adcode": adcode, "updated_at": clock.now()}
        )
        return city


AGENCY_COLUMNS = ("code", "name", "name_en", "kind", "function", "parent", "adcode", "city", "active", "sort_order")
USER_COLUMNS = ("username", "first_name", "last_name", "email", "roles", "agency", "city", "extension", "active")


def _agency_values(agency: Agency) -> dict[str, Any]:
    return {
        "name": agency.name,
        "name_en": agency.name_en,
        "kind": agency.kind,
        "function": agency.function,
        "parent": agency.parent.code if agency.parent else "",
        "adcode": agency.adcode,
        "city": agency.city.code if agency.city else "",
        "active": agency.active,
        "sort_order": agency.sort_order,
    }


def _model_errors(obj: Any, line: int, exclude: list[str], errors: list[str]) -> None:
    try:
        obj.full_clean(exclude=exclude, validate_unique=False)
    except ValidationError as error:
        for name, messages in error.message_dict.items():
            errors.append(imports.line_problem(line, f"{name}: {' '.join(messages)}"))


def _cell_values(
    header: list[str], row: dict[str, str], line: int, columns: Sequence[str], errors: list[str]
) -> dict[str, Any]:
    wanted: dict[str, Any] = {}
    for name in header:
        if name not in columns or name == columns[0]:
            continue
        value = row.get(name, "")
        if name == "active":
            parsed = imports.flag(value, line, name, errors)
            if parsed is not None:
                wanted[name] = parsed
        elif name == "sort_order":
            if value:
                try:
                    wanted[name] = int(value)
                except ValueError:
                    problem = _("sort_order is not a whole number: %(value)s") % {"value": value}
                    errors.append(imports.line_problem(line, problem))
        elif name == "roles":
            wanted[name] = sorted(set(imports.split_codes(value)))
        else:
            wanted[name] = value
    return wanted


def do_import_agencies(
    header: list[str], rows: list[imports.Row], *, actor: User, dry_run: bool, city: City | None = None
) -> imports.ImportPlan:
    """Agencies from a table (columns AGENCY_COLUMNS; ``code`` is the key; parents by code, before their
    children; ``city`` by code, else ``city`` for new agencies). Only the columns in the file are changed."""
    if "code" not in header:
        raise InvalidInput(_("Missing columns."), fields={"columns": ["code"]})
    plan = imports.ImportPlan("agencies", dry_run=dry_run)
    plan.errors += imports.unknown_column_problems(header, AGENCY_COLUMNS)
    existing = {a.code: a for a in Agency.objects.select_related("parent", "city")}
    cities = {c.code: c for c in City.objects.all()}
    pending: list[tuple[imports.RowPlan, Agency, dict[str, Any]]] = []
    seen: set[str] = set()
    for line, row in rows:
        code = row.get("code", "")
        errors: list[str] = []
        if code in seen:
            errors.append(imports.line_problem(line, _("code %(code)s appears twice") % {"code": code}))
        seen.add(code)
        wanted = _cell_values(header, row, line, AGENCY_COLUMNS, errors)
        agency = existing.get(code)
        if agency is None and "city" not in wanted and city is not None:
            wanted["city"] = city.code
        if wanted.get("parent") and wanted["parent"] not in existing and wanted["parent"] not in seen - {code}:
            errors.append(imports.line_problem(line, _("unknown parent agency %(code)s") % {"code": wanted["parent"]}))
        if wanted.get("city") and wanted["city"] not in cities:
            errors.append(imports.line_problem(line, _("unknown city %(code)s") % {"code": wanted["city"]}))
        current = _agency_values(agency) if agency else None
        target = agency or Agency(code=code)
        for name in ("name", "name_en", "kind", "function", "adcode", "active", "sort_order"):
            if name in wanted:
                setattr(target, name, wanted[name])
        _model_errors(target, line, ["parent", "city"], errors)
        plan.errors += errors
        changes = imports.changes_of(current, wanted)
        action = "create" if agency is None else ("update" if changes else "unchanged")
        step = imports.RowPlan(line, code, action, changes)
        plan.rows.append(step)
        pending.append((step, target, wanted))
    plan.refuse_if_invalid()
    if dry_run:
        return plan
    with transaction.atomic():
        for step, target, wanted in pending:
            if step.action == "unchanged":
                continue
            if "parent" in wanted:
                target.parent = Agency.objects.get(code=wanted["parent"]) if wanted["parent"] else None
            if "city" in wanted:
                target.city = cities.get(wanted["city"]) if wanted["city"] else None
            do_save_agency(target, actor=actor, changed=sorted(step.changes))
    return plan


def _user_values(user: User) -> dict[str, Any]:
    return {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "roles": sorted(user.roles or ()),
        "agency": user.agency.code if user.agency else "",
        "city": user.city.code if user.city else "",
        "extension": user.extension,
        "active": user.is_active,
    }


def do_import_users(
    header: list[str], rows: list[imports.Row], *, actor: User, dry_run: bool, city: City | None = None
) -> imports.ImportPlan:
    """Users from a table (columns USER_COLUMNS; ``username`` is the key; roles separated by '|'; agency and city
    by code). Passwords are never imported: a new user has none until an administrator sets one."""
    if "username" not in header:
        raise InvalidInput(_("Missing columns."), fields={"columns": ["username"]})
    plan = imports.ImportPlan("users", dry_run=dry_run)
    plan.errors += imports.unknown_column_problems(header, USER_COLUMNS)
    existing = {u.username: u for u in User.objects.select_related("agency", "city")}
    agencies = {a.code: a for a in Agency.objects.all()}
    cities = {c.code: c for c in City.objects.all()}
    pending: list[tuple[imports.RowPlan, User, dict[str, Any]]] = []
    seen: set[str] = set()
    for line, row in rows:
        username = row.get("username", "")
        errors: list[str] = []
        if username in seen:
            errors.append(imports.line_problem(line, _("username %(username)s appears twice") % {"username": username}))
        seen.add(username)
        wanted = _cell_values(header, row, line, USER_COLUMNS, errors)
        user = existing.get(username)
        if user is None and "city" not in wanted and city is not None:
            wanted["city"] = city.code
        bad_roles = [r for r in wanted.get("roles", []) if r not in Role.values]
        if bad_roles:
            errors.append(imports.line_problem(line, _("unknown roles %(roles)s") % {"roles": ", ".join(bad_roles)}))
        if wanted.get("agency") and wanted["agency"] not in agencies:
            errors.append(imports.line_problem(line, _("unknown agency %(code)s") % {"code": wanted["agency"]}))
        if wanted.get("city") and wanted["city"] not in cities:
            errors.append(imports.line_problem(line, _("unknown city %(code)s") % {"code": wanted["city"]}))
        current = _user_values(user) if user else None
        target = user or User(username=username)
        for name in ("first_name", "last_name", "email", "extension"):
            if name in wanted:
                setattr(target, name, wanted[name])
        if not bad_roles and "roles" in wanted:
            target.roles = wanted["roles"]
        if "active" in wanted:
            target.is_active = wanted["active"]
        _model_errors(target, line, ["password", "agency", "city", "roles"], errors)
        plan.errors += errors
        changes = imports.changes_of(current, wanted)
        action = "create" if user is None else ("update" if changes else "unchanged")
        step = imports.RowPlan(line, username, action, changes)
        plan.rows.append(step)
        pending.append((step, target, wanted))
    plan.refuse_if_invalid()
    if dry_run:
        return plan
    with transaction.atomic():
        for step, target, wanted in pending:
            if step.action == "unchanged":
                continue
            roles_before: list[str] = []
            if target.pk:  # the roles as stored (the plan's "before" where the file changes them)
                roles_before = list(step.changes["roles"][0] if "roles" in step.changes else target.roles or ())
            if "agency" in wanted:
                target.agency = agencies.get(wanted["agency"]) if wanted["agency"] else None
            if "city" in wanted:
                target.city = cities.get(wanted["city"]) if wanted["city"] else None
            if target.pk is None:
                target.set_unusable_password()
            do_save_user(target, actor=actor, changed=sorted(step.changes), roles_before=roles_before)
    return plan
