"""All writes of the intake side: tickets and callers at intake, reveals, calls, taxonomy and knowledge.
(What happens to a ticket after intake - resolving, merging, cancelling, revisiting, closing - is
dispatch/actions/tickets.py.)

Outermost ``do_*`` functions own a durable transaction; ``check_*`` functions validate and raise
InvalidInput naming each bad field. Transitions go through dispatch.actions' shared machinery.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from callcenter import external, lifecycle
from callcenter.knowledge import weighted_terms
from callcenter.models import (
    Call,
    Caller,
    CallState,
    Channel,
    IdempotencyKey,
    KnowledgeArticle,
    KnowledgeTerm,
    Ticket,
    TicketCaller,
    TicketNumberCounter,
    TicketState,
    Urgency,
)
from callcenter.phones import InvalidPhone, is_known_region, normalise_phone
from callcenter.placement import check_service_area, placement_summary, record_placement
from core import clock
from core.clock import local_zone
from core.errors import Conflict, InvalidInput, NotAllowed, Unprocessable
from core.parsing import clean_text, require_reason, require_text
from gis.coords import CoordinateSystem, convert_point
from organisation import policy
from organisation.actions import audit
from organisation.models import AppealType, Role, Subject, User, city_or_default
from realtime.events import append_event

# --- intake ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketInput:
    channel: str
    phone: str  # E.164, or "" for an anonymous letter or web form
    caller_name: str
    caller_confidential: bool
    appeal_type: AppealType
    subject: Subject
    urgency: str
    title: str
    description: str
    address: str
    latitude: float | None
    longitude: float | None
    source_system: str = ""
    external_id: str = ""
    reported_at: dt.datetime | None = None
    media_url: str = ""


def check_create_ticket(data: dict[str, Any]) -> TicketInput:
    """Validate an intake form; every problem is reported against its field at once."""
    errors: dict[str, list[str]] = {}
    channel = data.get("channel")
    if channel not in Channel.values:
        errors["channel"] = [_("One of: %(v)s") % {"v": ", ".join(Channel.values)}]
    urgency = data.get("urgency", Urgency.NORMAL) or Urgency.NORMAL
    if urgency not in Urgency.values:
        errors["urgency"] = [_("One of: %(v)s") % {"v": ", ".join(Urgency.values)}]
    raw_phone = clean_text(data, "phone", errors, max_length=40)
    country = data.get("phone_country") or None
    if country is not None and not (isinstance(country, str) and is_known_region(country.strip().upper())):
        errors["phone_country"] = [_("A country code of two letters (ISO 3166), e.g. US or CN.")]
        country = None
    phone = ""
    if raw_phone and "phone_country" not in errors:
        try:
            phone = normalise_phone(raw_phone, country.strip().upper() if country else None)
        except InvalidPhone:
            errors["phone"] = [_("Not a valid phone number.")]
    elif channel == Channel.PHONE:
        errors["phone"] = [_("A phone call needs the caller's number.")]
    caller_name = clean_text(data, "caller_name", errors, max_length=60)
    confidential = data.get("caller_confidential", False)
    if not isinstance(confidential, bool):
        errors["caller_confidential"] = [_("Must be true or false.")]
        confidential = False
    title = clean_text(data, "title", errors, max_length=120)
    description = clean_text(data, "description", errors, required=True)
    address = clean_text(data, "address", errors, max_length=200)
    source_system, external_id, reported_at = external.check_reference(data, errors)
    media_url = external.check_media_url(data, errors)

    appeal_type = None
    appeal_code = data.get("appeal_type")
    if isinstance(appeal_code, str):
        appeal_type = AppealType.objects.filter(code=appeal_code).first()
    if appeal_type is None:
        errors["appeal_type"] = [_("Unknown appeal type.")]
    subject = None
    subject_code = data.get("subject")
    if isinstance(subject_code, str):
        subject = Subject.objects.filter(code=subject_code, active=True).first()
    if subject is None:
        errors["subject"] = [_("Unknown subject.")]
    elif not subject.is_leaf:
        errors["subject"] = [_("Choose a subject at the lowest level of the tree.")]

    system = data.get("coordinate_system") or CoordinateSystem.WGS84
    if system not in CoordinateSystem.__members__.values():
        errors["coordinate_system"] = [_("One of: %(v)s") % {"v": ", ".join(s.value for s in CoordinateSystem)}]
        system = CoordinateSystem.WGS84
    latitude, longitude = data.get("latitude"), data.get("longitude")
    if (latitude is None) != (longitude is None):
        errors["latitude" if latitude is None else "longitude"] = [_("Give both latitude and longitude, or neither.")]
    for name, value, limit in (("latitude", latitude, 90), ("longitude", longitude, 180)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not -limit <= value <= limit:
            errors[name] = [_("A number between -%(n)d and %(n)d (WGS84 degrees).") % {"n": limit}]
    if errors:
        raise InvalidInput(_("Some fields are not valid."), fields=errors)
    assert appeal_type is not None and subject is not None
    if latitude is not None and longitude is not None:
        # Stored coordinates are always WGS84; Chinese map apps send GCJ-02 or BD-09.
        longitude, latitude = convert_point(float(longitude), float(latitude), str(system), CoordinateSystem.WGS84)
        check_service_area(float(longitude), float(latitude))
    return TicketInput(
        channel=str(channel),
        phone=phone,
        caller_name=caller_name,
        caller_confidential=confidential,
        appeal_type=appeal_type,
        subject=subject,
        urgency=str(urgency),
        title=title,
        description=description,
        address=address,
        latitude=float(latitude) if latitude is not None else None,
        longitude=float(longitude) if longitude is not None else None,
        source_system=source_system,
        external_id=external_id,
        reported_at=reported_at,
        media_url=media_url,
    )


def _link_call(ticket: Ticket, call_id: Any) -> Call | None:
    if call_id is None:
        return None
    call = Call.objects.select_for_update(of=("self",)).filter(pk=call_id).first() if isinstance(call_id, int) else None
    if call is None or call.ticket_id is not None:
        raise InvalidInput(
            _("Unknown call, or a ticket was already taken from it."),
            fields={"call_id": [_("Unknown or already linked call.")]},
        )
    call.ticket = ticket
    call.save(update_fields=["ticket"])
    return call


def _next_ticket_number(at: dt.datetime) -> str:
    day = at.astimezone(local_zone()).date()
    # The counter row is created without racing (ON CONFLICT DO NOTHING), then bumped under its row lock.
    TicketNumberCounter.objects.bulk_create([TicketNumberCounter(day=day)], ignore_conflicts=True)
    TicketNumberCounter.objects.filter(day=day).update(last_value=F("last_value") + 1)
    value = TicketNumberCounter.objects.get(day=day).last_value
    return f"{settings.HOTLINE['TICKET_NUMBER_PREFIX']}-{day:%Y%m%d}-{value:06d}"


def _claim_idempotency_key(actor: User, key: str, request_hash: str, at: dt.datetime) -> IdempotencyKey:
    ttl = dt.timedelta(hours=settings.HOTLINE["IDEMPOTENCY_KEY_TTL_HOURS"])
    IdempotencyKey.objects.filter(user=actor, key=key, created_at__lt=at - ttl).delete()
    # A concurrent request with the same key waits here on the unique index until the first commits.
    IdempotencyKey.objects.bulk_create(
        [IdempotencyKey(user=actor, key=key, request_hash=request_hash, created_at=at)], ignore_conflicts=True
    )
    return IdempotencyKey.objects.select_for_update(of=("self",)).get(user=actor, key=key)


def do_create_ticket(
    data: dict[str, Any], *, actor: User, idempotency_key: str = "", request_hash: str = ""
) -> tuple[Ticket, bool]:
    """Accept (受理) a ticket. Returns (ticket, created); a repeated idempotency key returns the first."""
    if idempotency_key and (len(idempotency_key) > 100 or not request_hash):
        raise InvalidInput(
            _("Idempotency-Key must be at most 100 characters."),
            fields={"Idempotency-Key": [_("At most 100 characters.")]},
        )
    lifecycle.recorder().authorise_accept(actor)
    intake = check_create_ticket(data)
    fingerprint = external.fingerprint(intake) if intake.external_id else ""
    try:
        return _accept(
            intake,
            data,
            actor=actor,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            fingerprint=fingerprint,
        )
    except IntegrityError:
        # A concurrent intake with the same external reference committed first: the unique constraint made this
        # one wait for it and then fail, and everything this one wrote was rolled back.
        existing = _by_reference(intake)
        if existing is None:
            raise
        return _repeated_reference(existing, fingerprint), False


def _by_reference(intake: TicketInput) -> Ticket | None:
    if not intake.external_id:
        return None
    return Ticket.objects.filter(source_system=intake.source_system, external_id=intake.external_id).first()


def _repeated_reference(existing: Ticket, fingerprint: str) -> Ticket:
    if existing.intake_fingerprint != fingerprint:
        raise Conflict(
            _("A ticket with this source system and external id was already accepted with other content."),
            code="external_reference_reused",
            fields={"external_id": [_("Already used with other content; look the ticket up by this id.")]},
        )
    return existing


def _accept(
    intake: TicketInput,
    data: dict[str, Any],
    *,
    actor: User,
    idempotency_key: str,
    request_hash: str,
    fingerprint: str,
) -> tuple[Ticket, bool]:
    with transaction.atomic(durable=True):
        at = clock.now()
        claim = None
        if idempotency_key:
            claim = _claim_idempotency_key(actor, idempotency_key, request_hash, at)
            if claim.request_hash != request_hash:
                raise Unprocessable(
                    _("This Idempotency-Key was used with a different request body."), code="idempotency_key_reused"
                )
            if claim.ticket_id is not None:
                return Ticket.objects.get(pk=claim.ticket_id), False
        existing = _by_reference(intake)
        if existing is not None:
            _repeated_reference(existing, fingerprint)
            if claim is not None:
                claim.ticket = existing
                claim.save(update_fields=["ticket"])
            return existing, False
        caller = None
        if intake.phone:
            caller, _created = Caller.objects.get_or_create(phone=intake.phone, defaults={"created_at": at})
            if intake.caller_name and caller.name != intake.caller_name:
                caller.name = intake.caller_name
                caller.save(update_fields=["name"])
        ticket = Ticket.objects.create(
            number=_next_ticket_number(at),
            state=TicketState.ACCEPTED,
            channel=intake.channel,
            caller=caller,
            caller_name=intake.caller_name,
            caller_confidential=intake.caller_confidential,
            appeal_type=intake.appeal_type,
            subject=intake.subject,
            urgency=intake.urgency,
            title=intake.title,
            description=intake.description,
            address=intake.address,
            latitude=intake.latitude,
            longitude=intake.longitude,
            city_id=actor.home_city_id,  # the accepting centre's, until the location names a city
            source_system=intake.source_system,
            external_id=intake.external_id,
            reported_at=intake.reported_at,
            media_url=intake.media_url,
            intake_fingerprint=fingerprint,
            created_by=actor,
            created_at=at,
            updated_at=at,
        )
        if caller is not None:
            TicketCaller.objects.create(
                ticket=ticket,
                caller=caller,
                caller_name=intake.caller_name,
                confidential=intake.caller_confidential,
                via_ticket=ticket,
                added_at=at,
            )
        if claim is not None:
            claim.ticket = ticket
            claim.save(update_fields=["ticket"])
        call = _link_call(ticket, data.get("call_id"))
        placement = record_placement(ticket)
        lifecycle.recorder().record_accept(
            ticket,
            actor=actor,
            at=at,
            data={
                "channel": intake.channel,
                "subject": intake.subject.code,
                "placement": placement_summary(placement),
                "call": call.external_id if call else None,
            },
        )
    return ticket, True


def do_reveal_caller(ticket_id: int, *, actor: User, reason: str) -> dict[str, Any]:
    """Show an agency user the caller's full number and name, and write down who, when and why."""
    require_text({"reason": reason}, required=["reason"])
    require_reason(reason)
    if not actor.has_role(Role.AGENCY_HANDLER, Role.AGENCY_ADMIN, *policy.INTAKE, Role.SUPERVISOR):
        raise NotAllowed(_("Your role may not reveal caller details."))
    with transaction.atomic(durable=True):
        ticket = Ticket.objects.select_related("caller").get(pk=ticket_id)
        callers = list(TicketCaller.objects.filter(ticket=ticket).select_related("caller").order_by("id"))
        audit(
            actor,
            "reveal_caller",
            target_type="ticket",
            target_id=ticket.pk,
            reason=reason,
            # The typed numbers in the ticket's free text too (organisation/privacy.py), shown beside.
            details=["phone", "caller_name", "free_text"],
        )
        append_event(
            "caller.revealed",
            {"ticket_id": ticket.pk, "actor_id": actor.pk},
            ticket_id=ticket.pk,
            city_id=city_or_default(ticket.city_id),
        )
    return {
        "phone": ticket.caller.phone if ticket.caller else "",
        "caller_name": ticket.caller_name,
        "callers": [
            {"caller_id": row.caller_id, "phone": row.caller.phone, "name": row.caller_name} for row in callers
        ],
    }


