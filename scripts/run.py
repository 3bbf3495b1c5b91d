#!/usr/bin/env python3
"""Set up and start the demo (standard library only).

Creates/refreshes .venv, migrates the database, compiles translations when it can, loads the
demo city (printing the demo logins) and serves the app with Daphne.

Usage: python3 scripts/run.py [--host 127.0.0.1] [--port 8000]
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys

from environment import REPO_ROOT, ensure_venv
from supervise import Supervisor, grace_from_environment


def demo_archive_folder() -> None:
    """The demo's records office is a folder: var/archive/ receives a BagIt package for every closed ticket and
    incident (docs/OPERATIONS.md "Archive"), unless HOTLINE_ARCHIVE_DESTINATION names another destination."""
    if os.environ.get("HOTLINE_ARCHIVE_DESTINATION") is None:
        folder = (REPO_ROOT / os.environ.get("HOTLINE_VAR_DIR", "var") / "archive").resolve()
        folder.mkdir(parents=True, exist_ok=True)
        os.environ["HOTLINE_ARCHIVE_DESTINATION"] = str(folder)


def main(argv: list[str]) -> int:
    options = parse_args(argv)
    python = str(ensure_venv())
    demo_archive_folder()
    manage(python, "migrate", "--noinput")
    if _can_compile_messages():
        # The tree walk would otherwise compile every package's catalogs inside .venv.
        manage(python, "compilemessages", "--ignore=.venv", "--ignore=build", "--ignore=var")
    manage(python, "load_demo_city")
    # One supervisor for Daphne and its helpers: on SIGTERM (or Ctrl-C) all of them stop, within the grace
    # period (HOTLINE_STOP_GRACE_SECONDS, default 10 s), and none is left running beside a new start.
    supervisor = Supervisor(grace=grace_from_environment())
    # Daphne through core.web: its access log goes through the log filters (no device keys, no phone numbers).
    web = [python, "-m", "core.web", "-b", options.host, "-p", str(options.port), "config.asgi:application"]
    supervisor.start("daphne", web, cwd=REPO_ROOT, critical=True)
    # The escalation timer worker (warnings, yellow and red cards) and the demo's vehicles.
    for name, command in (("timers", "run_timers"), ("units", "simulate_units")):
        supervisor.start(name, [python, "manage.py", command, "--stop-with-parent"], cwd=REPO_ROOT, restart=True)
    # The outbox worker: signed webhooks and other deliveries to the outside (docs/OPERATIONS.md).
    supervisor.start("outbox", [python, "manage.py", "run_outbox", "--stop-with-parent"], cwd=REPO_ROOT, restart=True)
    print(f"Open http://{options.host}:{options.port}/", flush=True)
    return supervisor.serve()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python3 scripts/run.py", description="Start the 12345 hotline demo.")
    parser.add_argument("--host", default="127.0.0.1", help="address Daphne binds (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port Daphne listens on (default 8000)")
    return parser.parse_args(argv)


def manage(python: str, *args: str) -> None:
    cmd = [python, "manage.py", *args]
    print(f"$ {shlex.join(['python', 'manage.py', *args])}", flush=True)
    result = subprocess.run(cmd, cwd=REPO_ROOT, check=False)
    if result.returncode != 0:
        raise SystemExit(f"manage.py {args[0]} failed (exit {result.returncode})")


def _can_compile_messages() -> bool:
    # Compiled .mo files are committed, so a machine without gettext still gets translations.
    if shutil.which("msgfmt") is None:
        return False
    patterns = ("locale/**/*.po", "*/locale/**/*.po")
    return any(next(REPO_ROOT.glob(pattern), None) for pattern in patterns)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
