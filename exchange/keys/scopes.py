"""What a key may be used for: the one list of scopes, and which API routes each scope opens.

A key's scopes only narrow what its service account may do: every route still applies the account's role,
agency scope and masking (an agency key acts as one of the agency's handlers). A route that is not listed
here, and whose view names no ``api_key_scope``, is closed to every key (deny by default): the key
management API, phone reveals, users and roles, the screens' own endpoints, tokens.

Views built for systems (Open311, incident exchange) declare their scope on the view instead:
``api_key_scope = "open311:submit"`` (one scope for every method) or a dict by method.
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

#: Every scope a key can hold, with what it opens (shown in the admin and the key API's schema).
SCOPES: dict[str, str | Promise] = {
    "reference:read": _(
        "Read reference data: subjects, appeal types, agencies, the workflow, reply phrases, the knowledge base"
    ),
    "work_orders:read": _("Read the work orders and tickets the key's agency may see, with their attachments"),
    "work_orders:act": _("Act on the agency's work orders: sign, return, note, reply, ask for more time"),
    "attachments:write": _("Upload attachments to the agency's work orders and tickets"),
    "open311:submit": _("Submit and follow service requests through Open311"),
    "incidents:exchange": _("Exchange incidents with other centres (EIDO)"),
    "webhooks:manage": _("Manage the agency's own webhook subscriptions and rotate their signing secrets"),
}

#: Scopes that only make sense for an agency's system (its service account is one of the agency's handlers).
AGENCY_SCOPES = frozenset({"work_orders:read", "work_orders:act", "attachments:write", "webhooks:manage"})

#: The scope of the subscriptions API (exchange/api.py declares it on its views).
WEBHOOKS_MANAGE = "webhooks:manage"

_READ = frozenset({"GET", "HEAD", "OPTIONS"})

#: URL name -> scope for reads (GET/HEAD/OPTIONS).
READ_ROUTES: dict[str, str] = {
    "subject-list": "reference:read",
    "subject-detail": "reference:read",
    "appeal-type-list": "reference:read",
    "appeal-type-detail": "reference:read",
    "agency-list": "reference:read",
    "agency-detail": "reference:read",
    "workflow": "reference:read",
    "me": "reference:read",
    "phrase-list": "reference:read",
    "knowledge-list": "reference:read",
    "knowledge-detail": "reference:read",
    "schema": "reference:read",
    "work-order-list": "work_orders:read",
    "work-order-detail": "work_orders:read",
    "work-order-timeline": "work_orders:read",
    "work-order-attachments": "work_orders:read",
    "ticket-list": "work_orders:read",
    "ticket-detail": "work_orders:read",
    "ticket-timeline": "work_orders:read",
    "ticket-attachments": "work_orders:read",
    "attachment-file": "work_orders:read",
    "attachment-thumbnail": "work_orders:read",
}

#: URL name -> scope for writes (POST and the other methods).
WRITE_ROUTES: dict[str, str] = {
    "work-order-sign": "work_orders:act",
    "work-order-return-": "work_orders:act",  # the view's method is return_ (url_path "return")
    "work-order-note": "work_orders:act",
    "work-order-reply": "work_orders:act",
    "work-order-request-extension": "work_orders:act",
    "work-order-answer-supervision": "work_orders:act",
    "work-order-attachments": "attachments:write",
    "ticket-attachments": "attachments:write",
}


def scope_for(method: str, url_name: str | None, view: object = None) -> str | None:
    """The scope a request needs, or None when no key may make it."""
    declared = getattr(view, "api_key_scope", None)
    if isinstance(declared, str):
        return declared
    if isinstance(declared, dict):
        return declared.get(method.upper())
    if not url_name:
        return None
    routes = READ_ROUTES if method.upper() in _READ else WRITE_ROUTES
    return routes.get(url_name)


def unknown_scopes(scopes: object) -> list[str]:
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        return ["?"]
    return sorted(set(scopes) - set(SCOPES))
