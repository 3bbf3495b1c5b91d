#!/usr/bin/env python3
"""Run the test suite in two passes (standard library only).

0. checks:           ruff (lint and format), mypy, the import layers (import-linter), and no model change
                     without a migration.
1. embedded:         SQLite + in-memory channel layer, tests marked ``postgres`` deselected.
2. postgresql+redis: every test, against a throwaway PostgreSQL cluster and redis-server.

Usage: python3 scripts/test.py [--backend embedded|postgres|both] [-- PYTEST_ARGS...]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from xml.etree import ElementTree

import services
from environment import REPO_ROOT, ensure_venv

EMBEDDED = "embedded"
POSTGRES = "postgresql+redis"
ARTIFACTS = REPO_ROOT / "test-artifacts"
SERVICE_ENV = ("DATABASE_URL", "REDIS_URL", "HOTLINE_TEST_BACKEND")
PYTEST_NO_TESTS = 5


@dataclass(frozen=True)
class PassResult:
    name: str
    outcome: str  # "passed", "failed" or "skipped"
    detail: str = ""
    passed: int = 0
    failed: int = 0

    def __str__(self) -> str:
        return f"{self.name}: {self.outcome}" + (f" ({self.detail})" if self.detail else "")


def main(argv: list[str]) -> int:
    backend, serial, pytest_args = parse_args(argv)
    _cleanup_on_sigterm()
    python = ensure_venv()
    results: list[PassResult] = [run_checks(python)]
    browser = _ensure_chromium()
    if browser is not None:
        results.append(browser)
        pytest_args = ["-m", "not browser", *pytest_args] if browser.outcome == "skipped" else pytest_args
    if backend == "both" and not serial:
        # The two passes share nothing (own databases, servers, ports and folders): on a machine with
        # two or more cores they run side by side, each line of output tagged with its pass.
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            embedded = pool.submit(run_embedded, python, pytest_args, EMBEDDED)
            postgres = pool.submit(run_postgres, python, pytest_args, False, POSTGRES)
            results += [embedded.result(), postgres.result()]
    else:
        if backend in ("embedded", "both"):
            results.append(run_embedded(python, pytest_args))
        if backend in ("postgres", "both"):
            results.append(run_postgres(python, pytest_args, required=backend == "postgres"))
    print("=" * 78)
    print(", ".join(str(result) for result in results), flush=True)
    passed = sum(r.passed for r in results)
    failed = sum(r.failed for r in results)
    # One plain closing line over every pass, so a reader of the last line sees the whole run.
    print(f"tests: {passed} passed, {failed} failed", flush=True)
    return 1 if any(result.outcome == "failed" for result in results) else 0


CHECKS = (
    ("ruff", ["-m", "ruff", "check", "."]),
    ("ruff format", ["-m", "ruff", "format", "--check", "."]),
    ("mypy", ["-m", "mypy", "."]),
    # import-linter's lint-imports command, run by the virtualenv's python (pyproject.toml holds the contracts).
    (
        "import layers",
        [
            "-c",
            "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())",
            "--no-cache",
        ],
    ),
    ("migrations", ["manage.py", "makemigrations", "--check", "--dry-run"]),
)


def run_checks(python: Path) -> PassResult:
    _banner("pass: checks (ruff, ruff format, mypy, import layers, makemigrations --check)")
    failures = []
    for name, args in CHECKS:
        print(f"$ {name}", flush=True)
        if subprocess.run([str(python), *args], cwd=REPO_ROOT, env=_base_env(), check=False).returncode != 0:
            failures.append(name)
    if failures:
        return PassResult("checks", "failed", ", ".join(failures), failed=len(failures))
    return PassResult("checks", "passed", passed=len(CHECKS))


def parse_args(argv: list[str]) -> tuple[str, bool, list[str]]:
    # Split by hand so every pytest option after `--` reaches pytest untouched.
    split = argv.index("--") if "--" in argv else len(argv)
    own, pytest_args = argv[:split], argv[split + 1 :]
    parser = argparse.ArgumentParser(
        prog="python3 scripts/test.py",
        usage="%(prog)s [-h] [--backend {embedded,postgres,both}] [--serial] [-- PYTEST_ARGS ...]",
        description=__doc__.split("\nUsage:")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Everything after `--` is passed to pytest, e.g. `python3 scripts/test.py -- -x -k dispatch`.",
    )
    parser.add_argument(
        "--backend",
        choices=("embedded", "postgres", "both"),
        default="both",
        help="which pass to run: embedded (SQLite), postgres (PostgreSQL + Redis) or both (default)",
    )
    parser.add_argument(
        "--serial",
        action="store_true",
        help="with both passes, run them one after the other (default: side by side when 2+ cores)",
    )
    options = parser.parse_args(own)
    return options.backend, options.serial or (os.cpu_count() or 1) < 2, pytest_args


def run_embedded(python: Path, pytest_args: list[str], tag: str = "") -> PassResult:
    _banner("pass: embedded (SQLite, in-memory channel layer; tests marked `postgres` deselected)", tag)
    markers = ["not postgres"]
    if "-m" in pytest_args:  # combine with a marker expression given earlier (e.g. "not browser")
        position = pytest_args.index("-m")
        markers.append(pytest_args[position + 1])
        pytest_args = pytest_args[:position] + pytest_args[position + 2 :]
    marker_args = ["-m", " and ".join(f"({m})" for m in markers)]
    return _pytest(EMBEDDED, python, [*marker_args, *pytest_args], _base_env(), tag)


def run_postgres(python: Path, pytest_args: list[str], required: bool, tag: str = "") -> PassResult:
    _banner("pass: postgresql+redis (throwaway PostgreSQL cluster and redis-server; all tests)", tag)
    missing = _ensure_service_binaries()
    if missing:
        message = f"{missing} not installed; install with `apt-get install postgresql redis-server`"
        if required or _in_ci():
            print(f"ERROR: the postgresql+redis pass cannot run: {message}", flush=True)
            return PassResult(POSTGRES, "failed", "servers not installed")
        print(f"WARNING: the postgresql+redis pass did NOT run: {message}", flush=True)
        return PassResult(POSTGRES, "skipped", "servers not installed")
    cleanup = contextlib.ExitStack()
    try:
        return _run_against_servers(python, pytest_args, cleanup, tag)
    finally:
        # Servers stop and the temp dir goes on every exit path, Ctrl-C and SIGTERM included.
        cleanup.close()


def _run_against_servers(
    python: Path, pytest_args: list[str], cleanup: contextlib.ExitStack, tag: str = ""
) -> PassResult:
    tmpdir = tempfile.mkdtemp(prefix="hotline-test-")
    cleanup.callback(shutil.rmtree, tmpdir, ignore_errors=True)
    try:
        database_url, stop_postgres = services.start_postgres(tmpdir)
        cleanup.callback(stop_postgres)
        redis_url, stop_redis = services.start_redis()
        cleanup.callback(stop_redis)
    except services.ServiceError as exc:
        print(f"ERROR: could not start the test servers: {exc}", flush=True)
        return PassResult(POSTGRES, "failed", "servers did not start")
    _say(f"PostgreSQL: {database_url}", tag)
    _say(f"Redis:      {redis_url}", tag)
    env = _base_env() | {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "HOTLINE_TEST_BACKEND": "postgres",
    }
    return _pytest(POSTGRES, python, pytest_args, env, tag)


def _ensure_service_binaries() -> str:
    """Return what is still missing, installing it with apt-get when we are allowed to."""
    missing = _missing_service_binaries()
    if missing and os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"{missing} not found; installing postgresql and redis-server with apt-get ...", flush=True)
        apt_env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], env=apt_env, check=False)
        install = ["apt-get", "install", "-y", "-q", "postgresql", "redis-server"]
        subprocess.run(install, env=apt_env, check=False)
        missing = _missing_service_binaries()
    return missing


CHROMIUM = Path("/usr/bin/chromium")


def _ensure_chromium() -> PassResult | None:
    """Browser tests drive Debian's Chromium; install it when we may, refuse to go on without it in CI."""
    if not CHROMIUM.exists() and os.geteuid() == 0 and shutil.which("apt-get"):
        print("chromium not found; installing it with apt-get ...", flush=True)
        apt_env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], env=apt_env, check=False)
        subprocess.run(["apt-get", "install", "-y", "-q", "chromium", "fonts-wqy-microhei"], env=apt_env, check=False)
    if CHROMIUM.exists():
        return None
    if _in_ci():
        print("ERROR: /usr/bin/chromium is missing; browser tests cannot run.", flush=True)
        return PassResult("browser", "failed", "chromium not installed", failed=1)
    print(
        "WARNING: /usr/bin/chromium is missing: browser tests are left out of this run "
        "(`apt-get install chromium` to run them).",
        flush=True,
    )
    return PassResult("browser", "skipped", "chromium not installed")


