"""Callers' phone numbers: normalised to E.164 on intake, masked for agencies."""

from __future__ import annotations

import phonenumbers
from django.conf import settings

from core.redaction import mask_digits, national_digits_of


class InvalidPhone(ValueError):
    pass


def is_known_region(code: str) -> bool:
    """An ISO 3166 alpha-2 country code whose numbering plan phonenumbers knows (US, GB, CN...)."""
    return code in phonenumbers.SUPPORTED_REGIONS


def normalise_phone(raw: str, region: str | None = None) -> str:
    """E.164 of a number as typed; a number without +country code is read in ``region`` (ISO 3166 alpha-2),
    by default the installation's (settings HOTLINE PHONE_REGION)."""
    try:
        parsed = phonenumbers.parse(raw, region or settings.HOTLINE["PHONE_REGION"])
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(str(exc)) from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhone("not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def national_digits(e164: str) -> str:
    """The number as dialled inside its country: 13812341234, 07722801234."""
    return national_digits_of(phonenumbers.parse(e164, None))


def mask_phone(e164: str) -> str:
    """138****1234: the first three and last four digits, so a handler can tell calls apart."""
    if not e164:
        return ""
    try:
        digits = national_digits(e164)
    except phonenumbers.NumberParseException:
        digits = e164.lstrip("+")
    return mask_digits(digits)


# The API's phone number inputs: the schema names the format "phone" (a number valid in its numbering plan,
# E.164 with "+" or national in the installation's region), which no pattern can state; the contract test
# generates such numbers for it (tests/schemathesis_hooks.py).
PHONE_SCHEMA = {"type": "string", "format": "phone", "minLength": 1, "maxLength": 40}
