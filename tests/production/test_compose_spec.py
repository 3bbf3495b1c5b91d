"""docker/compose.yml follows the Compose Specification: it is checked against the specification's own JSON schema
(vendored unchanged in tests/production/compose-spec/, see the README there), since no Docker daemon runs here.

The YAML is read as Compose reads it: anchors and `<<` merge keys resolved (PyYAML does that), `${VAR:-default}`
left as strings (the schema takes strings wherever interpolation may appear)."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for

ROOT = Path(__file__).resolve().parents[2]
SPEC = Path(__file__).resolve().parent / "compose-spec" / "compose-spec.json"
#: The vendored file's digest (tests/production/compose-spec/README.md): an edit to the schema is noticed.
SPEC_SHA256 = "bc50c2d79102aed8df21b3a13e56c9396c7a06da6cff5ce37629f2ee7eb41735"


def _canonical_dialect(declared: str) -> str:
    """The specification writes draft-07's id as `https://json-schema.org/draft-07/schema`; jsonschema knows the
    drafts by their canonical ids (`http://json-schema.org/draft-07/schema#`). Same dialect, other spelling."""
    uri = declared.removesuffix("#")
    if uri.startswith("https://json-schema.org/"):
        uri = "http://" + uri.removeprefix("https://")
    return uri + "#"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SPEC.read_text(encoding="utf-8"))
    return schema


@pytest.fixture(scope="module")
def validator(spec: dict[str, Any]) -> Validator:
    cls = validator_for({"$schema": _canonical_dialect(spec["$schema"])}, default=None)
    assert cls is not None, f"jsonschema does not know the dialect {spec['$schema']!r}"
    cls.check_schema(spec)
    # Every $ref in the specification points inside the file (#/definitions/...), so no registry is needed; the
    # format checker makes any `format` the schema may use count instead of being ignored.
    return cls(spec, format_checker=cls.FORMAT_CHECKER)


@pytest.fixture()
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "docker" / "compose.yml").read_text(encoding="utf-8"))
    return document


def _errors(validator: Validator, document: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(str(part) for part in error.absolute_path) or '(top)'}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def test_the_vendored_schema_is_the_published_file_unchanged(spec: dict[str, Any]) -> None:
    raw = SPEC.read_bytes()
    assert len(raw) == 74133
    assert hashlib.sha256(raw).hexdigest() == SPEC_SHA256
    assert spec["title"] == "Compose Specification"
    assert spec["$schema"] == "https://json-schema.org/draft-07/schema"


def test_the_schema_is_checked_as_draft_07(validator: Validator) -> None:
    assert validator.META_SCHEMA["$schema"] == "http://json-schema.org/draft-07/schema#"


def test_compose_yml_follows_the_compose_specification(validator: Validator, compose: dict[str, Any]) -> None:
    assert {"db", "redis", "migrate", "web", "timers", "outbox", "nginx"} <= set(compose["services"])
    assert _errors(validator, compose) == []


def _unknown_top_level_key(document: dict[str, Any]) -> None:
    document["servics"] = {}


def _ports_not_a_list(document: dict[str, Any]) -> None:
    document["services"]["nginx"]["ports"] = "8080:8080"


def _misspelt_service_key(document: dict[str, Any]) -> None:
    document["services"]["timers"]["comand"] = document["services"]["timers"].pop("command")


# The services share their `environment` and `depends_on` mappings through the YAML anchors (one object in
# Python), so these breakages make a new mapping for one service instead of changing the shared one.
def _unknown_depends_on_condition(document: dict[str, Any]) -> None:
    web = document["services"]["web"]
    web["depends_on"] = {**web["depends_on"], "migrate": {"condition": "service_finished"}}


def _environment_value_a_mapping(document: dict[str, Any]) -> None:
    web = document["services"]["web"]
    web["environment"] = {**web["environment"], "LOG_LEVEL": {"level": "INFO"}}


@pytest.mark.parametrize(
    ("break_it", "where"),
    [
        (_unknown_top_level_key, "(top)"),
        (_ports_not_a_list, "services/nginx/ports"),
        (_misspelt_service_key, "services/timers"),
        (_unknown_depends_on_condition, "services/web/depends_on"),
        (_environment_value_a_mapping, "services/web/environment"),
    ],
    ids=["unknown-top-level-key", "ports-not-a-list", "misspelt-service-key", "unknown-condition", "env-mapping"],
)
def test_a_broken_compose_file_is_refused(
    validator: Validator, compose: dict[str, Any], break_it: Any, where: str
) -> None:
    broken = copy.deepcopy(compose)
    break_it(broken)
    errors = _errors(validator, broken)
    assert errors and all(error.startswith(where) for error in errors), errors
    with pytest.raises(ValidationError):
        validator.validate(broken)
