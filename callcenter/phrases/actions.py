"""Writes and reads of canned phrases (常用语).

``check_save_phrase`` validates a phrase and raises InvalidInput naming every bad field at once;
``do_save_phrase`` creates or changes one (deactivating is a change of ``active``), audited as reference
data and announced as ``reference.changed``; ``do_load_phrases`` upserts the demo's file (no person acts).
Who may read which kind: ``phrases_for`` (centre staff every kind, agency staff replies only).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from callcenter.models import Phrase, PhraseKind
from core import clock
from core.errors import InvalidInput, NotAllowed, NotFound
from core.parsing import clean_text
from organisation import policy
from organisation.actions import ReferenceChange, record_reference_change
from organisation.models import Subject, User

#: The placeholders a phrase may contain, with what they stand for; the screen that inserts a phrase fills
#: those it knows and selects the first one left for the user to type over.
PLACEHOLDERS = {
    "address": gettext_lazy("the ticket's address"),
    "subject": gettext_lazy("the subject"),
    "number": gettext_lazy("the ticket number"),
    "date": gettext_lazy("today's date"),
    "agency": gettext_lazy("the handling agency"),
}
PLACEHOLDER = re.compile(r"\{([^{}\s]{1,30})\}")
TITLE_MAX = 60
BODY_MAX = 2000


def may_use(user: User) -> bool:
    return policy.is_centre(user) or policy.is_agency(user)


def phrases_for(user: User) -> QuerySet[Phrase]:
    """The phrases a user may read: centre staff every kind, agency staff the reply phrases only."""
    phrases = Phrase.objects.select_related("subject", "updated_by").order_by("kind", "sort_order", "id")
    if policy.is_centre(user):
        return phrases
    if policy.is_agency(user):
        return phrases.filter(kind=PhraseKind.REPLY)
    return phrases.none()


def applicable_to(phrases: QuerySet[Phrase], subject: Subject) -> QuerySet[Phrase]:
    """The phrases offered for a ticket of this subject: those of any subject, of the subject itself and of
    the branches above it."""
    chain: list[int] = []
    node: Subject | None = subject
    while node is not None and len(chain) < 20:
        chain.append(node.pk)
        node = node.parent
    return phrases.filter(Q(subject__isnull=True) | Q(subject_id__in=chain))


def check_save_phrase(data: dict[str, Any], *, current: Phrase | None = None) -> dict[str, Any]:
    """The cleaned fields of a phrase; on a change (``current`` given) a missing field keeps its value."""

    def given(name: str) -> bool:
        return current is None or name in data

    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    if given("kind"):
        if data.get("kind") not in PhraseKind.values:
            errors["kind"] = [_("Choose what the phrase is for.")]
        else:
            cleaned["kind"] = data["kind"]
    if given("subject"):
        code = data.get("subject")
        if code in (None, ""):
            cleaned["subject"] = None
        else:
            subject = Subject.objects.filter(code=code).first() if isinstance(code, str) else None
            if subject is None:
                errors["subject"] = [_("Unknown subject.")]
            else:
                cleaned["subject"] = subject
    if given("title"):
        cleaned["title"] = clean_text(data, "title", errors, required=True, max_length=TITLE_MAX)
    if given("body"):
        body = clean_text(data, "body", errors, required=True, max_length=BODY_MAX)
        unknown = sorted({name for name in PLACEHOLDER.findall(body) if name not in PLACEHOLDERS})
        if unknown and "body" not in errors:
            errors["body"] = [
                _("Unknown placeholder %(names)s; use %(known)s.")
                % {
                    "names": ", ".join("{" + name + "}" for name in unknown),
                    "known": ", ".join("{" + name + "}" for name in PLACEHOLDERS),
                }
            ]
        cleaned["body"] = body
    if given("sort_order"):
        order = data.get("sort_order", 0)
        if order is None:
            order = 0
        if isinstance(order, bool) or not isinstance(order, int) or not 0 <= order <= 9999:
            errors["sort_order"] = [_("A whole number from 0 to 9999.")]
        else:
            cleaned["sort_order"] = order
    if given("active"):
        active = data.get("active", True)
        if not isinstance(active, bool):
            errors["active"] = [_("Must be true or false.")]
        else:
            cleaned["active"] = active
    if errors:
        raise InvalidInput(_("Some fields are not valid."), fields=errors)
    return cleaned


def do_save_phrase(data: dict[str, Any], *, actor: User, phrase_id: int | None = None) -> Phrase:
    """Create a phrase (no ``phrase_id``) or change one; audited and announced when anything changed."""
    if not policy.may_edit_phrases(actor):
        raise NotAllowed(_("Your role may not edit canned phrases."))
    with transaction.atomic():  # the admin's own transaction may enclose it
        current = None
        if phrase_id is not None:
            current = Phrase.objects.select_for_update(of=("self",)).filter(pk=phrase_id).first()
            if current is None:
                raise NotFound(_("No such phrase."))
        cleaned = check_save_phrase(data, current=current)
        phrase = current or Phrase()
        changed = [name for name, value in cleaned.items() if current is None or getattr(phrase, name) != value]
        if current is not None and not changed:
            return phrase
        for name, value in cleaned.items():
            setattr(phrase, name, value)
        phrase.updated_by = actor
        phrase.updated_at = clock.now()
        phrase.save()
        change = ReferenceChange("phrase", phrase.pk, "created" if current is None else "changed", tuple(changed))
        record_reference_change(actor, change)
    return phrase


def do_load_phrases(rows: Iterable[dict[str, Any]]) -> int:
    """Upsert phrases from a file (the demo's): matched by kind, subject and title; no person acts, so nothing is
    audited. Rows naming an unknown subject are skipped."""
    count = 0
    with transaction.atomic():
        for order, row in enumerate(rows):
            subject = None
            if row.get("subject"):
                subject = Subject.objects.filter(code=row["subject"]).first()
                if subject is None:
                    continue
            cleaned = check_save_phrase({**row, "subject": row.get("subject") or None, "sort_order": order})
            Phrase.objects.update_or_create(
                kind=cleaned["kind"],
                subject=subject,
                title=cleaned["title"],
                defaults={"body": cleaned["body"], "sort_order": order, "active": cleaned.get("active", True)},
            )
            count += 1
    return count
