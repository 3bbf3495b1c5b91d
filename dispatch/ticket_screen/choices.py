"""The seam through which an app above dispatch gives the ticket page the choices of the action forms it owns.

The emergency app registers the rows ``escalate`` and ``transfer`` in the workflow table; their forms on the ticket
page offer that app's incident types, levels and emergency lines. Dispatch may not import them (layers), so the
app registers them here from its ``AppConfig.ready()`` (docs/ARCHITECTURE.md, "Seams"); a name nobody registered
offers nothing (the template shows the form's defaults only).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

#: What a form offers: (code, label) pairs, the label translated when read (lazy strings welcome).
Choices = Iterable[tuple[Any, Any]]

_providers: dict[str, Callable[[], Choices]] = {}


def register(name: str, provider: Callable[[], Choices]) -> None:
    """Offer ``provider()``'s choices as the template variable ``name``. One provider per name."""
    if name in _providers and _providers[name] is not provider:
        raise RuntimeError(f"ticket page form choices {name!r} are registered twice")
    _providers[name] = provider


def registered() -> dict[str, list[dict[str, str]]]:
    """Every registered name with its choices as ``{code, name}`` rows, in the language of the request."""
    return {
        name: [{"code": str(code), "name": str(label)} for code, label in provider()]
        for name, provider in _providers.items()
    }
