"""Free text as agencies read it: phone and ID-card numbers typed into titles, descriptions, notes and replies
are masked for everyone who does not see callers' details (organisation.policy.sees_caller_details), exactly as
the caller's number field is; the ticket's reveal (audited) shows them.

``shown_text`` is the policy on one text, ``shown_to`` on a structure of them (a serialized ticket, an event's
payload): every string under a free-text key, at any depth, goes through core.redaction. Every JSON answer of
the API passes ``FreeTextJSONRenderer`` (settings.REST_FRAMEWORK), so an endpoint added later is covered too;
pages, exports and socket messages call these functions where they build what agencies read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework.exceptions import APIException
from rest_framework.renderers import JSONRenderer

from core.redaction import mask_personal_numbers
from organisation.models import User
from organisation.policy import sees_caller_details

#: Keys whose values are text somebody typed (ticket, work order, timeline, incident and task fields). Keys
#: of structured values (numbers, codes, states, the caller fields masked on their own) are not among them.
FREE_TEXT_KEYS = frozenset(
    {
        "title",
        "description",
        "note",
        "notes",
        "resolution_note",
        "answer",
        "instruction",
        "instructions",
        "reason",
        "reply_text",
        "return_reason",
        "return_legal_basis",
        "decision_note",
        "decline_reason",
        "override_reason",
        "task",
        "text",
        "comment",
        "message",
    }
)

#: Set on a Response (``response.reveals_personal_data = True``) whose data an audited reveal produced.
REVEALED = "reveals_personal_data"


def masks_for(user: Any) -> bool:
    """Whether free text is masked for this viewer: everyone but those who see callers' details."""
    return not (isinstance(user, User) and sees_caller_details(user))


def mask_free_text(data: Any) -> Any:
    """A copy of ``data`` (dicts, lists, scalars) with the strings under FREE_TEXT_KEYS masked."""
    if isinstance(data, Mapping):
        return {
            key: (
                mask_personal_numbers(value)
                if isinstance(value, str) and key in FREE_TEXT_KEYS
                else mask_free_text(value)
            )
            for key, value in data.items()
        }
    if isinstance(data, list | tuple):
        return [mask_free_text(item) for item in data]
    return data


def shown_text(user: Any, text: str) -> str:
    """One free text as this viewer may read it."""
    return mask_personal_numbers(text) if masks_for(user) else text


def shown_to(user: Any, data: Any) -> Any:
    """A structure of free texts as this viewer may read it (unchanged for the centre)."""
    return mask_free_text(data) if masks_for(user) else data


def _user_of(request: Any) -> Any:
    """The request's user, or None: an error answered before authentication (a bad format suffix) is rendered
    too, and asking for the user then would raise the token's AuthenticationFailed inside the renderer (a 500)."""
    try:
        return getattr(request, "user", None)
    except APIException:
        return None


class FreeTextJSONRenderer(JSONRenderer):
    """The API's JSON: free text masked for agencies, unless the view answers an audited reveal."""

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Mapping[str, Any] | None = None
    ) -> bytes:
        context = renderer_context or {}
        request = context.get("request")
        response = context.get("response")
        if request is not None and not getattr(response, REVEALED, False):
            data = shown_to(_user_of(request), data)
        return super().render(data, accepted_media_type, renderer_context)


def hidden_texts(row: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """The free texts of ``row`` (and of the objects inside it, as dotted keys) that masking would change:
    what an audited reveal shows beside the caller's number."""
    found: dict[str, str] = {}
    for key, value in row.items():
        if isinstance(value, str) and key in FREE_TEXT_KEYS and mask_personal_numbers(value) != value:
            found[prefix + key] = value
        elif isinstance(value, Mapping):
            found.update(hidden_texts(value, f"{prefix}{key}."))
    return found
