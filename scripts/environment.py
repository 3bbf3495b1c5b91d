"""Create and refresh the project's virtualenv (.venv) for scripts/run.py and scripts/test.py.

Standard library only: this runs under whatever system python3 starts the scripts. The name
shadows the stdlib ``venv`` module inside the scripts' own process, which is harmless because
the virtualenv itself is built by a separate ``python -m venv`` run from the repo root.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_DIR = REPO_ROOT / ".venv"
STAMP_PREFIX = ".installed-"


def venv_bin(name: str) -> Path:
    return VENV_DIR / "bin" / name


def ensure_venv() -> Path:
    """Return the virtualenv's python, (re)installing the project when pyproject.toml changed."""
    python = venv_bin("python")
    if not python.exists():
        # --clear: a .venv without a python is a leftover (e.g. from a removed interpreter).
        _run([sys.executable, "-m", "venv", "--clear", str(VENV_DIR)], "creating .venv")
    stamp = VENV_DIR / f"{STAMP_PREFIX}{_pyproject_digest()}"
    if stamp.exists():
        return python
    for old in VENV_DIR.glob(f"{STAMP_PREFIX}*"):
        old.unlink()
    _run([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"], "upgrading pip")
    _run([str(python), "-m", "pip", "install", "-q", "-e", ".[dev]"], "installing the project into .venv")
    # Written last, so an interrupted or failed install is retried on the next run.
    stamp.touch()
    return python


def _pyproject_digest() -> str:
    return hashlib.sha256((REPO_ROOT / "pyproject.toml").read_bytes()).hexdigest()


def _run(cmd: list[str], what: str) -> None:
    print(f"[venv] {what} ...", flush=True)
    result = subprocess.run(cmd, cwd=REPO_ROOT, check=False)
    if result.returncode != 0:
        raise SystemExit(f"[venv] {what} failed (exit {result.returncode}): {' '.join(cmd)}")
