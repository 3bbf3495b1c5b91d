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

from environment import REPO_ROOT, ensure_venv, venv_bin


def main(argv: list[str]) -> int:
    options = parse_args(argv)
    python = str(ensure_venv())
    manage(python, "migrate", "--noinput")
    if _can_compile_messages():
        # The tree walk would otherwise compile every package's catalogs inside .venv.
        manage(python, "compilemessages", "--ignore=.venv", "--ignore=build", "--ignore=var")
    manage(python, "load_demo_city")
    daphne = str(venv_bin("daphne"))
    # The demo's vehicles report positions beside the server; they stop when Daphne (this pid) ends.
    subprocess.Popen([python, "manage.py", "simulate_units", "--stop-with-parent"], cwd=REPO_ROOT)
    # The escalation timer worker (warnings, yellow and red cards); it stops when Daphne (this pid) ends.
    subprocess.Popen([python, "manage.py", "run_timers", "--stop-with-parent"], cwd=REPO_ROOT)
    print(f"Open http://{options.host}:{options.port}/", flush=True)
    os.chdir(REPO_ROOT)
    os.execv(daphne, [daphne, "-b", options.host, "-p", str(options.port), "config.asgi:application"])


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
