"""Incident exchange with partner centres (NENA EIDO, emergency/eido/): take over an incident from another
centre's EIDO, send one of ours to a partner through the outbox.

Import is keyed on the EIDO's incident tracking identifier: the first document creates the incident, a document
this centre wrote finds the incident it describes (ours is never changed by an echo). A later document of an
incident we took over updates our copy (``update_eido``, below); the document's own ``lastUpdateTimeStamp`` is
its version: the same version again changes nothing ("unchanged"), an older one than the version applied is
refused. The unique row (ImportedIncident.tracking_id) settles two concurrent first imports: the loser's
transaction rolls back and it answers with the winner's incident.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from core import clock
from core.errors import InvalidInput, NotAllowed
from dispatch import workflow
from dispatch.workflow import Machine
from emergency.actions.incidents import (
    _bump_alert,
    check_report_incident,
    check_update_incident,
    create_incident,
    emit_incident_event,
    transition_incident,
    write_incident_timeline,
)
from emergency.eido import export, partners
from emergency.eido.parse import ImportedEido, read_eido
from emergency.locks import lock_incident
from emergency.models import ImportedIncident, Incident
from exchange.models import ApiKey, Delivery
from exchange.outbox import enqueue_to
from organisation import policy
from organisation.models import User

EXCHANGE_SCOPE = "incidents:exchange"


#: What an import did: a new incident, our copy updated from a later document, or nothing (same version).
CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"


@dataclass(frozen=True)
class ImportResult:
    incident: Incident
    outcome: str

    @property
    def created(self) -> bool:
        return self.outcome == CREATED


def is_exchange_key(actor: User) -> bool:
    """A partner's API key (no agency) holding the ``incidents:exchange`` scope, not revoked or expired: another
    centre's system importing its incidents (exchange/keys/)."""
    key = ApiKey.objects.filter(user=actor, agency__isnull=True, revoked_at__isnull=True).first()
    return key is not None and key.expires_at > clock.now() and EXCHANGE_SCOPE in (key.scopes or [])


def _may_exchange(actor: User, *, keys_too: bool = False) -> bool:
    """True when the actor is a partner's key (the caller then skips the workflow's role check)."""
    if actor.has_role(*policy.COMMAND):
        return False
    if keys_too and is_exchange_key(actor):
        return True
    raise NotAllowed(_("Only the command desk exchanges incidents with other centres."))


def _already_known(tracking_id: str) -> Incident | None:
    imported = ImportedIncident.objects.select_related("incident").filter(tracking_id=tracking_id).first()
    if imported is not None:
        return imported.incident
    own_prefix, own_suffix = "urn:emergency:uid:incidentid:", f":{export.agency_id()}"
    if tracking_id.startswith(own_prefix) and tracking_id.endswith(own_suffix):
        number = tracking_id[len(own_prefix) : -len(own_suffix)]
        return Incident.objects.filter(number=number).first()
    return None


def do_import_eido(document: Any, *, actor: User) -> ImportResult:
    """An incident from another centre's EIDO (validated against NENA's schema), or the one it already made."""
    by_key = _may_exchange(actor, keys_too=True)
    eido = read_eido(document)
    known = _already_known(eido.tracking_id)
    if known is not None:
        return _reimport(known, eido, actor=actor, by_key=by_key)
    form = check_report_incident(eido.form)
    try:
        with transaction.atomic(durable=True):
            at = clock.now()
            incident = create_incident(
                form, "import_eido", actor=actor, at=at, reported_at=at, title=form.title, cascaded=by_key
            )
            ImportedIncident.objects.create(
                incident=incident,
                tracking_id=eido.tracking_id,
                issuer=eido.issuer,
                sending_agency=eido.sending_agency,
                source_updated_at=eido.updated_at,
                imported_by=actor,
                imported_at=at,
            )
            write_incident_timeline(
                incident,
                machine=Machine.INCIDENT.value,
                action="import_eido",
                actor=actor,
                at=at,
                to_state=incident.state,
                note=form.description,
                data={"tracking_id": eido.tracking_id, "issuer": eido.issuer, "agency": eido.sending_agency},
            )
            emit_incident_event(incident, "incident.created")
    except IntegrityError:
        known = _already_known(eido.tracking_id)
        if known is None:
            raise
        return _reimport(known, eido, actor=actor, by_key=by_key)  # the winner's version, or a later one
    return ImportResult(incident, CREATED)


