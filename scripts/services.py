"""Throwaway PostgreSQL and Redis servers for tests and benchmarks (standard library only).

Import by path, e.g. ``sys.path.insert(0, str(REPO_ROOT / "scripts")); import services``.

    url, stop = start_postgres(tmpdir)   # postgres://hotline@127.0.0.1:PORT/hotline
    url, stop = start_redis()            # redis://127.0.0.1:PORT/0
    stop()                               # idempotent; the caller removes tmpdir afterwards

Both listen on 127.0.0.1 only, on a free port, and are tuned for speed, not durability.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

StopFn = Callable[[], None]

PG_USER = "hotline"
PG_DATABASE = "hotline"
STARTUP_TIMEOUT = 60.0
# Every server tool we call must come from the same installation, so the whole set is required.
PG_SERVER_TOOLS = ("initdb", "pg_ctl", "postgres", "pg_isready", "createdb")
# Loopback only, nothing written to disk, and in the foreground so stop() can terminate it.
REDIS_OPTIONS = ("--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no")


class ServiceError(RuntimeError):
    """A server could not be found or started; the message says why."""


# --- discovery ---------------------------------------------------------------------------------


def find_postgres_bindir() -> Path | None:
    for candidate in _postgres_bindir_candidates():
        if all(os.access(candidate / tool, os.X_OK) for tool in PG_SERVER_TOOLS):
            return candidate
    return None


def _postgres_bindir_candidates() -> list[Path]:
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0 and out.stdout.strip():
            candidates.append(Path(out.stdout.strip()))
    # Debian/Ubuntu keep server binaries off PATH, one directory per major version; newest first.
    debian_dirs = Path("/usr/lib/postgresql").glob("*/bin")
    candidates.extend(sorted(debian_dirs, key=lambda p: _version_key(p.parent.name), reverse=True))
    for tool in ("initdb", "pg_ctl", "postgres"):
        found = shutil.which(tool)
        if found:
            candidates.append(Path(found).resolve().parent)
    return candidates


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def find_redis_server() -> str | None:
    return shutil.which("redis-server") or next(
        (path for path in ("/usr/bin/redis-server", "/usr/sbin/redis-server") if os.access(path, os.X_OK)),
        None,
    )


def free_port() -> int:
    # The port is released before the server binds it; a collision in that window is unlikely
    # on a test machine and shows up as a clear startup error rather than a hang.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- PostgreSQL --------------------------------------------------------------------------------


def start_postgres(
    tmpdir: str | os.PathLike[str], *, settings: dict[str, str] | None = None, port: int | None = None
) -> tuple[str, StopFn]:
    """Start a cluster under ``tmpdir`` with database ``hotline`` owned by superuser ``hotline``.

    A new, empty ``tmpdir`` (e.g. from tempfile.mkdtemp()) gets a fresh cluster; one that already holds a
    cluster made here (scripts/cluster.py keeps its data between starts) is started as it is. When running as
    root the directory is handed to the ``postgres`` system user, because PostgreSQL refuses to run as root.
    ``settings`` are added to postgresql.conf (benchmarks size the cluster like a production one; the
    no-Docker cluster turns durability back on).
    """
    bindir = find_postgres_bindir()
    if bindir is None:
        raise ServiceError("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found")
    base = Path(tmpdir).resolve()
    as_owner = _run_as_cluster_owner(base)
    datadir = base / "pgdata"
    logfile = base / "postgres.log"
    fresh = not (datadir / "PG_VERSION").exists()
    if fresh:
        _initdb(bindir, datadir, as_owner)
    port = port or free_port()
    _configure(datadir, port, socket_dir=base, extra=settings or {})
    pg_ctl = [*as_owner, str(bindir / "pg_ctl"), "-D", str(datadir)]
    start = [*pg_ctl, "-l", str(logfile), "-w", "-t", "60", "start"]
    _check(start, "pg_ctl start", cwd=base, logfile=logfile)
    stop = _once(lambda: _stop_postgres(pg_ctl, base))
    try:
        _wait_until(lambda: _pg_isready(bindir, port), "PostgreSQL to accept TCP connections")
        if fresh:
            _check(
                [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", PG_USER, PG_DATABASE],
                "createdb",
                logfile=logfile,
            )
    except BaseException:
        stop()
        raise
    return f"postgres://{PG_USER}@127.0.0.1:{port}/{PG_DATABASE}", stop


def restart_postgres(tmpdir: str | os.PathLike[str], mode: str = "fast") -> None:
    """Restart the cluster under ``tmpdir`` on its port (fault drills); ``mode`` is pg_ctl's stop mode."""
    bindir = find_postgres_bindir()
    if bindir is None:
        raise ServiceError("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found")
    base = Path(tmpdir).resolve()
    as_owner = _run_as_cluster_owner(base)
    pg_ctl = [*as_owner, str(bindir / "pg_ctl"), "-D", str(base / "pgdata")]
    logfile = base / "postgres.log"
    _check([*pg_ctl, "-l", str(logfile), "-m", mode, "-w", "-t", "60", "restart"], "pg_ctl restart", cwd=base)


