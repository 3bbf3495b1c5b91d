"""Log lines: JSON (or plain text for development), each with the id of the request it belongs to, and no
personal data (settings.LOGGING wires these up; docs/OPERATIONS.md "Logs" describes the format).

- ``RequestIdFilter`` stamps every record with ``request_id``: the one core/request_id.py set for the request
  being served, "-" outside a request.
- ``PersonalDataFilter`` masks phone and ID-card numbers in the message and the traceback (the same masking as
  agencies' screens, core/redaction.py) and blanks secrets in query strings (``key=``, ``token=``, ...), so a
  device key in an AVL URL or a caller's number in an error never reaches a log file.
- ``JsonFormatter``: one JSON object per line with timestamp (ISO 8601 in the city's zone, Asia/Shanghai),
  level, logger, message, request_id, and whatever ``extra`` fields the call gave.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import re
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from pythonjsonlogger.json import JsonFormatter as BaseJsonFormatter

from core.redaction import mask_personal_numbers

#: The id of the request the current thread or task serves (core/request_id.py sets and resets it).
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

#: Query parameters whose values are secrets (the OsmAnd AVL protocol sends the device key as ``key=``).
SECRET_PARAMETERS = ("key", "token", "access_token", "password", "secret", "api_key", "apikey")
_SECRET_QUERY = re.compile(r"(?i)([?&;](?:" + "|".join(SECRET_PARAMETERS) + r")=)[^&;#\s\"']*")
REDACTED = "[redacted]"


def without_secrets(text: str) -> str:
    """``text`` with the values of secret query parameters replaced: /api/avl/osmand/?id=7&key=[redacted]."""
    return _SECRET_QUERY.sub(lambda match: match.group(1) + REDACTED, text)


def scrub(text: str) -> str:
    """What a log may say of ``text``: no secrets in query strings, no phone or ID-card numbers."""
    return mask_personal_numbers(without_secrets(text))


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = request_id.get() or "-"
        return True


class PersonalDataFilter(logging.Filter):
    """Rewrites the record's message (arguments merged in) and traceback text without personal data."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: log what there is rather than nothing
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = scrub(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        for name in ("path", "query"):  # structured fields given as ``extra``
            value = getattr(record, name, None)
            if isinstance(value, str):
                setattr(record, name, scrub(value))
        return True


class JsonFormatter(BaseJsonFormatter):
    """{"timestamp": "2026-12-07T15:04:05.123+08:00", "level": "INFO", "logger": ..., "message": ...,
    "request_id": ..., ...extra fields}."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("json_ensure_ascii", False)
        super().__init__(*args, **kwargs)

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        super().add_fields(log_data, record, message_dict)
        zone = ZoneInfo(settings.TIME_ZONE)
        log_data["timestamp"] = dt.datetime.fromtimestamp(record.created, zone).isoformat(timespec="milliseconds")
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["message"] = record.getMessage()
        log_data["request_id"] = getattr(record, "request_id", None) or request_id.get() or "-"
        for noise in ("levelname", "name", "asctime", "color_message"):
            log_data.pop(noise, None)
        # Extra fields too (Django's error log passes the request, whose text holds the query string).
        for key, value in log_data.items():
            if not isinstance(value, bool | int | float | type(None)):
                log_data[key] = scrub(value if isinstance(value, str) else str(value))


def logging_config(log_format: str, level: str) -> dict[str, Any]:
    """settings.LOGGING: ``log_format`` "json" (production) or "text" (development)."""
    if log_format not in ("json", "text"):
        raise ValueError(f"HOTLINE_LOG_FORMAT must be json or text, not {log_format!r}")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": "core.logs.RequestIdFilter"},
            "personal_data": {"()": "core.logs.PersonalDataFilter"},
        },
        "formatters": {
            "json": {"()": "core.logs.JsonFormatter"},
            "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["request_id", "personal_data"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {"django.request": {"level": "ERROR"}},
    }
