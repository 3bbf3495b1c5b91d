"""Validation of EIDO documents against NENA's published schema (schema/openapi.yaml, see schema/README.md).

The file is read unchanged; two things are adjusted in memory, both documented in schema/README.md: the stray
``minItems: 1,`` of AgentType is read as 1, and references to the NIEM component files (not vendored) accept
any value. Date-times are checked as RFC 3339 (with a UTC offset), which is what the schema's ``format``
means.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator, FormatChecker

SCHEMA_FILE = Path(__file__).resolve().parent / "schema" / "openapi.yaml"
ROOT_TYPE = "EmergencyIncidentDataObjectType"
MAX_ERRORS = 50
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _adjusted(node: Any) -> Any:
    """A copy of the schema with the two documented in-memory adjustments."""
    if isinstance(node, dict):
        reference = node.get("$ref")
        if isinstance(reference, str) and reference.startswith("NIEMComponents/"):
            return {"description": "A NIEM type (not vendored): any value."}
        copy = {key: _adjusted(value) for key, value in node.items()}
        if copy.get("minItems") == "1,":
            copy["minItems"] = 1
        return copy
    if isinstance(node, list):
        return [_adjusted(item) for item in node]
    return node


@cache
def published_schema() -> dict[str, Any]:
    with SCHEMA_FILE.open(encoding="utf-8") as handle:
        return dict(yaml.safe_load(handle))


def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True  # the type keyword answers for non-strings
    if not _RFC3339.match(value):
        return False
    try:
        dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return True


@cache
def validator() -> Draft7Validator:
    components = _adjusted(published_schema()["components"])
    checker = FormatChecker(formats=())
    checker.checks("date-time")(_date_time)
    root = {"$ref": f"#/components/schemas/{ROOT_TYPE}", "components": components}
    return Draft7Validator(root, format_checker=checker)


def _where(path: Any) -> str:
    return "/" + "/".join(str(part) for part in path) if path else "/"


def schema_errors(document: Any) -> list[str]:
    """Why ``document`` is not a valid EIDO (empty when it is): "<JSON pointer>: <message>", at most 50."""
    errors = sorted(validator().iter_errors(document), key=lambda error: [str(p) for p in error.absolute_path])
    listed = [f"{_where(error.absolute_path)}: {error.message[:300]}" for error in errors]
    return list(dict.fromkeys(listed))[:MAX_ERRORS]
