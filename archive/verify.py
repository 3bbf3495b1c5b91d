"""Re-checking delivered packages: each bag validated with ``bagit`` (structure, Payload-Oxum, every checksum of
every manifest) and its tag manifest's SHA-256 compared with the one recorded when it was transferred."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import bagit

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
        problems.extend(str(detail) for detail in error.details) if error.details else problems.append(str(error))
    except bagit.BagError as error:
        problems.append(str(error))
    if problems:
        problems.extend(_changed_files(path))
    if not problems and expected_sha256 and package.fingerprint(path) != expected_sha256:
        problems.append("tagmanifest-sha256.txt differs from the checksum recorded at transfer")
    return Finding(path.name, not problems, tuple(problems))


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
            changed.append(f"{name}: sha256 differs from the manifest")
    return changed


def verify_folder(folder: Path) -> Iterator[Finding]:
    """Every package in ``folder`` (a folder holding bagit.txt), checked against the register where it is known."""
    recorded = dict(ArchiveRecord.objects.exclude(package_sha256="").values_list("package_name", "package_sha256"))
    for path in sorted(folder.iterdir()):
        if path.is_dir() and not path.name.startswith(".") and (path / "bagit.txt").exists():
            yield check_bag(path, expected_sha256=recorded.get(path.name, ""))
