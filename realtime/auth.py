"""WebSocket authentication for programs: `Authorization: Token <key>` on the handshake (a django-rest-knox token,
as for the REST API). Pages authenticate with their session (Channels' AuthMiddleware); a token, when sent, wins.

The scope records which credential opened the socket (``auth``: "token" with ``token_digest``, or "session"),
so that the hub closes the socket when that credential is revoked. A session of a user who needs the second
factor opens a socket only once it was verified with it (organisation/identity/second_factor.py).
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser
from knox.auth import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from organisation.identity.second_factor import needs_second_factor, session_is_verified
from organisation.models import User


@database_sync_to_async
def _token(key: str) -> tuple[User, str] | None:
    try:
        user, token = TokenAuthentication().authenticate_credentials(key.encode())
    except AuthenticationFailed:
        return None
    return (user, token.digest) if user.is_active else None


@database_sync_to_async
def _session_may_open(user: Any, session: Any) -> bool:
    if not isinstance(user, User) or not needs_second_factor(user):
        return True
    return session_is_verified(user, session)


class TokenAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        headers = dict(scope.get("headers") or [])
        raw = headers.get(b"authorization", b"").decode("latin-1")
        found = await _token(raw[6:].strip()) if raw.lower().startswith("token ") else None
        if found is not None:
            scope = {**scope, "user": found[0], "auth": "token", "token_digest": found[1]}
        elif scope.get("user") is not None and not await _session_may_open(scope["user"], scope.get("session")):
            scope = {**scope, "user": AnonymousUser()}
        else:
            scope = {**scope, "auth": "session"}
        return await super().__call__(scope, receive, send)
