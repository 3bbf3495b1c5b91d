"""Prometheus metrics at /metrics (prometheus_client), for Prometheus on the loopback, an allowed address, or
with the token (docs/OPERATIONS.md "Health and metrics").

- ``hotline_http_requests_total{method, status}``: counted by core/request_id.py in each process. With
  ``PROMETHEUS_MULTIPROC_DIR`` set (a directory shared by the Daphne processes of one host, emptied before they
  start) every process's counts are summed into each scrape; without it each scrape shows the process that
  answered it.
- Gauges read when scraped, from what the apps register here (``register_gauge``): realtime the open sockets
  and event lag and backlog of the answering process (labelled with its pid), dispatch the escalation lag and
  the due timers (read from the database: the same in every process).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from collections.abc import Callable, Iterable, Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector

logger = logging.getLogger(__name__)

REQUESTS = Counter("hotline_http_requests", "HTTP requests answered, by method and status", ["method", "status"])
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

#: name -> (help text, reader): the reader returns (labels, value) samples, read at every scrape.
Samples = Iterable[tuple[dict[str, str], float]]
_gauges: dict[str, tuple[str, Callable[[], Samples]]] = {}


def count_request(method: str, status: int) -> None:
    # A made-up method would otherwise add a label value (and a time series) per request.
    REQUESTS.labels(method=method if method in _METHODS else "other", status=str(status)).inc()


def register_gauge(name: str, documentation: str, reader: Callable[[], Samples]) -> None:
    """A gauge computed when scraped; the apps register theirs at ready()."""
    if _gauges.get(name, (documentation, reader))[1] is not reader:
        raise RuntimeError(f"gauge {name!r} is registered twice")
    _gauges[name] = (documentation, reader)


class RegisteredGauges(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        for name, (documentation, reader) in sorted(_gauges.items()):
            try:
                samples = list(reader())
            except Exception:  # one unreadable gauge (the database is down) must not hide the others
                logger.exception("metric %s could not be read", name)
                continue
            labels = sorted({key for sample_labels, _value in samples for key in sample_labels})
            family = GaugeMetricFamily(name, documentation, labels=labels)
            for sample_labels, value in samples:
                family.add_metric([sample_labels.get(key, "") for key in labels], value)
            yield family


def registry() -> CollectorRegistry:
    """What a scrape reads: every process's counters (multi-process mode) or this one's, and the gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        combined = CollectorRegistry()
        multiprocess.MultiProcessCollector(combined)
    else:
        combined = CollectorRegistry()
        combined.register(_ProcessRegistry())
    combined.register(RegisteredGauges())
    return combined


class _ProcessRegistry(Collector):
    """This process's own metrics (the default registry: the request counter, process and Python figures)."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def _allowed(request: HttpRequest) -> bool:
    token = settings.HOTLINE.get("METRICS_TOKEN", "")
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    # A request relayed by a proxy shows the proxy's address: only the token lets it in.
    if request.headers.get("X-Forwarded-For") or request.headers.get("Forwarded"):
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    for allowed in settings.HOTLINE.get("METRICS_ALLOWED_NETWORKS", ["127.0.0.1/32", "::1/128"]):
        if address in ipaddress.ip_network(allowed, strict=False):
            return True
    return False


def metrics_view(request: HttpRequest) -> HttpResponse:
    """GET /metrics: the Prometheus text format; 404 for anyone not allowed (nothing to find there)."""
    if not _allowed(request):
        return HttpResponse(status=404, content_type="text/plain")
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)