# --- calls (CTI) ---------------------------------------------------------------------------------------

CALL_ORDER = {CallState.RINGING: 0, CallState.ANSWERED: 1, CallState.ENDED: 2}


def check_call_event(data: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    external_id = clean_text(data, "call_id", errors, required=True, max_length=64)
    event = data.get("event")
    if event not in CallState.values:
        errors["event"] = [_("One of: %(v)s") % {"v": ", ".join(CallState.values)}]
    extension = clean_text(data, "extension", errors, max_length=20)
    raw_phone = clean_text(data, "caller", errors, max_length=40)
    phone = ""
    if raw_phone:
        try:
            phone = normalise_phone(raw_phone)
        except InvalidPhone:
            errors["caller"] = [_("Not a valid phone number.")]
    at = data.get("at")
    if at is not None and (not isinstance(at, dt.datetime) or at.tzinfo is None):
        errors["at"] = [_("A date and time with a time zone.")]
    if errors:
        raise InvalidInput(_("Some fields are not valid."), fields=errors)
    return {"external_id": external_id, "event": event, "extension": extension, "phone": phone, "at": at}


def do_record_call_event(data: dict[str, Any], *, actor: User) -> Call:
    """A ringing/answered/ended report from the telephone system; repeats and late arrivals change nothing."""
    if not actor.has_role(Role.OPERATOR, Role.ADMIN):
        raise NotAllowed(_("Your role may not report calls."))
    report = check_call_event(data)
    with transaction.atomic(durable=True):
        at = report["at"] or clock.now()
        Call.objects.bulk_create([Call(external_id=report["external_id"])], ignore_conflicts=True)
        call = Call.objects.select_for_update(of=("self",)).get(external_id=report["external_id"])
        state = report["event"]
        if call.ringing_at is not None and CALL_ORDER[CallState(state)] <= CALL_ORDER[CallState(call.state)]:
            return call
        call.state = state
        call.phone = report["phone"] or call.phone
        if report["extension"]:
            call.extension = report["extension"]
            call.operator = User.objects.filter(extension=report["extension"], is_active=True).order_by("id").first()
        stamp = {CallState.RINGING: "ringing_at", CallState.ANSWERED: "answered_at", CallState.ENDED: "ended_at"}
        setattr(call, stamp[CallState(state)], at)
        call.ringing_at = call.ringing_at or at
        call.save()
        append_event(
            f"call.{state}",
            {
                "call": {
                    "id": call.pk,
                    "state": call.state,
                    "extension": call.extension,
                    "operator_id": call.operator_id,
                    "ticket_id": call.ticket_id,
                }
            },
            # The answering operator's city's centre sees the call (no operator yet: every city's).
            city_id=call.operator.home_city_id if call.operator is not None else None,
        )
    return call


# --- reference data --------------------------------------------------------------------------------


def _index_article(article: KnowledgeArticle) -> None:
    wanted = weighted_terms(article.title, article.keywords, article.body)
    current = {row.term: row for row in KnowledgeTerm.objects.filter(article=article)}
    stale = [row.pk for term, row in current.items() if term not in wanted]
    KnowledgeTerm.objects.filter(pk__in=stale).delete()
    fresh = []
    for term, weight in wanted.items():
        row = current.get(term)
        if row is None:
            fresh.append(KnowledgeTerm(article=article, term=term, weight=weight))
        elif abs(row.weight - weight) > 1e-9:
            KnowledgeTerm.objects.filter(pk=row.pk).update(weight=weight)
    KnowledgeTerm.objects.bulk_create(fresh)


def check_save_article(data: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {
        "code": clean_text(data, "code", errors, required=True, max_length=40),
        "title": clean_text(data, "title", errors, required=True, max_length=120),
        "body": clean_text(data, "body", errors, required=True, max_length=20000),
        "keywords": clean_text(data, "keywords", errors, max_length=300),
    }
    for name in ("valid_from", "valid_to"):
        value = data.get(name)
        if value in (None, ""):
            cleaned[name] = None
        elif isinstance(value, dt.date):
            cleaned[name] = value
        else:
            try:
                cleaned[name] = dt.date.fromisoformat(str(value))
            except ValueError:
                errors[name] = [_("A date like 2026-01-31.")]
    if cleaned.get("valid_from") and cleaned.get("valid_to") and cleaned["valid_to"] < cleaned["valid_from"]:
        errors["valid_to"] = [_("Must not be before the start of validity.")]
    codes = data.get("subjects") or []
    subjects = list(Subject.objects.filter(code__in=codes)) if isinstance(codes, list) else []
    if not isinstance(codes, list) or len(subjects) != len(set(codes)):
        errors["subjects"] = [_("Unknown subject codes.")]
    active = data.get("active", True)
    if not isinstance(active, bool):
        errors["active"] = [_("Must be true or false.")]
    if errors:
        raise InvalidInput(_("Some fields are not valid."), fields=errors)
    cleaned["subjects"] = subjects
    cleaned["active"] = active
    return cleaned


def do_save_article(
    data: dict[str, Any], *, actor: User | None = None, article_id: int | None = None
) -> KnowledgeArticle:
    cleaned = check_save_article(data)
    subjects = cleaned.pop("subjects")
    with transaction.atomic():
        if article_id is not None:
            article = KnowledgeArticle.objects.select_for_update(of=("self",)).get(pk=article_id)
            if KnowledgeArticle.objects.filter(code=cleaned["code"]).exclude(pk=article_id).exists():
                raise InvalidInput(_("Code already used."), fields={"code": [_("Code already used.")]})
        else:
            article = KnowledgeArticle.objects.filter(code=cleaned["code"]).first() or KnowledgeArticle()
        changed = article.pk is None or any(getattr(article, k) != v for k, v in cleaned.items())
        if changed:
            for name, value in cleaned.items():
                setattr(article, name, value)
            article.updated_at = clock.now()
            article.save()
        if set(article.subjects.values_list("pk", flat=True)) != {s.pk for s in subjects}:
            article.subjects.set(subjects)
        _index_article(article)
    return article


def reindex_article(article: KnowledgeArticle) -> None:
    with transaction.atomic():
        _index_article(article)


__all__ = [
    "check_create_ticket",
    "do_create_ticket",
    "do_reveal_caller",
    "do_save_article",
]