def _run_as_cluster_owner(base: Path) -> list[str]:
    """Command prefix that runs server tools as a non-root user that owns ``base``."""
    if os.geteuid() != 0:
        return []
    try:
        owner = pwd.getpwnam("postgres")
    except KeyError:
        raise ServiceError("running as root needs the 'postgres' system user to own the cluster") from None
    runuser = shutil.which("runuser")
    if runuser is None:
        raise ServiceError("running as root needs runuser (util-linux) to drop to the 'postgres' user")
    os.chown(base, owner.pw_uid, owner.pw_gid)
    return [runuser, "-u", "postgres", "--"]


def _initdb(bindir: Path, datadir: Path, as_owner: list[str]) -> None:
    common = ["-D", str(datadir), "-U", PG_USER, "--auth=trust", "-E", "UTF8", "--no-sync"]
    first = subprocess.run(
        [*as_owner, str(bindir / "initdb"), *common, "--locale=C.UTF-8"],
        cwd=datadir.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    if first.returncode == 0:
        return
    # Some systems lack the C.UTF-8 locale; the C locale with UTF-8 encoding works everywhere.
    shutil.rmtree(datadir, ignore_errors=True)
    _check([*as_owner, str(bindir / "initdb"), *common, "--no-locale"], "initdb", cwd=datadir.parent)


def _configure(datadir: Path, port: int, socket_dir: Path, extra: dict[str, str]) -> None:
    settings = {
        "listen_addresses": "'127.0.0.1'",
        "port": str(port),
        "unix_socket_directories": _pg_quote(str(socket_dir)),
        "max_connections": "100",
        # Throwaway cluster: durability is irrelevant and these make test setup much faster.
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        **extra,
    }
    with (datadir / "postgresql.conf").open("a", encoding="utf-8") as conf:
        conf.write("\n# scripts/services.py\n")
        conf.writelines(f"{name} = {value}\n" for name, value in settings.items())


def _pg_quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _pg_isready(bindir: Path, port: int) -> bool:
    cmd = [str(bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port), "-U", PG_USER, "-t", "2"]
    return subprocess.run(cmd, check=False).returncode == 0


def _stop_postgres(pg_ctl: list[str], base: Path) -> None:
    # Immediate mode: nothing in a throwaway cluster is worth a clean checkpoint.
    cmd = [*pg_ctl, "-m", "immediate", "-w", "-t", "30", "stop"]
    result = subprocess.run(cmd, cwd=base, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        print(f"warning: pg_ctl stop failed: {result.stdout}{result.stderr}".rstrip(), flush=True)


# --- Redis -------------------------------------------------------------------------------------


def start_redis(port: int | None = None) -> tuple[str, StopFn]:
    """Start a non-persistent redis-server as a child process.

    Pass ``port`` to bring a server back on the address of one that was stopped (restart tests).
    """
    server = find_redis_server()
    if server is None:
        raise ServiceError("redis-server not found")
    port = port or free_port()
    # A file, not a pipe: nobody drains the output while tests run, and a full pipe blocks redis.
    log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server; closed by stop()
    proc = subprocess.Popen(
        [server, "--port", str(port), *REDIS_OPTIONS],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tempfile.gettempdir(),
    )
    stop = _once(lambda: _stop_process(proc, log))
    try:
        _wait_until(lambda: _redis_ping(port), "redis PING", alive=lambda: proc.poll() is None)
    except ServiceError as exc:
        output = _read_log(log)
        stop()
        raise ServiceError(f"{exc}\n--- redis-server output ---\n{output}") from None
    except BaseException:
        stop()
        raise
    return f"redis://127.0.0.1:{port}/0", stop


def _redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _stop_process(proc: subprocess.Popen[bytes], log: IO[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log.close()


def _read_log(log: IO[bytes]) -> str:
    log.seek(0)
    return log.read().decode(errors="replace")[-4000:]


# --- helpers -----------------------------------------------------------------------------------


def _wait_until(
    ready: Callable[[], bool],
    what: str,
    timeout: float = STARTUP_TIMEOUT,
    alive: Callable[[], bool] = lambda: True,
) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.02
    while not ready():
        if not alive():
            raise ServiceError(f"gave up waiting for {what}: the process exited")
        if time.monotonic() > deadline:
            raise ServiceError(f"gave up waiting for {what} after {timeout:.0f}s")
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


def _check(cmd: list[str], what: str, cwd: Path | None = None, logfile: Path | None = None) -> None:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode == 0:
        return
    details = f"{result.stdout}{result.stderr}".strip()
    if logfile is not None and logfile.exists():
        details += f"\n--- {logfile.name} ---\n{logfile.read_text(errors='replace')[-4000:]}"
    raise ServiceError(f"{what} failed (exit {result.returncode}): {' '.join(cmd)}\n{details}")


def _once(fn: StopFn) -> StopFn:
    """Make a stop function safe to call from both an error path and a final cleanup."""
    done = False

    def wrapper() -> None:
        nonlocal done
        if not done:
            done = True
            fn()

    return wrapper
