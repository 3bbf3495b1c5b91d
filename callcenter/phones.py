"""Callers' phone numbers: normalised to E.164 on intake, masked for agencies."""

from __future__ import annotations

import phonenumbers
from django.conf import settings


class InvalidPhone(ValueError):
    pass


def normalise_phone(raw: str) -> str:
    try:
        parsed = phonenumbers.parse(raw, settings.HOTLINE["PHONE_REGION"])
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(str(exc)) from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhone("not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def national_digits(e164: str) -> str:
    """The number as dialled inside its country: 13812341234, 07722801234."""
    parsed = phonenumbers.parse(e164, None)
    digits = phonenumbers.national_significant_number(parsed)
    if phonenumbers.number_type(parsed) in (
        phonenumbers.PhoneNumberType.FIXED_LINE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ) and not digits.startswith("1"):
        return "0" + digits
    return digits


def mask_phone(e164: str) -> str:
    """138****1234: the first three and last four digits, so a handler can tell calls apart."""
    if not e164:
        return ""
    try:
        digits = national_digits(e164)
    except phonenumbers.NumberParseException:
        digits = e164.lstrip("+")
    if len(digits) <= 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
