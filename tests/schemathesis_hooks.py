"""Schemathesis hooks for the contract test (tests/test_schemathesis.py loads them via SCHEMATHESIS_HOOKS).

The schema names formats that no pattern can state; here is how to make values of them, so that the positive
phases send what the server must take:

- ``phone``: a number valid in its numbering plan (callcenter.phones); E.164 with "+", so that it reads the
  same whatever ``phone_country`` a request names.
"""

from __future__ import annotations

import phonenumbers
import schemathesis
from hypothesis import strategies as st


def _valid(number: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(number, None))
    except phonenumbers.NumberParseException:
        return False


# Chinese mobile numbers (the demo city's) and London fixed lines, checked with the server's own library.
PHONES = st.one_of(
    st.from_regex(r"\A\+861[38][0-9]{9}\Z"),
    st.from_regex(r"\A\+4420[378][0-9]{7}\Z"),
).filter(_valid)

schemathesis.openapi.format("phone", PHONES)
