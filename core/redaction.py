"""Personal numbers in free text: phone numbers and ID-card numbers found and masked the way a caller's number
field is masked for agencies (138****1234: the first three and last four digits).

``mask_personal_numbers`` is the one function that does it. Agencies' reads of titles, descriptions, notes and
replies go through it (organisation/privacy.py applies the policy), and so does every log record
(core/logging.py). Phones are found by libphonenumber's matcher (every written form it knows: 13812345678,
138-1234-5678, +86 138 1234 5678, 0772-1234567, (0772)1234567), plus mainland mobiles glued to Latin letters,
which the matcher leaves alone; ID cards are 18 characters whose last one is the GB 11643 check digit.
"""

from __future__ import annotations

import functools
import re

import phonenumbers
from django.conf import settings

# Mainland resident ID: 6-digit area, 8-digit birth date, 3-digit order, check digit (0-9 or X).
_ID_CARD = re.compile(r"(?<![0-9A-Za-z])(\d{17}[0-9Xx])(?![0-9A-Za-z])")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# A mainland mobile the matcher skips (next to a Latin letter: "tel13812345678"), optionally with +86.
_MOBILE = re.compile(r"(?<!\d)(?:\+?86[ -]?)?(1[3-9]\d[ -]?\d{4}[ -]?\d{4})(?!\d)")
# Fewer digits than this cannot hold a phone or ID number: such text is returned at once.
_MIN_DIGITS = 7


def mask_digits(digits: str) -> str:
    """The first three and last four characters with stars between; short ones are all stars."""
    if len(digits) <= 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def national_digits_of(number: phonenumbers.PhoneNumber) -> str:
    """The number as dialled inside its country: 13812341234, 07722801234."""
    digits = phonenumbers.national_significant_number(number)
    if phonenumbers.number_type(number) in (
        phonenumbers.PhoneNumberType.FIXED_LINE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ) and not digits.startswith("1"):
        return "0" + digits
    return digits


def is_id_card_number(text: str) -> bool:
    """18 characters, 17 digits and a GB 11643 (ISO 7064 MOD 11-2) check character that fits them."""
    if len(text) != 18 or not text[:17].isdigit():
        return False
    total = sum(int(digit) * weight for digit, weight in zip(text[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == text[17].upper()


def _mask_id_cards(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        value = match.group(1)
        return mask_digits(value) if is_id_card_number(value) else value

    return _ID_CARD.sub(replace, text)


def _mask_phones(text: str) -> str:
    region = settings.HOTLINE["PHONE_REGION"]
    parts: list[str] = []
    position = 0
    for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
        parts.append(text[position : match.start])
        parts.append(mask_digits(national_digits_of(match.number)))
        position = match.end
    parts.append(text[position:])
    masked = "".join(parts)
    return _MOBILE.sub(lambda match: mask_digits(re.sub(r"[ -]", "", match.group(1))), masked)


@functools.lru_cache(maxsize=1024)
def _mask(text: str) -> str:
    return _mask_phones(_mask_id_cards(text))


def mask_personal_numbers(text: str) -> str:
    """``text`` with every phone number and ID-card number in it masked (138****5678, 110***********002X)."""
    if not isinstance(text, str) or sum(char.isdigit() for char in text) < _MIN_DIGITS:
        return text
    return _mask(text)
