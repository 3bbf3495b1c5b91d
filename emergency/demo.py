"""Demo incidents in Liuzhou, written through the real actions (called by load_demo_city).

Idempotent: the transfer lists are upserted; incidents are created only while none exists, so a
second load changes nothing. One incident is escalated from an open demo ticket when there is one.
"""

from __future__ import annotations

from typing import Any

from callcenter.models import Ticket, TicketState
from emergency import actions
from emergency.actions.transfer import do_load_transfer_list
from emergency.linkage import suggestions_for
from emergency.models import Assignment, Incident, IncidentAgency, TransferRule, Unit
from emergency.states import UnitStatus, UnitType
from emergency.units.actions import do_assign_units, do_change_unit_status
from emergency.units.measures import distance_m
from emergency.units.recommendation import NEEDED_TYPES, REPAIR_FUNCTION
from organisation.actions import do_upsert_user
from organisation.models import Agency, Role, User

# Each: the report form, the command steps after it, task steps per linked function, public alert or not.
# "dispatch" sends real units (the nearest available of each needed type) and "arrive" reports the first of
# them on scene, so that an incident whose state says forces were sent also lists the units it sent.
DEMO_INCIDENTS: list[dict[str, Any]] = [
    {
        "form": {
            "type": "fire",
            "level": "III",
            "title": "文惠路居民楼火灾",
            "description": "文惠路一居民楼三层住户起火，浓烟较大，有人员被困。",
            "address": "柳州市城中区文惠路18号",
            "latitude": 24.3161,
            "longitude": 109.4098,
            "area_kind": "circle",
            "area_radius_m": 300,
        },
        "steps": ["confirm", "dispatch"],
        "tasks": {"fire_rescue": ["acknowledge", "start_work"], "emergency_medical": ["acknowledge"]},
        "public": True,
    },
    {
        "form": {
            "type": "flood",
            "level": "II",
            "title": "航生路下穿隧道积水",
            "description": "强降雨致航生路下穿隧道积水约1米，多辆车辆被困。",
            "address": "柳州市柳南区航生路下穿隧道",
            "latitude": 24.2905,
            "longitude": 109.3870,
            "area_kind": "polygon",
            "area_geojson": {
                "type": "Polygon",
                "coordinates": [
                    [
                        [109.3850, 24.2890],
                        [109.3895, 24.2890],
                        [109.3895, 24.2920],
                        [109.3850, 24.2920],
                        [109.3850, 24.2890],
                    ]
                ],
            },
        },
        "steps": ["confirm", "dispatch", "arrive"],
        "tasks": {"fire_rescue": ["acknowledge", "start_work"], "water_supply": ["acknowledge"]},
        "public": True,
    },
    {
        "form": {
            "type": "traffic_accident",
            "level": "IV",
            "title": "桂中大道三车追尾",
            "description": "桂中大道与东环大道交叉口三车追尾，一人受伤。",
            "address": "柳州市鱼峰区桂中大道与东环大道交叉口",
            "latitude": 24.3010,
            "longitude": 109.4550,
        },
        "steps": ["confirm"],
        "tasks": {"traffic_police": ["acknowledge"]},
        "public": False,
    },
    {
        "form": {
            "type": "power_outage",
            "level": "IV",
            "title": "雅儒片区停电",
            "description": "雅儒路片区大面积停电，已恢复供电。",
            "address": "柳州市柳北区雅儒路",
            "latitude": 24.3660,
            "longitude": 109.4050,
        },
        "steps": ["dispatch", "arrive", "control"],
        "tasks": {"power_supply": ["acknowledge", "start_work", "finish"]},
        "close": True,
        "public": False,
    },
]


def _agency_user(agency_id: int) -> User:
    """A user of the agency to act on its task; the demo gives each linked agency a duty handler."""
    for user in User.objects.filter(agency_id=agency_id, is_active=True).order_by("id"):
        if user.has_role(Role.AGENCY_HANDLER):
            return user
    agency = Agency.objects.get(pk=agency_id)
    return do_upsert_user(
        username=f"duty-{agency.code}",
        password=None,
        roles=[Role.AGENCY_HANDLER],
        agency_code=agency.code,
        first_name=f"{agency.name} 值班员",
    )


