"""Helpers of the API key tests: issue a key through the real action, call the API with it."""

from __future__ import annotations

import datetime as dt

from rest_framework.test import APIClient

from core import clock
from exchange.keys.actions import KeyRequest, do_create_key
from exchange.keys.scopes import SCOPES
from exchange.models import ApiKey
from organisation.models import Agency
from tests.conftest import World

AGENCY_KEY_SCOPES = ["reference:read", "work_orders:read", "work_orders:act", "attachments:write"]


def issue(
    world: World,
    *,
    agency: Agency | None = None,
    partner: str = "",
    scopes: list[str] | None = None,
    days: int = 30,
    rate: str = "",
    by: str = "admin",
) -> tuple[ApiKey, str]:
    if agency is None and not partner:
        agency = world.agency_a
    request = KeyRequest(
        name="业务系统",
        scopes=list(scopes if scopes is not None else (AGENCY_KEY_SCOPES if agency else ["open311:submit"])),
        expires_at=clock.now() + dt.timedelta(days=days),
        agency=agency,
        partner=partner,
        rate=rate,
    )
    return do_create_key(world.users[by], request)


def key_client(raw: str, *, header: str = "authorization") -> APIClient:
    client = APIClient()
    if header == "authorization":
        client.credentials(HTTP_AUTHORIZATION=f"ApiKey {raw}")
    else:
        client.credentials(HTTP_X_API_KEY=raw)
    return client


assert set(AGENCY_KEY_SCOPES) <= set(SCOPES)
