"""Logging a test's browser in with the second factor, as the code page does: a confirmed TOTP device and a
session verified with it (django-otp's ``login``), for the roles that need it (and harmless for the others)."""

from __future__ import annotations

from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from organisation.models import User


def confirmed_device(user: User) -> TOTPDevice:
    device, _created = TOTPDevice.objects.get_or_create(user=user, name="test", defaults={"confirmed": True})
    return device


def current_code(device: TOTPDevice) -> str:
    """The code the authenticator app would show now."""
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):0{device.digits}d}"


def verified_login(client: Client, user: User) -> Client:
    """``client.force_login(user)`` with the second factor given."""
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = confirmed_device(user).persistent_id
    session.save()
    return client
