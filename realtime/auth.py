"""WebSocket authentication for programs: `Authorization: Token <key>` on the handshake.

Pages authenticate with their session (Channels' AuthMiddleware); a token, when sent, wins.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from rest_framework.authtoken.models import Token


@database_sync_to_async
def _user_of_token(key: str) -> Any:
    token = Token.objects.select_related("user").filter(key=key).first()
    return token.user if token is not None and token.user.is_active else None


class TokenAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        headers = dict(scope.get("headers") or [])
        raw = headers.get(b"authorization", b"").decode("latin-1")
        if raw.lower().startswith("token "):
            user = await _user_of_token(raw[6:].strip())
            if user is not None:
                scope = {**scope, "user": user, "auth": "token"}
        return await super().__call__(scope, receive, send)
