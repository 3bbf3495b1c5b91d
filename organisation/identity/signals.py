"""What happens when a person logs in or out, fails to, is locked out, or when a user's password, active flag or
roles change: the security event in the audit log, and the revocation of the user's tokens and sockets.

Connected once at start-up (OrganisationConfig.ready). The user's row before a save is read in ``pre_save``, so
a change made anywhere (the admin, a password form, a management command, a loader) is seen.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_save, pre_save
from django.http import HttpRequest

from organisation.identity import events
from organisation.models import User

_BEFORE = "_identity_before_save"


def _remember_before(sender: Any, instance: User, raw: bool = False, **kwargs: Any) -> None:
    if raw or instance.pk is None:
        return
    before = User.objects.filter(pk=instance.pk).values("password", "is_active", "roles").first()
    setattr(instance, _BEFORE, before)


def _revoke_on_change(sender: Any, instance: User, created: bool, raw: bool = False, **kwargs: Any) -> None:
    before = instance.__dict__.pop(_BEFORE, None)
    if raw or created or before is None:
        return
    from organisation.identity.tokens import revoke_tokens

    password_changed = before["password"] != instance.password
    deactivated = before["is_active"] and not instance.is_active
    roles_changed = sorted(before["roles"] or []) != sorted(instance.roles or [])
    if not (password_changed or deactivated or roles_changed):
        return
    revoke_tokens(instance.pk)
    # Sessions of the old password stop working at their next request (Django checks the session's password
    # hash); their sockets are closed now.
    events.announce_revocation(instance.pk)
    if password_changed:
        events.record(events.PASSWORD_CHANGED, user=instance)
    if deactivated:
        events.record(events.DEACTIVATED, user=instance)


def _logged_in(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    events.record(events.LOGIN, user=user, request=request)


def _logged_out(sender: Any, request: HttpRequest | None, user: User | None, **kwargs: Any) -> None:
    if isinstance(user, User):
        events.record(events.LOGOUT, user=user, request=request)
        session = getattr(request, "session", None)
        if session is not None:
            # Ended now rather than just after this signal, so that the sockets' re-check finds it gone.
            session.flush()
        events.announce_revocation(user.pk)


def _login_failed(sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any) -> None:
    username = str(credentials.get("username") or "")
    user = User.objects.filter(username=username).first() if username else None
    events.record(events.LOGIN_FAILED, user=user, username=username, request=request)


def _locked_out(sender: Any, request: HttpRequest | None, username: str | None, **kwargs: Any) -> None:
    user = User.objects.filter(username=username).first() if username else None
    events.record(events.LOCKOUT, user=user, username=username or "", request=request)


def connect() -> None:
    from axes.signals import user_locked_out

    pre_save.connect(_remember_before, sender=User, dispatch_uid="identity-before-save")
    post_save.connect(_revoke_on_change, sender=User, dispatch_uid="identity-after-save")
    user_logged_in.connect(_logged_in, dispatch_uid="identity-logged-in")
    user_logged_out.connect(_logged_out, dispatch_uid="identity-logged-out")
    user_login_failed.connect(_login_failed, dispatch_uid="identity-login-failed")
    user_locked_out.connect(_locked_out, dispatch_uid="identity-locked-out")
