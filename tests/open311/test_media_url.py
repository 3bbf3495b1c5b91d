"""Open311 ``media_url``: a link to a photo of the problem posted with a request is kept with the ticket and served
back by GET requests/{id} in JSON and XML; it is never fetched; a bad one is refused in the spec's error form and
creates nothing; an address holding a phone number is not shown to the public or to agencies."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from callcenter.models import Ticket
from dispatch.actions import do_dispatch_ticket
from tests.open311.conftest import Open311, texts
from tests.open311.test_submitting import request_form

pytestmark = pytest.mark.django_db(transaction=True)

PHOTO = "https://img.example.cn/reports/2026/垃圾堆.jpg?size=large"


class _Recorder(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.end_headers()
        self.wfile.write(b"\xff\xd8\xff")

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def photo_server() -> Iterator[tuple[str, list[str]]]:
    """A real local HTTP server that would see it if anything fetched the photo."""
    hits: list[str] = []
    handler = type("Recorder", (_Recorder,), {"hits": hits})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/photo.jpg", hits
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_posted_media_url_is_kept_and_served_in_both_formats(open311: Open311) -> None:
    response = open311.post("requests.json", request_form(open311, media_url=f"  {PHOTO} "))
    assert response.status_code == 200, response.text
    number = response.json()[0]["service_request_id"]
    assert Ticket.objects.get(number=number).media_url == PHOTO

    [row] = open311.json(f"requests/{number}.json")
    assert row["media_url"] == PHOTO
    root = open311.xml(f"requests/{number}.xml")
    assert texts(root, "request/media_url") == [PHOTO]
    listed = [row for row in open311.json("requests.json") if row["service_request_id"] == number]
    assert [row["media_url"] for row in listed] == [PHOTO]

    # Posted to the XML resource, served back the same.
    answer = open311.post(
        "requests.xml", request_form(open311, description="另一处", media_url="http://a.example/b.png")
    )
    assert answer.status_code == 200, answer.text
    [second] = texts(ET.fromstring(answer.content), "request/service_request_id")
    assert open311.json(f"requests/{second}.json")[0]["media_url"] == "http://a.example/b.png"


def test_the_photo_is_never_fetched(open311: Open311, photo_server: tuple[str, list[str]]) -> None:
    url, hits = photo_server
    response = open311.post("requests.json", request_form(open311, media_url=url))
    assert response.status_code == 200, response.text
    number = response.json()[0]["service_request_id"]
    assert open311.json(f"requests/{number}.json")[0]["media_url"] == url
    assert hits == []


@pytest.mark.parametrize(
    "bad",
    [
        "javascript:alert(1)",
        "file:///etc/passwd",
        "ftp://img.example.cn/a.jpg",
        "//img.example.cn/a.jpg",
        "http://",
        "照片.jpg",
        "http://user:secret@img.example.cn/a.jpg",
        "https://img.example.cn/" + "a" * 500,
    ],
)
def test_a_bad_media_url_is_refused_in_the_spec_form_and_creates_nothing(open311: Open311, bad: str) -> None:
    response = open311.post("requests.json", request_form(open311, media_url=bad))
    assert response.status_code == 400, response.text
    errors = response.json()
    assert errors and all(error["code"] == 400 for error in errors)
    assert any(error["description"].startswith("media_url") for error in errors), errors

    as_xml = open311.post("requests.xml", request_form(open311, media_url=bad))
    assert as_xml.status_code == 400 and as_xml.headers["Content-Type"].startswith("text/xml")
    root = ET.fromstring(as_xml.content)
    assert root.tag == "errors" and texts(root, "error/code") == ["400"]
    assert texts(root, "error/description")[0].startswith("media_url")
    assert not Ticket.objects.exists()


def test_an_asynchronous_request_keeps_its_media_url(open311: Open311, settings: Any) -> None:
    settings.HOTLINE = {**settings.HOTLINE, "OPEN311_ASYNC": True}
    refused = open311.post("requests.json", request_form(open311, media_url="ftp://x.example/a.jpg"))
    assert refused.status_code == 400 and refused.json()[0]["description"].startswith("media_url")
    response = open311.post("requests.json", request_form(open311, media_url=PHOTO))
    assert response.status_code == 200, response.text
    call_command("run_open311_intake", "--once")
    assert list(Ticket.objects.values_list("media_url", flat=True)) == [PHOTO]


def test_an_address_holding_a_phone_number_is_shown_only_to_the_centre(open311: Open311) -> None:
    leaky = "https://app.example.cn/photo?reporter=13912345678&id=7"
    response = open311.post("requests.json", request_form(open311, media_url=leaky))
    assert response.status_code == 200, response.text
    number = response.json()[0]["service_request_id"]
    assert open311.json(f"requests/{number}.json")[0]["media_url"] == ""
    assert "13912345678" not in open311.get(f"requests/{number}.xml").text

    world = open311.world
    ticket = Ticket.objects.get(number=number)
    do_dispatch_ticket(ticket.pk, actor=world.users["dispatcher"], lead_agency_id=world.agency_a.pk)
    centre = world.client("dispatcher").get(f"/api/tickets/{ticket.pk}/")
    assert centre.status_code == 200 and centre.json()["media_url"] == leaky
    agency = world.client("handler_a").get(f"/api/tickets/{ticket.pk}/")
    assert agency.status_code == 200 and agency.json()["media_url"] == ""
    # The ticket page links it for the centre's staff only.
    page = reverse("ticket-page", kwargs={"number": number})
    for who, shown in (("dispatcher", True), ("handler_a", False)):
        browser = Client()
        browser.force_login(world.users[who])
        html = browser.get(page).content.decode()
        assert ('id="ticket-media-url"' in html) is shown and ("13912345678" in html) is shown
