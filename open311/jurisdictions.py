"""Which ``jurisdiction_id`` values this installation answers to. The one place to look them up.

GeoReport v2 makes ``jurisdiction_id`` optional when an endpoint serves one jurisdiction. Today the answer is the
setting ``HOTLINE["OPEN311_JURISDICTION_ID"]`` (e.g. ``liuzhou.12345.gov.cn``) and the codes of the active cities
(``organisation.City.code``, "e.g. the Open311 jurisdiction id") when one installation serves several. A city's
code selects that city's requests (``city_of``); the installation's own id selects every city's.
"""

from __future__ import annotations

from django.conf import settings

from organisation.models import City

DEFAULT_JURISDICTION_ID = "liuzhou.12345.gov.cn"


def default_jurisdiction_id() -> str:
    return str(settings.HOTLINE.get("OPEN311_JURISDICTION_ID") or DEFAULT_JURISDICTION_ID)


def known_jurisdiction_ids() -> list[str]:
    """Every jurisdiction_id a client may send, the default first."""
    cities = City.objects.filter(active=True).order_by("sort_order", "id").values_list("code", flat=True)
    return [default_jurisdiction_id(), *(code for code in cities if code)]


def resolve_jurisdiction(raw: str | None) -> str | None:
    """The jurisdiction a request addresses: the default when none is given, None when it is unknown."""
    if raw is None or raw.strip() == "":
        return default_jurisdiction_id()
    wanted = raw.strip().lower()
    for known in known_jurisdiction_ids():
        if known.lower() == wanted:
            return known
    return None


def city_of(jurisdiction_id: str | None) -> City | None:
    """The city a resolved jurisdiction_id names; None for the installation's own id (every city)."""
    if not jurisdiction_id or jurisdiction_id == default_jurisdiction_id():
        return None
    return City.objects.filter(active=True, code__iexact=jurisdiction_id).first()
