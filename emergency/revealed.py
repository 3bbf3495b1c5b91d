"""What an incident's reveal shows: the free texts the viewer may read (the incident, the linked agencies'
tasks, the timeline rows it sees) in which a typed phone or ID-card number is masked for them, in full."""

from __future__ import annotations

from typing import Any, cast

from rest_framework.request import Request

from emergency.access import visible_incident_timeline, visible_incidents
from emergency.serializers import IncidentDetailSerializer, IncidentTimelineSerializer
from organisation.policy import current_user
from organisation.privacy import hidden_texts


def revealed_incident_texts(request: Request, incident_id: int) -> dict[str, Any]:
    """{"incident": {field: text}, "tasks": {id: {field: text}}, "timeline": {id: {field: text}}}; only texts
    that hold a masked number are listed."""
    user = current_user(request)
    incident = visible_incidents(user).select_related("commander", "merged_into").get(pk=incident_id)
    detail: dict[str, Any] = dict(IncidentDetailSerializer(incident, context={"request": request}).data)
    rows = visible_incident_timeline(user, incident).select_related("actor").order_by("id")
    timeline = cast(list[Any], IncidentTimelineSerializer(rows, many=True, context={"request": request}).data)
    own = {key: value for key, value in detail.items() if not isinstance(value, list)}
    tasks = {str(row["id"]): hidden_texts(row) for row in detail["agencies"]}
    notes = {str(row["id"]): hidden_texts(row) for row in timeline}
    return {
        "incident": hidden_texts(own),
        "tasks": {key: texts for key, texts in tasks.items() if texts},
        "timeline": {key: texts for key, texts in notes.items() if texts},
    }
