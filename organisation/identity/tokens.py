"""API tokens, by django-rest-knox rather than DRF's own ``authtoken``.

Why knox: DRF's token is one plaintext key per user that never expires; knox stores only a hash of each token
(a database leak gives no usable keys), gives every token an expiry (``REST_KNOX["TOKEN_TTL"]``, 12 h by
default) and lets one device log out without ending the others. It is maintained under Jazzband.

``/api/auth/token/`` keeps the request shape of DRF's ``obtain_auth_token`` (``username`` and ``password``, as a
form or JSON; ``otp`` is added for users with a second factor) and answers ``{"token", "expiry"}``; clients send
``Authorization: Token <token>`` as before. Every login goes through ``authenticate`` with the request, so the
lockout (django-axes) counts API failures with the others. A user's tokens are all revoked when the password
changes, the user is deactivated or the roles change (identity/signals.py); ``/api/auth/logout/`` revokes the
token it is sent with, ``/api/auth/logout-all/`` every token of the user.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.contrib.auth import authenticate
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema, inline_serializer
from knox.models import AuthToken
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core import clock
from organisation.identity import events, second_factor
from organisation.models import User


def issue_token(user: User) -> tuple[AuthToken, str]:
    """A new token for the user (the key is returned once and stored only hashed), valid for TOKEN_TTL."""
    with transaction.atomic():
        return AuthToken.objects.create(user=user)  # type: ignore[no-any-return]


def revoke_tokens(user_id: int, *, digests: Iterable[str] | None = None) -> int:
    """Delete the user's tokens (or only those named); their sockets are closed after commit."""
    tokens = AuthToken.objects.filter(user_id=user_id)
    if digests is not None:
        tokens = tokens.filter(digest__in=list(digests))
    count, _by_model = tokens.delete()
    if count:
        events.announce_revocation(user_id)
    return count


def live_token_digests(digests: Iterable[str]) -> set[str]:
    """Which of these tokens still exist and have not expired."""
    wanted = list(digests)
    if not wanted:
        return set()
    now = clock.now()
    rows = AuthToken.objects.filter(digest__in=wanted).values_list("digest", "expiry")
    return {digest for digest, expiry in rows if expiry is None or expiry > now}


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(label=gettext_lazy("User name"), max_length=150)
    password = serializers.CharField(
        label=gettext_lazy("Password"), max_length=4096, style={"input_type": "password"}, trim_whitespace=False
    )
    otp = serializers.CharField(
        label=gettext_lazy("One-time code"),
        max_length=16,
        required=False,
        allow_blank=True,
        help_text=gettext_lazy("The 6-digit code of the authenticator app; needed by users with a second factor."),
    )


TOKEN_RESPONSE = inline_serializer(
    "IssuedToken", {"token": serializers.CharField(), "expiry": serializers.DateTimeField(allow_null=True)}
)


def _expiry(token: AuthToken) -> dt.datetime | None:
    return token.expiry


class ObtainTokenView(APIView):
    """Exchange a user name and password (and the one-time code, where needed) for an API token."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(request=TokenRequestSerializer, responses={200: TOKEN_RESPONSE})
    def post(self, request: Request) -> Response:
        form = TokenRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        # The plain HttpRequest, as the login page passes it: the lockout counts this address and account.
        http_request = request._request
        user = authenticate(http_request, username=data["username"], password=data["password"])
        if getattr(http_request, "axes_locked_out", False):
            from organisation.identity.lockout import locked_out_response

            return locked_out_response(http_request, None, None)  # type: ignore[return-value]
        if not isinstance(user, User) or not user.is_active:
            raise serializers.ValidationError(
                {"non_field_errors": [_("Unable to log in with the user name and password given.")]}
            )
        if second_factor.needs_second_factor(user):
            if not second_factor.has_device(user):
                raise serializers.ValidationError(
                    {"otp": [_("Your role needs a second factor: set up an authenticator app on the web page first.")]}
                )
            if not second_factor.verify(user, data.get("otp") or "", request=http_request):
                raise serializers.ValidationError({"otp": [_("The one-time code is missing or wrong.")]})
        token, key = issue_token(user)
        events.record(events.TOKEN_ISSUED, user=user, request=http_request)
        return Response({"token": key, "expiry": _expiry(token)}, status=status.HTTP_200_OK)


class LogoutTokenView(APIView):
    """Revoke the token this request is made with (this device logs out); ``everywhere``: every token."""

    permission_classes = [IsAuthenticated]
    everywhere = False

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        user = request.user
        assert isinstance(user, User)
        with transaction.atomic():
            if self.everywhere:
                count = revoke_tokens(user.pk)
            else:
                token = request.auth
                count = revoke_tokens(user.pk, digests=[token.digest]) if isinstance(token, AuthToken) else 0
            if count:
                events.record(events.TOKEN_REVOKED, user=user, request=request._request, details={"tokens": count})
        return Response(status=status.HTTP_204_NO_CONTENT)
