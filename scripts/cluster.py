#!/usr/bin/env python3
"""The production topology on one machine without Docker (standard library only).

PostgreSQL and Redis (Debian's, started here on loopback), migrations as a one-off step, N Daphne processes
behind nginx (WebSocket upgrade; header and body read time-outs; long-lived sockets), M timer workers. All of
it under one supervisor (scripts/supervise.py): SIGTERM or Ctrl-C stops everything within the grace period,
and a Daphne or worker that dies is started again. The same shape as docker/compose.yml.

Usage: python3 scripts/cluster.py [--web 2] [--workers 2] [--port 8080] [--data var/cluster] [--demo]
                                  [--restore ARCHIVE]
       python3 scripts/cluster.py backup ARCHIVE [--data var/cluster]

The data directory keeps the database between starts. ``--demo`` loads the demo city into a database that
was not set up for production; without it, set HOTLINE_ADMIN_USERNAME/HOTLINE_ADMIN_PASSWORD for the first
administrator (docs/OPERATIONS.md).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import BinaryIO

import services
from environment import REPO_ROOT, ensure_venv, venv_bin
from supervise import Supervisor, grace_from_environment

READY_TIMEOUT = 90.0
NGINX_TEMP_DIRS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
# PostgreSQL as a real deployment keeps it: the throwaway test clusters switch these off.
DURABLE = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on", "max_connections": "200"}


class Cluster:
    """Start, fault and stop the topology; the fault drill (tests/ops/) drives it through these methods."""

    def __init__(
        self,
        data: Path,
        *,
        web: int = 2,
        workers: int = 2,
        port: int = 0,
        grace: float = 10.0,
        settings: dict[str, str] | None = None,
    ) -> None:
        """``settings``: environment variables for every process of the cluster (HOTLINE_..., see README)."""
        self.data = data.resolve()
        self.settings = dict(settings or {})
        self.web_count = web
        self.worker_count = workers
        self.port = port or services.free_port()
        self.supervisor = Supervisor(grace=grace)
        self.python = str(venv_bin("python"))
        self.web_ports = [services.free_port() for _ in range(web)]
        self.database_url = ""
        self.redis_url = ""
        self._stop_postgres: services.StopFn | None = None
        self._stop_redis: services.StopFn | None = None
        self._redis_port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pg_dir(self) -> Path:
        return self.data / "postgres"

    @property
    def run_dir(self) -> Path:
        return self.data / "run"

    # --- bringing it up -----------------------------------------------------------------------

    def up(self, *, demo: bool = False, demo_args: tuple[str, ...] = (), restore: Path | None = None) -> None:
        """Start everything; ``restore``: a pg_dump archive to load into a new data directory first."""
        fresh = not (self.pg_dir / "pgdata").exists()
        if restore is not None and not fresh:
            raise services.ServiceError(f"{self.data} already holds a database; restore into a new data directory")
        for folder in (self.data, self.pg_dir, self.run_dir, self.data / "var"):
            folder.mkdir(parents=True, exist_ok=True)
        # PostgreSQL runs as its own user and must pass through the data directory to reach its cluster.
        self.data.chmod(0o755)
        self.database_url, self._stop_postgres = services.start_postgres(self.pg_dir, settings=DURABLE)
        (self.run_dir / "database_url").write_text(self.database_url)
        if restore is not None:
            restore_database(self.database_url, restore)
        self._redis_port = services.free_port()
        self.redis_url, self._stop_redis = services.start_redis(self._redis_port)
        self.manage("migrate", "--noinput", "-v0")
        if demo:
            self.manage("load_demo_city", *demo_args)
        elif restore is None:
            # Marks the database for production; the first administrator from HOTLINE_ADMIN_* (docs/OPERATIONS.md).
            # A restored database keeps the purpose it was set up for.
            self.manage("init_production", "--no-input")
        for index, port in enumerate(self.web_ports, start=1):
            self.supervisor.start(
                f"web-{index}",
                self._daphne(port),
                env=self.env(),
                cwd=REPO_ROOT,
                restart=True,
                log=self._log(f"web-{index}"),
            )
        for index in range(1, self.worker_count + 1):
            self.supervisor.start(
                f"timers-{index}",
                [self.python, "manage.py", "run_timers"],
                env=self.env(),
                cwd=REPO_ROOT,
                restart=True,
                log=self._log(f"timers-{index}"),
            )
            self.supervisor.start(
                f"outbox-{index}",
                [self.python, "manage.py", "run_outbox"],
                env=self.env(),
                cwd=REPO_ROOT,
                restart=True,
                log=self._log(f"outbox-{index}"),
            )
        for port in self.web_ports:
            _wait_for_http("127.0.0.1", port, "/health/live")
        self.supervisor.start("nginx", self._nginx(), cwd=self.run_dir, restart=True, log=self._log("nginx"))
        _wait_for_http("127.0.0.1", self.port, "/health/live")

    def env(self) -> dict[str, str]:
        origin = f"http://127.0.0.1:{self.port}"
        return {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "DJANGO_SECRET_KEY": self._secret_key(),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "CSRF_TRUSTED_ORIGINS": f"{origin},http://localhost:{self.port}",
            "HOTLINE_VAR_DIR": str(self.data / "var"),
            **self.settings,
        }

    def manage(self, *args: str) -> None:
        result = subprocess.run([self.python, "manage.py", *args], cwd=REPO_ROOT, env=self.env(), check=False)
        if result.returncode != 0:
            raise services.ServiceError(f"manage.py {args[0]} failed (exit {result.returncode})")

    def _secret_key(self) -> str:
        key_file = self.data / "secret_key"
        if not key_file.exists():
            key_file.write_text(secrets.token_urlsafe(50))
            key_file.chmod(0o600)
        return key_file.read_text().strip()

    def _log(self, name: str) -> BinaryIO:
        return (self.run_dir / f"{name}.log").open("ab")

    def _daphne(self, port: int) -> list[str]:
        # Daphne through core.web: its access log goes through the log filters (no device keys, no phone numbers).
        return [
            self.python, "-m", "core.web",
            "-b", "127.0.0.1", "-p", str(port),
            "--proxy-headers",
            # Whatever the application has not finished this long after a client left is cancelled.
            "--application-close-timeout", "5",
            "config.asgi:application",
        ]  # fmt: skip

    def _nginx(self) -> list[str]:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        conf = self.run_dir / "nginx.conf"
        conf.write_text(nginx_config(self.port, self.web_ports, self.run_dir))
        return [nginx, "-p", str(self.run_dir), "-c", str(conf), "-e", str(self.run_dir / "nginx-error.log")]

    # --- faults (the drill) -------------------------------------------------------------------

    def kill(self, name: str) -> int | None:
        """SIGKILL one supervised process (``web-1``, ``timers-2``, ...); the supervisor starts it again."""
        return self.supervisor.kill(name)

    def restart_postgres(self) -> None:
        services.restart_postgres(self.pg_dir, mode="fast")

    def restart_redis(self) -> None:
        if self._stop_redis is not None:
            self._stop_redis()
        self.redis_url, self._stop_redis = services.start_redis(self._redis_port)

    def poll(self) -> None:
        self.supervisor.poll()

    # --- stopping -----------------------------------------------------------------------------

    def down(self) -> None:
        self.supervisor.stop()
        for stop in (self._stop_redis, self._stop_postgres):
            if stop is not None:
                stop()


def backup_database(database_url: str, archive: Path) -> None:
    """A consistent pg_dump archive (custom format) of the live database; the cluster keeps serving."""
    _pg_tool("pg_dump", "--format=custom", "--no-owner", f"--file={archive}", f"--dbname={database_url}")


def restore_database(database_url: str, archive: Path) -> None:
    """Load a pg_dump archive into an empty database (a new data directory's)."""
    _pg_tool("pg_restore", "--no-owner", "--exit-on-error", f"--dbname={database_url}", str(archive))


def _pg_tool(name: str, *args: str) -> None:
    bindir = services.find_postgres_bindir()
    tool = str(bindir / name) if bindir is not None else (shutil.which(name) or name)
    result = subprocess.run([tool, *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise services.ServiceError(f"{name} failed (exit {result.returncode}): {result.stderr[-2000:]}")


def nginx_config(port: int, web_ports: list[int], run_dir: Path) -> str:
    user = ""
    if os.geteuid() == 0:
        # nginx's workers drop root; they must own the temporary folders they write request bodies to.
        account = _first_user("www-data", "nobody")
        user = f"user {account.pw_name};"
    temp = []
    for name in NGINX_TEMP_DIRS:
        folder = run_dir / f"nginx-{name}"
        folder.mkdir(parents=True, exist_ok=True)
        if user:
            os.chown(folder, account.pw_uid, account.pw_gid)
        temp.append(f"{name}_temp_path {folder};")
    # nginx drops a level's proxy_set_header lines where a nested level sets any: each location sets them all.
    headers = "\n".join(
        f"            proxy_set_header {name} {value};"
        for name, value in (
            ("Host", "$http_host"),
            ("X-Forwarded-For", "$remote_addr"),
            ("X-Forwarded-Proto", "$scheme"),
            ("X-Request-ID", "$request_id"),
        )
    )
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;" for p in web_ports)
    return f"""# Written by scripts/cluster.py; docker/nginx.conf is the same for the containers.
{user}
daemon off;
worker_processes 1;
pid {run_dir}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
    {" ".join(temp)}
    access_log off;
    # Slow or half-sent requests are cut off here, before they reach Daphne.
    client_header_timeout 10s;
    client_body_timeout 20s;
    send_timeout 30s;
    keepalive_timeout 30s;
    client_max_body_size 12m;
    large_client_header_buffers 4 16k;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    upstream daphne {{
        least_conn;
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        proxy_http_version 1.1;
        proxy_connect_timeout 2s;
        location /ws/ {{
            proxy_pass http://daphne;
{headers}
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            # Live screens stay connected for hours; the server pings them well inside this.
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
        }}
        location / {{
            proxy_pass http://daphne;
{headers}
            proxy_set_header Connection "";
            proxy_read_timeout 60s;
        }}
    }}
}}
"""


def _first_user(*names: str) -> pwd.struct_passwd:
    for name in names:
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise services.ServiceError(f"none of the users {names} exists for nginx's workers")


def _wait_for_http(host: str, port: int, path: str, timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection(host, port, timeout=5)
            connection.request("GET", path)
            status = connection.getresponse().status
            connection.close()
            if status == 200:
                return
            last = f"HTTP {status}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.2)  # polling a server that is starting: the readiness check, not synchronisation
    raise services.ServiceError(f"http://{host}:{port}{path} not ready after {timeout:.0f}s ({last})")


def main(argv: list[str]) -> int:
    if argv[:1] == ["backup"]:
        return backup_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python3 scripts/cluster.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--web", type=int, default=2, help="Daphne processes (default 2)")
    parser.add_argument("--workers", type=int, default=2, help="timer worker processes (default 2)")
    parser.add_argument("--port", type=int, default=8080, help="the port nginx listens on (default 8080)")
    parser.add_argument("--data", type=Path, default=REPO_ROOT / "var" / "cluster", help="data directory")
    parser.add_argument("--demo", action="store_true", help="load the demo city (never on a production database)")
    parser.add_argument("--restore", type=Path, help="a pg_dump archive to restore into a new data directory")
    options = parser.parse_args(argv)
    ensure_venv()
    cluster = Cluster(options.data, web=options.web, workers=options.workers, port=options.port,
                      grace=grace_from_environment())  # fmt: skip
    try:
        cluster.up(demo=options.demo, restore=options.restore)
        print(f"Open {cluster.url}/  (logs in {cluster.run_dir})", flush=True)
        return cluster.supervisor.serve()
    finally:
        cluster.down()


def backup_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python3 scripts/cluster.py backup", description="Back up a running cluster.")
    parser.add_argument("archive", type=Path, help="the pg_dump archive to write")
    parser.add_argument("--data", type=Path, default=REPO_ROOT / "var" / "cluster", help="the cluster's data directory")
    options = parser.parse_args(argv)
    url_file = options.data / "run" / "database_url"
    if not url_file.exists():
        sys.exit(f"no running cluster found under {options.data}")
    backup_database(url_file.read_text().strip(), options.archive)
    print(f"wrote {options.archive}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
