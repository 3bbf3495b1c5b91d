"""The current one-time code of a demo user (README "Demo logins"), for a newcomer without an authenticator app.

Only for devices with the demo's published key: a real user's secret is never shown."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from demo.management.commands.load_demo_city import DEMO_TOTP_KEY_HEX


class Command(BaseCommand):
    help = "Print the current one-time code of a demo user whose device has the demo's published key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        device = TOTPDevice.objects.filter(
            user__username=options["username"], confirmed=True, key=DEMO_TOTP_KEY_HEX
        ).first()
        if device is None:
            raise CommandError("No demo device for this user (only the demo's published key is shown).")
        code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
        self.stdout.write(f"{code:0{device.digits}d}")
