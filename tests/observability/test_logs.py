"""Logs: JSON lines with the request's id (the proxy's when well formed), timestamps in Asia/Shanghai, and no
personal data or device keys, through the handler settings.LOGGING configures, and from a real Daphne."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from core.logs import logging_config
from tests.conftest import World

ROOT = Path(__file__).resolve().parents[2]
DEVICE_KEY = "a-very-secret-device-key-0001"
PHONE = "13912345678"
WAIT = 60  # seconds a test waits for something that must happen (a failure, not a sleep)


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """What the configured console handler writes (its own filters and formatter), while the test runs."""
    (handler,) = [h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler) and h.filters]
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        yield stream
    finally:
        handler.setStream(previous)  # type: ignore[arg-type]


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_a_request_logs_json_with_its_id_and_no_key_or_phone(world: World, log_output: io.StringIO) -> None:
    client = Client(HTTP_X_REQUEST_ID="proxy-0123456789abcdef")
    response = client.get(f"/api/avl/osmand/?id=IMEI-404&lat=24.3&lon=109.4&key={DEVICE_KEY}&note={PHONE}")
    assert response["X-Request-ID"] == "proxy-0123456789abcdef"
    lines = _lines(log_output)
    (request_line,) = [line for line in lines if line["logger"] == "hotline.request"]
    assert request_line["request_id"] == "proxy-0123456789abcdef"
    assert request_line["level"] == "INFO" and request_line["status"] == response.status_code
    assert "key=[redacted]" in request_line["message"] and "139****5678" in request_line["message"]
    stamp = dt.datetime.fromisoformat(request_line["timestamp"])
    assert stamp.utcoffset() == dt.timedelta(hours=8)
    assert DEVICE_KEY not in log_output.getvalue() and PHONE not in log_output.getvalue()


@pytest.mark.parametrize("given", [None, "", "13812345678", "bad id with spaces", "x" * 200, "abc\ninjected"])
def test_an_ill_formed_or_missing_request_id_is_replaced(world: World, given: str | None) -> None:
    headers = {} if given is None else {"HTTP_X_REQUEST_ID": given}
    response = Client().get("/health/live", **headers)  # type: ignore[arg-type]
    assert response.status_code == 200
    rid = response["X-Request-ID"]
    assert rid != given and len(rid) == 32 and int(rid, 16) >= 0


def test_log_lines_of_a_request_carry_its_id_and_mask_numbers(world: World, log_output: io.StringIO) -> None:
    logger = logging.getLogger("tests.observability")
    try:
        raise ValueError(f"caller {PHONE} not found")
    except ValueError:
        logger.exception("lookup of %s failed", "+86 139 1234 5678")
    (line,) = [line for line in _lines(log_output) if line["logger"] == "tests.observability"]
    assert line["message"] == "lookup of 139****5678 failed" and line["request_id"] == "-"
    assert "139****5678" in line["exc_info"] and PHONE not in json.dumps(line)


def test_text_format_for_development() -> None:
    config = logging_config("text", "INFO")
    assert config["handlers"]["console"]["formatter"] == "text"
    assert config["handlers"]["console"]["filters"] == ["request_id", "personal_data"]
    with pytest.raises(ValueError):
        logging_config("xml", "INFO")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=WAIT) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_daphne_access_log_holds_no_device_key(tmp_path: Path) -> None:
    """The real server (core.web, Daphne with its access log through logging): the OsmAnd request's key=
    and a phone number in a query are not in anything it writes."""
    port = _free_port()
    env = {**os.environ, "HOTLINE_VAR_DIR": str(tmp_path), "HOTLINE_LOG_FORMAT": "json", "LOG_LEVEL": "INFO"}
    env.pop("DATABASE_URL", None)
    output = tmp_path / "server.log"
    with output.open("wb") as sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "core.web", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + WAIT
            while True:  # until it answers
                try:
                    assert _get(f"http://127.0.0.1:{port}/health/live") == 200
                    break
                except (urllib.error.URLError, ConnectionError):
                    assert server.poll() is None and time.monotonic() < deadline, output.read_text()
                    time.sleep(0.2)
            _get(f"http://127.0.0.1:{port}/api/avl/osmand/?id=IMEI-1&lat=24.3&lon=109.4&key={DEVICE_KEY}")
            _get(f"http://127.0.0.1:{port}/health/live?phone={PHONE}")
            while True:  # until both access lines are written
                access = [
                    json.loads(line)
                    for line in output.read_text().splitlines()
                    if line.startswith("{") and '"daphne.access"' in line
                ]
                if len(access) >= 3:
                    break
                assert server.poll() is None and time.monotonic() < deadline, output.read_text()
                time.sleep(0.2)
        finally:
            server.terminate()
            server.wait(timeout=WAIT)
    text = output.read_text()
    assert DEVICE_KEY not in text and PHONE not in text
    osmand = next(line for line in access if "/api/avl/osmand/" in line["message"])
    assert "key=[redacted]" in osmand["message"] and osmand["level"] == "INFO"
