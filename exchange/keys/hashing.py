"""How a key is made and kept: ``hk_<prefix>_<secret>``, the prefix stored plainly to find the row, the secret
only as a keyed hash.

Why HMAC-SHA256 and not a password hash (PBKDF2, Argon2): a password hash is slow on purpose because people
choose guessable passwords. A key's secret is 256 random bits: nobody can guess it whatever the hash costs,
so a slow hash would only cost every API request tens of milliseconds. Keying the hash (Django's
``salted_hmac`` with the installation's SECRET_KEY) means a copy of the database alone cannot even test a
candidate key. When SECRET_KEY is rotated, a key hashed with a key in SECRET_KEY_FALLBACKS still matches and
is re-hashed with the new one at its next use (exchange/keys/auth.py); a key not used before the fallback is
removed stops working (docs/OPERATIONS.md "Rotating secrets").
"""

from __future__ import annotations

import hmac
import secrets

from django.conf import settings
from django.utils.crypto import salted_hmac

PREFIX_BYTES = 6  # 12 hex characters: the lookup, shown in lists and logs
SECRET_BYTES = 32  # 256 bits
_SALT = "hotline.exchange.api-key"


def new_key() -> tuple[str, str, str]:
    """A fresh key: (raw key to show once, prefix, secret)."""
    prefix = secrets.token_hex(PREFIX_BYTES)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    return f"hk_{prefix}_{secret}", prefix, secret


def hash_secret(prefix: str, secret: str, *, with_key: str | None = None) -> str:
    return salted_hmac(_SALT + prefix, secret, secret=with_key, algorithm="sha256").hexdigest()


def split_key(raw: str) -> tuple[str, str] | None:
    """(prefix, secret) of a raw key, or None if it is not shaped like one."""
    scheme, _, rest = (raw or "").strip().partition("_")
    prefix, _, secret = rest.partition("_")
    if scheme != "hk" or len(prefix) != 2 * PREFIX_BYTES or not secret or len(secret) > 100:
        return None
    if any(c not in "0123456789abcdef" for c in prefix):
        return None
    return prefix, secret


def match(prefix: str, secret: str, stored_hash: str) -> str:
    """ "current" if the secret matches under SECRET_KEY, "fallback" under one of SECRET_KEY_FALLBACKS (re-hash
    it), "" if it does not match."""
    if hmac.compare_digest(hash_secret(prefix, secret), stored_hash):
        return "current"
    for old in getattr(settings, "SECRET_KEY_FALLBACKS", ()):
        if hmac.compare_digest(hash_secret(prefix, secret, with_key=old), stored_hash):
            return "fallback"
    return ""
