"""GET services and GET services/{service_code}: our subject tree's leaves as Open311 services.

Every active leaf subject is a service (``service_code`` = the subject's code); its group is the top of its branch.
The attributes of a service definition are what our intake asks beyond the spec's own fields: the appeal type
(诉求类型) and the urgency, both optional with a default, and a short title. Subjects carry no fields of their
own, so the definitions differ only in one informational attribute (``variable`` false): the usual time limit
for handling, from the subject's time limits.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from callcenter.models import Urgency
from organisation.models import AppealType, Subject

DEFAULT_APPEAL_TYPE = "help"
TIME_LIMIT = re.compile(r"^(\d+)(wd|h|m)$")


def default_appeal_type() -> str:
    return str(settings.HOTLINE.get("OPEN311_DEFAULT_APPEAL_TYPE") or DEFAULT_APPEAL_TYPE)


def leaf_services() -> list[Subject]:
    return list(Subject.objects.filter(active=True, is_leaf=True).select_related("parent__parent__parent"))


def _group(subject: Subject) -> str:
    node = subject
    depth = 0
    while node.parent is not None and depth < 10:
        node = node.parent
        depth += 1
    return node.display_name if node is not subject else ""


def service_row(subject: Subject) -> dict[str, Any]:
    return {
        "service_code": subject.code,
        "service_name": subject.display_name,
        "description": subject.display_path,
        "metadata": True,
        "type": "realtime",
        "keywords": "",
        "group": _group(subject),
    }


def services_document() -> list[dict[str, Any]]:
    return [service_row(subject) for subject in leaf_services()]


def time_limit_text(limit: str) -> str:
    match = TIME_LIMIT.match(limit.strip()) if isinstance(limit, str) else None
    if match is None:
        return ""
    n, unit = int(match.group(1)), match.group(2)
    if unit == "wd":
        return ngettext("%(n)d working day", "%(n)d working days", n) % {"n": n}
    if unit == "h":
        return ngettext("%(n)d hour", "%(n)d hours", n) % {"n": n}
    return ngettext("%(n)d minute", "%(n)d minutes", n) % {"n": n}


def _choice_values(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"key": key, "name": name} for key, name in pairs]


def definition_document(subject: Subject) -> dict[str, Any]:
    appeal_types = [(row.code, row.display_name) for row in AppealType.objects.all()]
    default_type = default_appeal_type()
    attributes: list[dict[str, Any]] = [
        {
            "variable": True,
            "code": "appeal_type",
            "datatype": "singlevaluelist",
            "required": False,
            "datatype_description": _("Default: %(default)s") % {"default": default_type},
            "order": 1,
            "description": _("What kind of request this is"),
            "values": _choice_values(appeal_types),
        },
        {
            "variable": True,
            "code": "urgency",
            "datatype": "singlevaluelist",
            "required": False,
            "datatype_description": _("Default: %(default)s") % {"default": Urgency.NORMAL.value},
            "order": 2,
            "description": _("How urgent it is"),
            "values": _choice_values([(str(value), str(label)) for value, label in Urgency.choices]),
        },
        {
            "variable": True,
            "code": "title",
            "datatype": "string",
            "required": False,
            "datatype_description": _("At most 120 characters"),
            "order": 3,
            "description": _("A short title"),
        },
    ]
    limits = subject.time_limits if isinstance(subject.time_limits, dict) else {}
    normal = limits.get("normal") if isinstance(limits.get("normal"), dict) else {}
    handle = time_limit_text(str(normal.get("handle", ""))) if normal else ""
    if handle:
        attributes.append(
            {
                "variable": False,
                "code": "time_limit",
                "datatype": "string",
                "required": False,
                "datatype_description": "",
                "order": 4,
                "description": _("Usually handled within %(limit)s.") % {"limit": handle},
            }
        )
    return {"service_code": subject.code, "attributes": attributes}
