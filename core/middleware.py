"""The interface language: the one a user chose, else the site's default (settings.LANGUAGE_CODE, zh-hans).

Django's LocaleMiddleware would also follow the browser's Accept-Language, so a centre's machines set up in
English would show English screens by default. Here a page's language is chosen explicitly: the switch in
every page's header (Django's set_language view) stores it in the language cookie. The REST API (``/api/``)
also honours Accept-Language, as integrations expect of an HTTP API, but not for a screen's own requests (they
carry the session cookie): a screen and the data it loads are in one language.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.cache import patch_vary_headers


class ChosenLanguageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.supported = {code for code, _name in settings.LANGUAGES}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        if (
            chosen not in self.supported
            and request.path.startswith("/api/")
            and settings.SESSION_COOKIE_NAME not in request.COOKIES
        ):
            # An integration's request (a token, no session). A screen's own requests carry the session and
            # speak the screen's language, whatever language the browser was set up in.
            chosen = translation.get_language_from_request(request)
        language = chosen if chosen in self.supported else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()  # type: ignore[attr-defined]
        try:
            response = self.get_response(request)
        finally:
            # The thread serves other requests and tasks next: the language must not stay with it.
            translation.deactivate()
        patch_vary_headers(response, ("Cookie", "Accept-Language"))
        response.headers.setdefault("Content-Language", language)
        return response
