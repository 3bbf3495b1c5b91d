"""The ticket page's escalate and transfer forms offer what the emergency app registered at ready() through the
seam ``dispatch.ticket_screen.choices`` (no upward lookup by name), in the page's language."""

from __future__ import annotations

import lxml.html
import pytest
from django.test import Client
from django.utils import translation

from callcenter.models import Ticket
from dispatch.ticket_screen import choices
from emergency.models import EmergencyLine, IncidentLevel, IncidentType
from tests.conftest import World
from tests.dispatch.test_workflow_table import Builder
from tests.second_factor import verified_login


def options(tree: lxml.html.HtmlElement, form: str, name: str) -> list[tuple[str, str]]:
    template = tree.xpath(f'//template[@id="form-ticket-{form}"]')[0]
    inner = lxml.html.fragment_fromstring(lxml.html.tostring(template, encoding="unicode"), create_parent="div")
    return [
        (o.get("value"), o.text_content()) for o in inner.xpath(f'.//select[@name="{name}"]/option') if o.get("value")
    ]


def test_the_escalate_and_transfer_forms_offer_the_emergency_apps_choices(world: World) -> None:
    ticket = Ticket.objects.get(pk=Builder(world).ticket("accepted")[0])
    client = verified_login(Client(), world.users["dispatcher"])
    tree = lxml.html.fromstring(client.get(f"/tickets/{ticket.number}/").content.decode())
    with translation.override("zh-hans"):  # the page's language: labels, never codes
        assert options(tree, "transfer", "line") == [(v, str(label)) for v, label in EmergencyLine.choices]
        assert options(tree, "escalate", "type") == [(v, str(label)) for v, label in IncidentType.choices]
        assert options(tree, "escalate", "level") == [(v, str(label)) for v, label in IncidentLevel.choices]
    assert len(options(tree, "transfer", "line")) == 4


def test_a_name_is_registered_once() -> None:
    provider = choices.registered  # any other callable than the one emergency registered
    with pytest.raises(RuntimeError):
        choices.register("emergency_lines", provider)  # type: ignore[arg-type]
    assert "emergency_lines" in choices.registered()