def _missing_service_binaries() -> str:
    missing = []
    if services.find_postgres_bindir() is None:
        missing.append("PostgreSQL server")
    if services.find_redis_server() is None:
        missing.append("redis-server")
    return " and ".join(missing)


def _pytest(name: str, python: Path, args: list[str], env: dict[str, str], tag: str = "") -> PassResult:
    with tempfile.TemporaryDirectory(prefix="hotline-junit-") as junit_dir:
        junit = Path(junit_dir) / "report.xml"
        # --durations: the slowest tests are printed, to keep the whole run within CI's budget.
        cmd = [str(python), "-m", "pytest", f"--junitxml={junit}", "--durations=15", *args]
        _say(f"$ {shlex.join(cmd)}", tag)
        if not tag:
            code = subprocess.run(cmd, cwd=REPO_ROOT, env=env, check=False).returncode
        else:
            output = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True, "errors": "replace"}
            with subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, **output) as process:  # type: ignore[call-overload]
                assert process.stdout is not None
                for line in process.stdout:
                    _say(line.rstrip("\n"), tag)
                code = process.wait()
        passed, failed = _junit_counts(junit)
        if junit.exists():  # kept for a look at every test's time: test-artifacts/junit-<pass>.xml
            ARTIFACTS.mkdir(exist_ok=True)
            shutil.copyfile(junit, ARTIFACTS / f"junit-{name.replace('+', '-')}.xml")
    if code == 0:
        return PassResult(name, "passed", passed=passed, failed=failed)
    if code == PYTEST_NO_TESTS:
        return PassResult(name, "failed", "no tests collected", passed=passed, failed=max(failed, 1))
    return PassResult(name, "failed", f"pytest exit {code}", passed=passed, failed=max(failed, 1))


def _junit_counts(report: Path) -> tuple[int, int]:
    """(passed, failed or errored) from pytest's JUnit XML report; (0, 0) when there is none."""
    if not report.exists():
        return 0, 0
    passed = failed = 0
    for suite in ElementTree.parse(report).getroot().iter("testsuite"):
        total, skipped = int(suite.get("tests", 0)), int(suite.get("skipped", 0))
        broken = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        passed += total - skipped - broken
        failed += broken
    return passed, failed


def _base_env() -> dict[str, str]:
    # Settings pick their backends from these variables; a developer's shell must not leak in.
    return {name: value for name, value in os.environ.items() if name not in SERVICE_ENV}


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


_output_lock = threading.Lock()


def _say(line: str, tag: str = "") -> None:
    with _output_lock:
        print(f"[{tag}] {line}" if tag else line, flush=True)


def _banner(title: str, tag: str = "") -> None:
    for line in ("", "=" * 78, f"== {title}", "=" * 78):
        _say(line, tag)


def _cleanup_on_sigterm() -> None:
    # A CI timeout sends SIGTERM; turning it into SystemExit lets the finally blocks stop the
    # servers (and subprocess.run kill pytest) instead of leaking them.
    def handler(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
