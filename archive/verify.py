"""Re-checking delivered packages: each bag validated with ``bagit`` (structure, Payload-Oxum, every checksum of
every manifest) and its tag manifest's SHA-256 compared with the one recorded when it was transferred.

Problems are worded in the active language. bagit's per-file findings (checksum mismatch, missing or unexpected
file) are reworded from their attributes; its other messages have no translation and are shown as bagit words
them, after a translated lead-in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import bagit
from django.utils.translation import gettext as _

from archive import package
from archive.models import ArchiveRecord


@dataclass(frozen=True)
class Finding:
    package: str
    ok: bool
    problems: tuple[str, ...] = ()


def check_bag(path: Path, *, expected_sha256: str = "") -> Finding:
    problems: list[str] = []
    try:
        bag = bagit.Bag(str(path))
        bag.validate(processes=1)
    except bagit.BagValidationError as error:
        problems.extend(_detail(detail) for detail in error.details or [error])
    except bagit.BagError as error:
        problems.append(_untranslated(error))
    if problems:
        problems.extend(_changed_files(path))
    if not problems and expected_sha256 and package.fingerprint(path) != expected_sha256:
        problems.append(_("tagmanifest-sha256.txt differs from the checksum recorded at transfer"))
    return Finding(path.name, not problems, tuple(problems))


def _detail(detail: Exception) -> str:
    """One finding of bagit's validation, in the active language."""
    if isinstance(detail, bagit.ChecksumMismatch):
        return _('%(path)s %(algorithm)s validation failed: expected="%(expected)s" found="%(found)s"') % {
            "path": detail.path,
            "algorithm": detail.algorithm,
            "expected": detail.expected,
            "found": detail.found,
        }
    if isinstance(detail, bagit.FileMissing):
        return _("%(path)s exists in manifest but was not found on filesystem") % {"path": detail.path}
    if isinstance(detail, bagit.UnexpectedFile):
        return _("%(path)s exists on filesystem but is not in the manifest") % {"path": detail.path}
    return _untranslated(detail)


def _untranslated(error: Exception) -> str:
    """A bagit message that has no translation (e.g. a Payload-Oxum mismatch), behind a translated lead-in."""
    return _("BagIt check failed: %(error)s") % {"error": error}


def _changed_files(path: Path) -> list[str]:
    """Name every file whose SHA-256 differs from its manifest's (bagit stops at the first kind of failure)."""
    try:
        entries = bagit.Bag(str(path)).entries
    except bagit.BagError:
        return []
    changed = []
    for name, hashes in sorted(entries.items()):
        expected = hashes.get("sha256")
        file = path / name
        if expected and file.is_file() and hashlib.sha256(file.read_bytes()).hexdigest() != expected:
            changed.append(_("%(name)s: sha256 differs from the manifest") % {"name": name})
    return changed


def verify_folder(folder: Path) -> Iterator[Finding]:
    """Every package in ``folder`` (a folder holding bagit.txt), checked against the register where it is known."""
    recorded = dict(ArchiveRecord.objects.exclude(package_sha256="").values_list("package_name", "package_sha256"))
    for path in sorted(folder.iterdir()):
        if path.is_dir() and not path.name.startswith(".") and (path / "bagit.txt").exists():
            yield check_bag(path, expected_sha256=recorded.get(path.name, ""))
