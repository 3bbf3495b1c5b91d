"""The outbox's write and drain paths.

``enqueue`` writes a Delivery inside the caller's transaction (it refuses to run outside one), so the delivery
exists exactly when the change that caused it committed. The worker (``manage.py run_outbox``) drains in rounds,
the timers' way (dispatch/deadlines/escalations.py):

1. claim: mark up to ``limit`` due pending rows with a fresh token and a lease - ``SELECT ... FOR UPDATE SKIP
   LOCKED`` on PostgreSQL, a compare-and-set UPDATE on SQLite - in one short transaction.
2. send each claimed row outside any transaction, then record the attempt and the outcome in a short
   transaction that only touches the row while it still carries our token.

A worker killed between 1 and 2 (or mid-send) leaves rows whose lease expires; another round sends them again,
with the same delivery id: at least once, never lost. Logs carry the delivery id, status and error kind only.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from core import clock
from exchange import signing, targets
from exchange.models import Delivery, DeliveryAttempt, DeliveryState, Subscription

logger = logging.getLogger(__name__)

DEFAULT_BATCH = 20
DEFAULT_LEASE_SECONDS = 120.0


def setting(name: str, default: float) -> float:
    return float(settings.HOTLINE.get(name, default))


def max_failures() -> int:
    return int(setting("OUTBOX_MAX_FAILURES", 8))


def _require_transaction() -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("deliveries are enqueued inside the transaction of the change that causes them")


def enqueue(subscription: Subscription, event_type: str, body: str, *, event_id: int | None = None) -> Delivery:
    """Write one webhook delivery; call inside the transaction of the change that causes it."""
    _require_transaction()
    return Delivery.objects.create(subscription=subscription, event_type=event_type, body=body, event_id=event_id)


def enqueue_to(kind: str, destination: str, event_type: str, body: str, *, event_id: int | None = None) -> Delivery:
    """Write one delivery of a registered kind (see register_sender) to a destination that kind understands."""
    _require_transaction()
    if kind not in _senders:
        raise ValueError(f"no sender registered for delivery kind {kind!r}")
    return Delivery.objects.create(
        kind=kind, destination=destination, event_type=event_type, body=body, event_id=event_id
    )


def backoff_seconds(failures: int) -> float:
    """Capped exponential backoff with jitter: between half and all of min(cap, base * 2^(failures - 1))."""
    base = setting("OUTBOX_BACKOFF_BASE_SECONDS", 10)
    cap = setting("OUTBOX_BACKOFF_CAP_SECONDS", 3600)
    ceiling = min(cap, base * 2 ** max(failures - 1, 0))
    return random.uniform(ceiling / 2, ceiling)  # jitter, not a secret


def _db_time(moment: dt.datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(moment)


def claim_due(*, limit: int, lease_seconds: float, now: dt.datetime) -> tuple[str, list[str]]:
    """Claim due deliveries for this worker; returns the claim token and the claimed ids (hex)."""
    token = uuid.uuid4().hex
    table = Delivery._meta.db_table
    until = now + dt.timedelta(seconds=lease_seconds)
    free = "state = %s AND next_attempt_at <= %s AND (claimed_until IS NULL OR claimed_until < %s)"
    free_params = [DeliveryState.PENDING.value, _db_time(now), _db_time(now)]
    if connection.vendor == "postgresql":
        sql = (
            f"UPDATE {table} SET claim_token = %s, claimed_until = %s WHERE id IN (SELECT id FROM {table} "
            f"WHERE {free} ORDER BY next_attempt_at LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING id"
        )
        params: list[Any] = [token, _db_time(until), *free_params, limit]
    else:
        # Compare-and-set: the outer WHERE repeats the condition, so a row claimed meanwhile is not taken.
        sql = (
            f"UPDATE {table} SET claim_token = %s, claimed_until = %s WHERE id IN (SELECT id FROM {table} "
            f"WHERE {free} ORDER BY next_attempt_at LIMIT %s) AND {free} RETURNING id"
        )
        params = [token, _db_time(until), *free_params, limit, *free_params]
    with transaction.atomic(durable=True), connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = [str(uuid.UUID(str(row[0]))) for row in cursor.fetchall()]
    return token, ids


@dataclass
class DrainResult:
    claimed: int = 0
    delivered: int = 0
    failed: int = 0
    parked: int = 0


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error_kind: str  # "" when delivered

    @property
    def ok(self) -> bool:
        return not self.error_kind


def headers_for(delivery: Delivery, body: bytes, now: dt.datetime) -> dict[str, str]:
    subscription = delivery.subscription
    assert subscription is not None
    secrets = [subscription.secret]
    if subscription.previous_secret and subscription.previous_secret_until and subscription.previous_secret_until > now:
        secrets.append(subscription.previous_secret)
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "hotline-webhooks/1",
        "X-Hotline-Delivery": str(delivery.id),
        "X-Hotline-Event": delivery.event_type,
        "X-Hotline-Signature": signing.signature_header(secrets, int(now.timestamp()), body),
    }


Sender = Callable[[Delivery, dt.datetime], "Outcome"]


def send_webhook(delivery: Delivery, now: dt.datetime) -> Outcome:
    """POST the body, signed, to the subscription's URL (SSRF-checked, no redirects followed)."""
    subscription = delivery.subscription
    if subscription is None:
        return Outcome(None, "no_subscription")
    try:
        target = targets.resolve_target(subscription.target_url, allow_private=subscription.allow_private_network)
    except targets.TargetRefused as refused:
        return Outcome(None, refused.code)
    body = delivery.body.encode("utf-8")
    try:
        status = targets.post(
            target,
            body,
            headers_for(delivery, body, now),
            connect_timeout=setting("WEBHOOK_CONNECT_TIMEOUT_SECONDS", 5),
            read_timeout=setting("WEBHOOK_READ_TIMEOUT_SECONDS", 10),
        )
    except TimeoutError:
        return Outcome(None, "timeout")
    except OSError:
        return Outcome(None, "connection")
    except Exception:  # a malformed response (http.client.HTTPException and the like)
        return Outcome(None, "bad_response")
    if 200 <= status < 300:
        return Outcome(status, "")
    return Outcome(status, "redirect" if 300 <= status < 400 else "http_status")


