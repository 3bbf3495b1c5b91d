"""Writes of identity that are not a person's own login: a second-factor device with a known key (the demo)."""

from __future__ import annotations

from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from organisation.identity import events
from organisation.models import User


def do_enrol_known_device(user: User, key_hex: str, *, name: str = "demo") -> TOTPDevice:
    """A confirmed TOTP device with the given key (hex), unless the user has a confirmed device already: for the
    demo city, whose users' key is published (README "Demo logins"). Never for a production user."""
    with transaction.atomic():
        existing = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if existing is not None:
            return existing
        device = TOTPDevice.objects.create(user=user, name=name, key=key_hex, confirmed=True)
        events.record(events.SECOND_FACTOR_ENROLLED, user=user, details={"device": name})
        return device
