"""Where EIDOs go: the partner centres (110/119/120/122, neighbouring 12345 centres) of
``HOTLINE["EIDO_PARTNERS"]``, and the outbox's ``eido`` sender that POSTs to them.

``HOTLINE["EIDO_PARTNERS"]`` maps a key to ``{"name": ..., "url": ..., "secret": ..., "allow_private_network":
false}``. A delivery's destination is the key, so a corrected URL or secret applies to the retries. The URL is
checked like a webhook's (exchange/targets.py: http(s), public addresses unless allowed, the checked address
connected to, no redirects followed); with a secret the body is signed like a webhook's (``X-Hotline-Signature``,
exchange/signing.py). A receiver drops repeats by ``X-Hotline-Delivery``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from exchange import outbox, signing, targets
from exchange.models import Delivery

KIND = "eido"
EVENT_TYPE = "incident.eido"
CONTENT_TYPE = "application/json; charset=utf-8"


@dataclass(frozen=True)
class Partner:
    key: str
    name: str
    url: str
    secret: str
    allow_private_network: bool


def partners() -> dict[str, Partner]:
    configured: dict[str, Any] = settings.HOTLINE.get("EIDO_PARTNERS") or {}
    return {
        str(key): Partner(
            key=str(key),
            name=str(entry.get("name") or key),
            url=str(entry.get("url") or ""),
            secret=str(entry.get("secret") or ""),
            allow_private_network=bool(entry.get("allow_private_network", False)),
        )
        for key, entry in configured.items()
        if isinstance(entry, dict)
    }


def send_eido(delivery: Delivery, now: dt.datetime) -> outbox.Outcome:
    """The outbox's sender for ``eido`` deliveries: POST the document to the partner's URL."""
    partner = partners().get(delivery.destination)
    if partner is None or not partner.url:
        return outbox.Outcome(None, "unknown_partner")
    try:
        target = targets.resolve_target(partner.url, allow_private=partner.allow_private_network)
    except targets.TargetRefused as refused:
        return outbox.Outcome(None, refused.code)
    body = delivery.body.encode("utf-8")
    headers = {
        "Content-Type": CONTENT_TYPE,
        "User-Agent": "hotline-eido/1",
        "X-Hotline-Delivery": str(delivery.id),
        "X-Hotline-Event": delivery.event_type,
    }
    if partner.secret:
        headers["X-Hotline-Signature"] = signing.signature_header([partner.secret], int(now.timestamp()), body)
    try:
        status = targets.post(
            target,
            body,
            headers,
            connect_timeout=outbox.setting("WEBHOOK_CONNECT_TIMEOUT_SECONDS", 5),
            read_timeout=outbox.setting("WEBHOOK_READ_TIMEOUT_SECONDS", 10),
        )
    except TimeoutError:
        return outbox.Outcome(None, "timeout")
    except OSError:
        return outbox.Outcome(None, "connection")
    except Exception:  # a malformed response (http.client.HTTPException and the like)
        return outbox.Outcome(None, "bad_response")
    if 200 <= status < 300:
        return outbox.Outcome(status, "")
    return outbox.Outcome(status, "redirect" if 300 <= status < 400 else "http_status")


def register() -> None:
    outbox.register_sender(KIND, send_eido)
