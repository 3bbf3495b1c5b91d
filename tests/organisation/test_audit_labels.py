"""Every action the code writes to the audit log reads as words on the auditor's page, in Chinese and in
English: none falls through to "other action"."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.utils import translation

from organisation.audit_log import action_label

ROOT = Path(__file__).resolve().parents[2]
APPS = ("archive", "callcenter", "dispatch", "emergency", "exchange", "gis", "open311", "organisation", "realtime")
#: What ReferenceChange rows are written as: "<kind>_<change>" (organisation/actions.py record_reference_change).
REFERENCE_CHANGES = ("created", "changed", "deleted")


def _audited_actions() -> set[str]:
    """The literal action names passed to audit(actor, "<action>", ...) and the kinds of ReferenceChange(...)."""
    actions: set[str] = set()
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                literals = [arg.value for arg in node.args if isinstance(arg, ast.Constant)]
                if name == "audit" and literals and isinstance(literals[0], str):
                    actions.add(literals[0])
                elif name == "ReferenceChange" and literals and isinstance(literals[0], str):
                    actions.update(f"{literals[0]}_{change}" for change in REFERENCE_CHANGES)
                for keyword in node.keywords:
                    if keyword.arg == "audit_action" and isinstance(keyword.value, ast.Constant):
                        actions.add(str(keyword.value.value))
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                # Defaults of an ``audit_action`` parameter (exchange/keys/actions.py).
                if isinstance(node, ast.FunctionDef):
                    names = [a.arg for a in node.args.kwonlyargs]
                    for arg, default in zip(names, node.args.kw_defaults, strict=True):
                        if arg == "audit_action" and isinstance(default, ast.Constant):
                            actions.add(str(default.value))
    return actions


def test_the_scan_finds_the_audited_actions() -> None:
    found = _audited_actions()
    assert {"reveal_caller", "archive_verify", "api_key_created", "api_key_rotated", "city_deleted"} <= found


@pytest.mark.parametrize("language,other", [("zh-hans", "其他操作"), ("en", "other action")])
def test_every_audited_action_has_a_label(language: str, other: str) -> None:
    with translation.override(language):
        unlabelled = sorted(action for action in _audited_actions() if action_label(action) == other)
    assert unlabelled == []