def _nearest_units(incident: Incident) -> list[int]:
    """One available unit of each type the incident type needs, the nearest to the scene from its home
    station (demo units have not reported a position yet when the demo loads), ties by id."""
    needed = NEEDED_TYPES.get(incident.type, (UnitType.POLICE_CAR,))
    candidates = Unit.objects.filter(active=True, status=UnitStatus.AVAILABLE, unit_type__in=needed).select_related(
        "agency"
    )
    function = REPAIR_FUNCTION.get(incident.type)
    chosen = []
    for unit_type in needed:
        of_type = [
            unit
            for unit in candidates
            if unit.unit_type == unit_type
            and not (unit_type == UnitType.REPAIR_CREW and function and unit.agency.function != function)
        ]
        if of_type:
            nearest = min(
                of_type,
                key=lambda u: (
                    distance_m(u.station_longitude, u.station_latitude, incident.longitude, incident.latitude),
                    u.pk,
                ),
            )
            chosen.append(nearest.pk)
    return chosen


def _command_step(incident: Incident, step: str, commander: User) -> None:
    if step == "dispatch":
        unit_ids = _nearest_units(incident)
        if unit_ids:  # assigning moves the incident to "forces dispatched"
            do_assign_units(incident.pk, unit_ids, actor=commander, note="演示调派")
            return
    if step == "arrive":
        first = Assignment.objects.filter(incident=incident, cleared_at__isnull=True).order_by("id").first()
        if first is not None:  # the first unit on scene puts the incident's forces on scene
            do_change_unit_status(first.unit_id, "arrive", actor=commander)
            return
    actions.do_transition_incident(incident.pk, step, actor=commander)


def _release_units(incident: Incident, commander: User) -> None:
    """Before a demo incident closes, its units clear the scene and are available again."""
    for assignment in Assignment.objects.filter(incident=incident, cleared_at__isnull=True).order_by("id"):
        for action in ("clear", "make_available"):
            do_change_unit_status(assignment.unit_id, action, actor=commander)


def load_demo_incidents(*, commander: User, operator: User) -> int:
    """Create the demo incidents once; returns how many were created."""
    do_load_transfer_list()
    if Incident.objects.exists():
        return 0
    created = 0
    for spec in DEMO_INCIDENTS:
        incident = actions.do_report_incident({**spec["form"], "commander_id": commander.pk}, actor=commander)
        created += 1
        for step in spec["steps"]:
            _command_step(incident, step, commander)
        for suggestion in suggestions_for(incident):
            link = actions.do_link_agency(
                incident.pk, {"agency_id": suggestion.agency.pk, "task": suggestion.task}, actor=commander
            )
            for step in spec["tasks"].get(suggestion.function, []):
                actions.do_act_on_task(link.pk, step, {"note": ""}, actor=_agency_user(link.agency_id))
        if spec.get("close"):
            for link in IncidentAgency.objects.filter(incident=incident, status__in=["notified", "acknowledged"]):
                actions.do_act_on_task(
                    link.pk, "decline", {"note": "已由供电部门处置完毕"}, actor=_agency_user(link.agency_id)
                )
            _release_units(incident, commander)
            actions.do_transition_incident(incident.pk, "close", actor=commander, note="供电已恢复")
        if spec["public"]:
            actions.do_set_public_alert(incident.pk, actor=commander, publish=True)
    # A waiting ticket whose subject is on the transfer lists becomes an incident of the listed type.
    rules = TransferRule.objects.filter(active=True).exclude(incident_type="")
    by_subject = {rule.subject_id: rule.incident_type for rule in rules}
    ticket = (
        Ticket.objects.filter(state=TicketState.ACCEPTED, latitude__isnull=False, subject_id__in=list(by_subject))
        .order_by("id")
        .first()
    )
    if ticket is not None:
        actions.do_escalate_ticket(
            ticket.pk, {"type": by_subject[ticket.subject_id], "note": "市民来电反映险情"}, actor=operator
        )
        created += 1
    return created
