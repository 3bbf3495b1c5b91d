"""The second factor: a TOTP authenticator app (django-otp), required for the roles in
``policy.SECOND_FACTOR_ROLES`` and asked of anyone else who set one up.

After the password, the middleware lets such a user see nothing but the code page (or, for a required role
with no device yet, the enrolment page with its QR code) until the session is verified; the API answers 403
meanwhile. API tokens for these users are issued only with the code (identity/tokens.py).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from django import forms
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_otp import DEVICE_ID_SESSION_KEY, devices_for_user, user_has_device
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.qr import write_qrcode_image

from organisation.identity import events
from organisation.models import User
from organisation.policy import SECOND_FACTOR_ROLES

#: Paths an unverified user may still open: logging in and out, this flow, the language switch, static files.
OPEN_PATHS = ("/accounts/", "/static/", "/i18n/", "/jsi18n/", "/api/auth/")
DEVICE_NAME = "authenticator"


def required_by_role(user: User) -> bool:
    return user.has_role(*SECOND_FACTOR_ROLES)


def has_device(user: User) -> bool:
    return bool(user_has_device(user, confirmed=True))


def needs_second_factor(user: User) -> bool:
    """A role that requires it, or a user who set one up."""
    return required_by_role(user) or has_device(user)


def verify(user: User, token: str, *, request: HttpRequest | None = None) -> Any:
    """The confirmed device that accepts the code (a code is accepted once), or None (audited as a failure)."""
    token = "".join(token.split())
    for device in devices_for_user(user, confirmed=True):
        allowed, _why = device.verify_is_allowed()
        if allowed and token and device.verify_token(token):
            return device
    events.record(events.SECOND_FACTOR_FAILED, user=user, request=request)
    return None


def session_is_verified(user: User, session: Any) -> bool:
    """Whether a session (a socket's, say) was verified with one of the user's confirmed devices."""
    persistent_id = session.get(DEVICE_ID_SESSION_KEY) if session is not None else None
    if not persistent_id:
        return False
    from django_otp.models import Device

    device = Device.from_persistent_id(persistent_id, for_verify=False)
    return device is not None and device.user_id == user.pk and device.confirmed


class SecondFactorMiddleware:
    """Until the session is verified, a user who needs the second factor is sent to give it (pages) or refused
    (API, 403). After django_otp's OTPMiddleware, which marks a verified session's user."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            isinstance(user, User)
            and not request.path.startswith(OPEN_PATHS)
            and not user.is_verified()  # type: ignore[attr-defined]
            and needs_second_factor(user)
        ):
            enrol = not has_device(user)
            if request.path.startswith("/api/"):
                message = (
                    _("Set up your second factor (authenticator app) on the web page first.")
                    if enrol
                    else _("Enter your one-time code on the web page first.")
                )
                return JsonResponse({"detail": message, "code": "second_factor_required"}, status=403)
            target = reverse("second-factor-enrol" if enrol else "second-factor")
            return HttpResponseRedirect(f"{target}?next={quote(request.get_full_path())}")
        return self.get_response(request)


class CodeForm(forms.Form):
    token = forms.CharField(
        label=gettext_lazy("One-time code"),
        max_length=16,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return "/"
    return target


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


@login_required
def verify_view(request: HttpRequest) -> HttpResponse:
    """The code after the password."""
    user = _user(request)
    if not has_device(user):
        return HttpResponseRedirect(f"{reverse('second-factor-enrol')}?next={quote(_next(request))}")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = verify(user, form.cleaned_data["token"], request=request)
        if device is not None:
            otp_login(request, device)
            return HttpResponseRedirect(_next(request))
        form.add_error("token", _("The one-time code is wrong or was used already. Wait for the next one."))
    return render(request, "organisation/second_factor.html", {"form": form, "next": _next(request)})


def _qr_svg(device: TOTPDevice) -> str:
    out = io.BytesIO()
    write_qrcode_image(device.config_url, out)
    svg = out.getvalue().decode()
    return svg[svg.index("<svg") :]  # without the XML declaration, to sit inside the page


def _secret(device: TOTPDevice) -> str:
    from base64 import b32encode

    return b32encode(device.bin_key).decode()


@login_required
def enrol_view(request: HttpRequest) -> HttpResponse:
    """Set up the authenticator app: scan the QR code (or type the secret), then confirm with a code."""
    user = _user(request)
    if has_device(user) and not user.is_verified():  # type: ignore[attr-defined]
        return HttpResponseRedirect(f"{reverse('second-factor')}?next={quote(_next(request))}")
    if has_device(user):
        return render(request, "organisation/second_factor_enrol.html", {"enrolled": True, "next": _next(request)})
    with transaction.atomic():
        device = TOTPDevice.objects.filter(user=user, confirmed=False).first() or TOTPDevice.objects.create(
            user=user, name=DEVICE_NAME, confirmed=False
        )
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        token = "".join(form.cleaned_data["token"].split())
        allowed, _why = device.verify_is_allowed()
        if allowed and device.verify_token(token):
            with transaction.atomic():
                device.confirmed = True
                device.save(update_fields=["confirmed"])
                TOTPDevice.objects.filter(user=user, confirmed=False).delete()
                events.record(events.SECOND_FACTOR_ENROLLED, user=user, request=request)
            otp_login(request, device)
            return HttpResponseRedirect(_next(request))
        form.add_error("token", _("The one-time code is wrong. Check the time on your phone and try again."))
    context = {
        "form": form,
        "next": _next(request),
        "qr_svg": mark_safe(_qr_svg(device)),  # generated by qrcode from our own data
        "secret": _secret(device),
        "required": required_by_role(user),
    }
    return render(request, "organisation/second_factor_enrol.html", context)