def _update_form(eido: ImportedEido) -> dict[str, Any]:
    """The document's incident as an update of our copy (check_update_incident): what the import maps."""
    form = eido.form
    data = {key: form[key] for key in ("type", "level", "title", "description", "latitude", "longitude")}
    data.update(
        coordinate_system="wgs84",
        address=form.get("address", ""),
        area_kind=form.get("area_kind", "point"),
        area_radius_m=form.get("area_radius_m"),
        area_geojson=form.get("area_geojson"),
    )
    return data


def check_newer_eido(imported: ImportedIncident, eido: ImportedEido) -> bool:
    """True when the document is a later version than the one applied, False when it is the same version;
    InvalidInput when it is older (or has no time to compare while the applied one has)."""
    applied = imported.source_updated_at
    if applied is None:
        return True
    if eido.updated_at is not None and eido.updated_at > applied:
        return True
    if eido.updated_at is not None and eido.updated_at == applied:
        return False
    raise InvalidInput(
        _("The document is older than the version of this incident already applied."),
        code="eido_out_of_date",
        fields={
            "lastUpdateTimeStamp": [
                _("Must be later than %(applied)s, the last update already applied.")
                % {"applied": export.eido_time(applied)}
            ]
        },
    )


def _reimport(known: Incident, eido: ImportedEido, *, actor: User, by_key: bool) -> ImportResult:
    """A later document of an incident we took over updates our copy: the fields the import maps (type,
    level, title, description, address, place, affected area) and the sender on the ImportedIncident row,
    on the timeline as ``update_eido`` with the usual ``incident.changed`` event (and a new CAP revision when
    the incident is public). Our own incidents (an echo) and the same version again change nothing."""
    if not ImportedIncident.objects.filter(incident_id=known.pk, tracking_id=eido.tracking_id).exists():
        return ImportResult(known, UNCHANGED)
    check_report_incident(eido.form)  # the document's fields as a report would take them, before any lock
    with transaction.atomic(durable=True):
        at = clock.now()
        incident = lock_incident(known.pk)
        imported = ImportedIncident.objects.select_for_update(of=("self",)).get(incident_id=incident.pk)
        if not check_newer_eido(imported, eido):
            return ImportResult(incident, UNCHANGED)
        try:
            changed = check_update_incident(incident, _update_form(eido))
        except InvalidInput as error:
            if set(error.fields) != {"body"}:  # anything but "nothing to change"
                raise
            changed = {}
        imported.source_updated_at = eido.updated_at
        imported.issuer, imported.sending_agency = eido.issuer, eido.sending_agency
        imported.save(update_fields=["source_updated_at", "issuer", "sending_agency"])
        if not changed:
            return ImportResult(incident, UNCHANGED)
        summary = {key: value for key, value in changed.items() if key not in ("description", "area_geojson")}
        transition_incident(
            incident,
            "update_eido",
            actor=actor,
            at=at,
            data={
                "changed": summary,
                "tracking_id": eido.tracking_id,
                "issuer": eido.issuer,
                "agency": eido.sending_agency,
                "source_updated_at": export.eido_time(eido.updated_at) if eido.updated_at else "",
            },
            changes=changed,
            cascaded=by_key,
        )
        if incident.public_alert:
            _bump_alert(incident, at)
    return ImportResult(incident, UPDATED)


def check_send_eido(partner_key: Any) -> partners.Partner:
    partner = partners.partners().get(partner_key) if isinstance(partner_key, str) else None
    if partner is None:
        known = ", ".join(sorted(partners.partners())) or _("none configured")
        raise InvalidInput(_("Some fields are not valid."), fields={"partner": [_("One of: %(v)s") % {"v": known}]})
    return partner


def do_send_eido(incident_id: int, partner_key: Any, *, actor: User) -> Delivery:
    """Queue the incident's EIDO for a partner centre (delivered by the outbox worker), on the timeline."""
    _may_exchange(actor)
    partner = check_send_eido(partner_key)
    with transaction.atomic(durable=True):
        at = clock.now()
        incident = lock_incident(incident_id)
        workflow.authorise(Machine.INCIDENT, incident.state, "send_eido", actor=actor, obj=incident)
        body = json.dumps(export.build_eido(incident), ensure_ascii=False, separators=(",", ":"))
        delivery = enqueue_to(partners.KIND, partner.key, partners.EVENT_TYPE, body)
        transition_incident(
            incident,
            "send_eido",
            actor=actor,
            at=at,
            data={"partner": partner.key, "partner_name": partner.name, "delivery": str(delivery.pk)},
        )
    return delivery