_senders: dict[str, Sender] = {"webhook": send_webhook}


def register_sender(kind: str, sender: Sender) -> None:
    """Called from an app's ready(): how deliveries of ``kind`` are sent. A sender returns an Outcome and raises
    nothing for a failure of the other side (an OSError is recorded as "connection")."""
    _senders[kind] = sender


def send(delivery: Delivery, now: dt.datetime) -> Outcome:
    sender = _senders.get(delivery.kind)
    if sender is None:
        return Outcome(None, "unknown_kind")
    try:
        return sender(delivery, now)
    except OSError:
        return Outcome(None, "connection")


def _record(delivery_id: str, token: str, started: dt.datetime, duration_ms: int, outcome: Outcome) -> str:
    """Record the attempt and its consequence, if the row is still ours; returns the new state ("" if not ours)."""
    with transaction.atomic(durable=True):
        delivery = Delivery.objects.select_for_update(of=("self",)).filter(pk=delivery_id, claim_token=token).first()
        if delivery is None:
            return ""  # our lease ran out and another worker has it now: its record counts
        number = delivery.attempt_count + 1
        DeliveryAttempt.objects.create(
            delivery=delivery,
            number=number,
            started_at=started,
            duration_ms=duration_ms,
            status_code=outcome.status_code,
            error_kind=outcome.error_kind,
            ok=outcome.ok,
        )
        delivery.attempt_count = number
        delivery.claim_token, delivery.claimed_until = "", None
        now = clock.now()
        if outcome.ok:
            delivery.state, delivery.delivered_at = DeliveryState.DELIVERED, now
        else:
            delivery.failures += 1
            if delivery.failures >= max_failures():
                delivery.state = DeliveryState.PARKED
                code = f" {outcome.status_code}" if outcome.status_code else ""
                delivery.parked_reason = f"{delivery.failures} failures, last: {outcome.error_kind}{code}"
            else:
                delivery.next_attempt_at = now + dt.timedelta(seconds=backoff_seconds(delivery.failures))
        delivery.save()
        return str(delivery.state)


def drain_once(*, batch: int = DEFAULT_BATCH, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> DrainResult:
    """One round: claim due deliveries and send them."""
    now = clock.now()
    token, ids = claim_due(limit=batch, lease_seconds=lease_seconds, now=now)
    result = DrainResult(claimed=len(ids))
    if not ids:
        return result
    lease_end = now + dt.timedelta(seconds=lease_seconds)
    worst_case = setting("WEBHOOK_CONNECT_TIMEOUT_SECONDS", 5) + setting("WEBHOOK_READ_TIMEOUT_SECONDS", 10)
    deliveries = Delivery.objects.select_related("subscription").filter(pk__in=ids).order_by("next_attempt_at")
    unsent = set(ids)
    for delivery in deliveries:
        started = clock.now()
        if started + dt.timedelta(seconds=worst_case) > lease_end:
            # The rest could outlive our lease: give them back now for the next round.
            Delivery.objects.filter(pk__in=unsent, claim_token=token).update(claim_token="", claimed_until=None)
            break
        unsent.discard(str(delivery.pk))
        began = time.monotonic()
        outcome = send(delivery, started)
        duration_ms = int((time.monotonic() - began) * 1000)
        state = _record(str(delivery.pk), token, started, duration_ms, outcome)
        logger.info(
            "delivery %s attempt: status %s, error %s, %d ms",
            delivery.pk,
            outcome.status_code,
            outcome.error_kind or "-",
            duration_ms,
        )
        if state == DeliveryState.DELIVERED:
            result.delivered += 1
        elif state == DeliveryState.PARKED:
            result.parked += 1
            result.failed += 1
        elif state:
            result.failed += 1
    return result


def drain(*, batch: int = DEFAULT_BATCH, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> DrainResult:
    """Rounds until nothing is due (for --once and tests)."""
    total = DrainResult()
    while True:
        result = drain_once(batch=batch, lease_seconds=lease_seconds)
        total.claimed += result.claimed
        total.delivered += result.delivered
        total.failed += result.failed
        total.parked += result.parked
        if not result.claimed:
            return total


def next_due_at() -> dt.datetime | None:
    row = (
        Delivery.objects.filter(state=DeliveryState.PENDING)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    return row
