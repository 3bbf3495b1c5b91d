"""API keys for other systems (not people): see exchange/keys/scopes.py for what a key may do,
exchange/keys/hashing.py for how it is kept, exchange/keys/drf.py for the API's authentication.

Public here, for views that take a key themselves (Open311's ``api_key``, the incident exchange)::

    key = authenticate_api_key(raw, scope="open311:submit")  # KeyRefused(code) if not
    wait = rate_limit_wait(key)  # None, or seconds for a 429's Retry-After
    note_request(request, key)  # logged with the response's status by the usage middleware
    # ... act as key.user
"""

from exchange.keys.auth import KeyRefused, authenticate_api_key, note_request, rate_limit_wait
from exchange.keys.scopes import SCOPES

__all__ = ["SCOPES", "KeyRefused", "authenticate_api_key", "note_request", "rate_limit_wait"]
