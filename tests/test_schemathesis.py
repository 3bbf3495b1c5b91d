"""Schemathesis against the live server: every check, a fixed budget, signed in as several roles; it finds nothing.

The server is the real one (Daphne serving the demo city, its own database, as in tests/browser/conftest.py);
schemathesis reads ``/api/schema/`` and sends what the schema allows and what it forbids, and checks every
answer: no 5xx, every status, content type and body as documented, invalid requests refused, valid ones
accepted, credentials enforced.

The budget (docs/OPERATIONS.md, "API contract test") is committed here: ``MAX_EXAMPLES`` cases per operation and
phase, the phases of each role in ``ROLES`` (the schema's examples and fuzzing),
a fixed ``SEED`` so that CI runs are repeatable (set HOTLINE_SCHEMATHESIS_SEED to explore other cases,
HOTLINE_SCHEMATHESIS_EXAMPLES for a longer run). The whole run takes a few minutes.

Formats that no pattern can state (``phone``: a number valid in its numbering plan) get their values from
``tests/schemathesis_hooks.py``; reference data (subjects, appeal types) is an enum read when the schema is served.

``tests/schemathesis-baseline.json`` (schemathesis' baseline: one entry per operation, check and failure known and
not yet fixed) is empty: any finding fails the test. Where a refusal depends on data no schema can state (an id
that names nothing, a document checked against another standard's schema), ``CONFIG`` below names the operation
and its refusal statuses, with the reason; every check stays on.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

from tests.pinned_time import DEMO_NOW

ROOT = Path(settings.BASE_DIR)
PASSWORD = "demo-12345"
STARTUP_SECONDS = 120
RUN_SECONDS = 1200

# The budget: role -> phases.
# (Kept small so that it runs in both CI passes in a few minutes and repeats itself: one worker, a fixed seed.
# HOTLINE_SCHEMATHESIS_PHASES widens it, e.g. "examples,coverage,fuzzing,stateful" for a longer exploration.)
ROLES = {
    "dispatcher": os.environ.get("HOTLINE_SCHEMATHESIS_PHASES", "examples,fuzzing"),
    "operator": os.environ.get("HOTLINE_SCHEMATHESIS_PHASES", "examples,fuzzing"),
    "handler": os.environ.get("HOTLINE_SCHEMATHESIS_PHASES", "examples,fuzzing"),
}
MAX_EXAMPLES = int(os.environ.get("HOTLINE_SCHEMATHESIS_EXAMPLES", "2"))
SEED = int(os.environ.get("HOTLINE_SCHEMATHESIS_SEED", "12345"))
WORKERS = 1
BASELINE = ROOT / "tests" / "schemathesis-baseline.json"

sys.path.insert(0, str(ROOT / "scripts"))
import services  # noqa: E402  (scripts/ is not a package)


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]
    tokens: dict[str, str]


def _database_url(base: str | None, var: Path) -> str | None:
    """On the PostgreSQL pass, a database of our own beside the harness's (the browser tests use that one)."""
    if base is None:
        return None
    import psycopg  # the PostgreSQL pass only

    name = "hotline_schemathesis"
    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name}")
        connection.execute(f"CREATE DATABASE {name}")
    parts = urllib.parse.urlsplit(base)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    port = services.free_port()
    var = tmp_path_factory.mktemp("schemathesis-var")
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        {
            "HOTLINE_VAR_DIR": str(var),
            "ALLOWED_HOSTS": "127.0.0.1",
            "CSRF_TRUSTED_ORIGINS": f"http://127.0.0.1:{port}",
            "DJANGO_SECRET_KEY": "schemathesis-tests",
        }
    )
    stops = []
    if os.environ.get("HOTLINE_TEST_BACKEND") == "postgres":
        env["DATABASE_URL"] = _database_url(os.environ["DATABASE_URL"], var) or ""
        redis_url, stop_redis = services.start_redis()
        env["REDIS_URL"] = redis_url
        stops.append(stop_redis)
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
        subprocess.run(
            [sys.executable, "manage.py", "load_demo_city", "--tickets", "12", "--now", DEMO_NOW.isoformat()],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        daphne = str(Path(sys.executable).with_name("daphne"))
        process = subprocess.Popen(
            [daphne, "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_for_schema(url, process)
            # Every role signs in first: fuzzing the token endpoint locks the address out of logging in (429).
            yield LiveServer(url, process, {role: _token(url, role) for role in ROLES})
        finally:
            process.terminate()
            process.wait(timeout=30)
    finally:
        for stop in stops:
            stop()


def _wait_for_schema(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited during start-up")
        try:
            with urllib.request.urlopen(f"{url}/api/schema/?format=json", timeout=30) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)  # not listening yet: a readiness poll with a deadline
    raise TimeoutError("the server did not start")


def _token(url: str, username: str) -> str:
    body = urllib.parse.urlencode({"username": username, "password": PASSWORD}).encode()
    request = urllib.request.Request(f"{url}/api/auth/token/", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(json.loads(response.read())["token"])


def _token_scheme(server: LiveServer) -> str:
    """The schema's name for the token in the Authorization header (it follows the authentication class)."""
    with urllib.request.urlopen(f"{server.url}/api/schema/?format=json", timeout=30) as response:
        schemes = json.loads(response.read())["components"]["securitySchemes"]
    for name, scheme in schemes.items():
        if scheme.get("in") == "header" and scheme.get("name") == "Authorization":
            return str(name)
    raise AssertionError(f"no token scheme in {schemes}")


# Where an operation's contract differs from schemathesis' defaults, and why. Every check stays on.
CONFIG = """
[[operations]]
include-path = "/api/auth/token/"
# Well-formed but wrong credentials are refused with 400 (DRF's convention for the token endpoint), and a
# locked-out account or address with 429.
checks.positive_data_acceptance.expected-statuses = [200, 400, 429]

[[operations]]
include-path-regex = "^/api/avl/"
# A position is refused (400, naming the field) for what no schema can say: a device key no unit holds, a fix
# from the future or older than the unit's last one. tests/emergency covers each refusal.
checks.positive_data_acceptance.expected-statuses = [200, 201, 202, 400, 403, 404]

[[operations]]
include-path-regex = "^/api/tickets/[^/]+/(dispatch|escalate|transfer)/$"
# Valid in shape, refused by the ticket's state and data (400 naming the field): an agency id that names no
# agency, an incident type or an incident id (one of the two), coordinates when the ticket has none.
checks.positive_data_acceptance.expected-statuses = [200, 201, 400, 403, 404, 409]

[[operations]]
include-path-regex = "^/api/incidents/(eido|[^/]+/eido/send)/$"
# The body is a NENA EIDO document (checked against NENA's own schema, emergency/eido/schema/) or the key of a
# configured partner centre: a document or key the OpenAPI schema cannot describe is a 400 naming the field; a
# later version of an incident taken over that is finished here is a 409 (the workflow table's update_eido).
checks.positive_data_acceptance.expected-statuses = [200, 201, 202, 400, 403, 404, 409]

[[operations]]
include-path-regex = "^/api/manage/import/"
# The file is a CSV or XLSX table whose rows the import checks (a bad row is a 400 naming its line).
checks.positive_data_acceptance.expected-statuses = [200, 400, 403]

[[operations]]
include-path-regex = "^/api/manage/cities/"
# A boundary of the right shape that is no valid area (self-intersecting, past the latitude range), a code
# already taken, or a city something still refers to (DELETE, 409): tests/geo/test_city_boundary_api.py.
checks.positive_data_acceptance.expected-statuses = [200, 201, 204, 400, 403, 404, 409]

[[operations]]
include-path-regex = "^/api/auth/logout"
# Logging out revokes the very token the run signs in with; the identity tests cover these endpoints.
enabled = false
"""


def _config(path: Path, scheme: str, token: str) -> Path:
    # The token as the schema's own security scheme, so that the auth checks know which credentials are ours.
    auth = f'[auth.openapi.{scheme}]\napi_key = "Token {token}"\n'
    path.write_text(auth + CONFIG, encoding="utf-8")
    return path


@pytest.mark.parametrize("role", list(ROLES))
def test_schemathesis_finds_nothing(api_server: LiveServer, role: str, tmp_path: Path) -> None:
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    assert st is not None, "schemathesis is a dev dependency: pip install -e '.[dev]'"
    config = _config(tmp_path / "schemathesis.toml", _token_scheme(api_server), api_server.tokens[role])
    command = [
        st,
        "--config-file",
        str(config),
        "run",
        f"{api_server.url}/api/schema/?format=json",
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--phases",
        ROLES[role],
        "--workers",
        str(WORKERS),
        "--generation-database",
        "none",
        "--request-timeout",
        "60",
        "--no-color",
        "--baseline",
        str(BASELINE),
    ]
    if os.environ.get("HOTLINE_SCHEMATHESIS_RECORD"):  # only to write the list the first time
        command.append("--baseline-update")
    if os.environ.get("HOTLINE_SCHEMATHESIS_PRUNE"):
        command.append("--baseline-prune")
    # The hooks make values of the schema's own formats (a valid phone number); they load from the repository.
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.schemathesis_hooks", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=RUN_SECONDS, check=False
    )
    assert done.returncode == 0, f"schemathesis as {role} found failures:\n{done.stdout[-20000:]}\n{done.stderr}"
