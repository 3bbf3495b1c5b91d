"""Reading Open311 over HTTP: discovery, services and their definitions, public service requests with every
filter of the spec, both formats, the errors; and a third-party client (georeport) used unchanged."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import requests
from georeport import GeoReport

from callcenter.models import Ticket
from core import clock
from dispatch.actions import do_dispatch_ticket
from dispatch.actions.tickets import do_cancel_ticket, do_merge_ticket
from dispatch.actions.work_orders import do_sign_work_order
from dispatch.models import StageClock, WorkOrder
from open311.public import iso
from organisation.actions import do_save_city
from organisation.models import City
from tests.open311.conftest import Open311, accept, replied_and_approved, texts

pytestmark = pytest.mark.django_db(transaction=True)

CALLER_PHONE = "13812341234"
CALLER_NAME = "张先生"


def test_discovery_names_the_endpoint_in_both_formats(open311: Open311) -> None:
    document = open311.json("discovery.json")
    endpoint = document["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == open311.url
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}
    assert document["changeset"].endswith("+08:00")
    root = open311.xml("discovery.xml")
    assert root.tag == "discovery"
    assert texts(root, "endpoints/endpoint/url") == [open311.url]
    assert texts(root, "endpoints/endpoint/formats/format") == ["text/xml", "application/json"]


def test_services_are_the_leaf_subjects_with_their_definitions(open311: Open311) -> None:
    services = open311.json("services.json")
    assert {row["service_code"] for row in services} == {"t-garbage", "t-vendors", "t-property"}
    garbage = next(row for row in services if row["service_code"] == "t-garbage")
    assert garbage["service_name"] == "垃圾清运"
    assert garbage["group"] == "城乡建设"
    assert garbage["metadata"] is True and garbage["type"] == "realtime"
    root = open311.xml("services.xml")
    assert root.tag == "services"
    assert sorted(texts(root, "service/service_code")) == ["t-garbage", "t-property", "t-vendors"]
    assert set(texts(root, "service/metadata")) == {"true"}

    definition = open311.json("services/t-garbage.json")
    assert definition["service_code"] == "t-garbage"
    attributes = {row["code"]: row for row in definition["attributes"]}
    assert list(attributes) == ["appeal_type", "urgency", "title", "time_limit"]
    assert {value["key"] for value in attributes["appeal_type"]["values"]} >= {"complaint", "help", "report"}
    assert [value["key"] for value in attributes["urgency"]["values"]] == ["normal", "urgent", "emergency"]
    assert attributes["time_limit"]["variable"] is False and "5" in attributes["time_limit"]["description"]
    # A subject without time limits has no informational attribute.
    assert [row["code"] for row in open311.json("services/t-vendors.json")["attributes"]] == [
        "appeal_type",
        "urgency",
        "title",
    ]
    root = open311.xml("services/t-garbage.xml")
    assert root.tag == "service_definition"
    assert texts(root, "attributes/attribute/code") == ["appeal_type", "urgency", "title", "time_limit"]
    assert "complaint" in texts(root, "attributes/attribute/values/value/key")

    english = open311.get("services/t-garbage.json", locale="en").json()
    assert "Usually handled within 5 working days." in [row["description"] for row in english["attributes"]]


def test_unknown_service_and_inner_subjects_answer_404_in_the_spec_form(open311: Open311) -> None:
    for code in ("nope", "t-urban"):  # t-urban is a branch, not a service
        errors = open311.json(f"services/{code}.json", expect=404)
        assert errors[0]["code"] == 404 and errors[0]["description"]
        root = open311.xml(f"services/{code}.xml", expect=404)
        assert root.tag == "errors" and texts(root, "error/code") == ["404"]


def _row(document: list[dict], ticket: Ticket) -> dict:
    rows = [row for row in document if row["service_request_id"] == ticket.number]
    assert len(rows) == 1, document
    return rows[0]


def test_public_requests_show_the_matter_and_nothing_of_the_caller(open311: Open311) -> None:
    world = open311.world
    replied = accept(world, description="路灯不亮，请回电13912345678联系")
    replied_and_approved(world, replied, "已修复路灯，联系人13700001111")
    working = accept(world, subject="t-vendors")
    do_dispatch_ticket(working.pk, actor=world.users["dispatcher"], lead_agency_id=world.agency_a.pk)
    do_sign_work_order(WorkOrder.objects.get(ticket=working).pk, actor=world.users["handler_a"])
    confidential = accept(world, caller_confidential=True)
    report = accept(world, appeal_type="report")

    document = open311.json("requests.json")
    numbers = {row["service_request_id"] for row in document}
    assert replied.number in numbers and working.number in numbers
    assert confidential.number not in numbers and report.number not in numbers
    row = _row(document, replied)
    assert row["status"] == "open"  # approved, awaiting the revisit
    assert row["status_notes"] == "已修复路灯，联系人137****1111"
    assert row["description"] == "路灯不亮，请回电139****5678联系"
    assert row["agency_responsible"] == world.agency_a.name
    assert row["service_code"] == "t-garbage" and row["service_name"] == "垃圾清运"
    assert row["lat"] == 24.3126 and row["long"] == 109.4112
    assert row["requested_datetime"] == iso(replied.created_at) and row["requested_datetime"].endswith("+08:00")
    assert row["expected_datetime"] is None  # nothing is being handled any more
    assert row["media_url"] == ""  # none was given with it
    clock_row = StageClock.objects.get(work_order__ticket=working, stage="handle", stopped_at__isnull=True)
    assert _row(document, working)["expected_datetime"] == iso(clock_row.due_at)
    for fmt in ("json", "xml"):
        body = open311.get(f"requests.{fmt}", extensions="true").text
        assert CALLER_PHONE not in body and CALLER_NAME not in body and "13912345678" not in body
    for hidden in (confidential, report):
        assert open311.json(f"requests/{hidden.number}.json", expect=404)[0]["code"] == 404


def test_one_request_in_both_formats_with_its_public_history(open311: Open311) -> None:
    world = open311.world
    ticket = accept(world)
    replied_and_approved(world, ticket, "已清运")
    plain = open311.json(f"requests/{ticket.number}.json")
    assert len(plain) == 1 and plain[0]["service_request_id"] == ticket.number
    assert "extended_attributes" not in plain[0]
    extended = open311.json(f"requests/{ticket.number}.json", extensions="true", locale="en")[0]
    extended = extended["extended_attributes"]
    assert extended["channel"] == "phone" and extended["urgency"] == "normal"
    notes = extended["notes"]
    assert [note["summary"] for note in notes if note["type"] == "status"][:2] == ["Accepted", "Dispatched"]
    assert [(note["type"], note["description"]) for note in notes if note["type"] == "reply"] == [("reply", "已清运")]
    assert all(note["datetime"].endswith("+08:00") for note in notes)
    root = open311.xml(f"requests/{ticket.number}.xml", extensions="true")
    assert root.tag == "service_requests"
    assert texts(root, "request/service_request_id") == [ticket.number]
    assert "已清运" in texts(root, "request/extended_attributes/notes/note/description")
    assert open311.xml("requests/12345-20000101-000001.xml", expect=404).tag == "errors"


def test_every_filter_of_the_spec(open311: Open311) -> None:
    world = open311.world
    now = clock.now()
    with clock.pinned_at(now - dt.timedelta(days=120)):
        old = accept(world)
    garbage = accept(world)
    vendors = accept(world, subject="t-vendors")
    cancelled = accept(world, subject="t-property")
    do_cancel_ticket(cancelled.pk, actor=world.users["operator"], reason="重复登记，已撤销")

    def numbers(**params: Any) -> list[str]:
        return [row["service_request_id"] for row in open311.json("requests.json", **params)]

    # Default: the most recent 90 days, newest first.
    assert numbers() == [cancelled.number, vendors.number, garbage.number]
    # A list of ids overrides every other parameter, the date range included.
    assert set(numbers(service_request_id=f"{old.number},{vendors.number}", status="closed")) == {
        old.number,
        vendors.number,
    }
    assert numbers(service_code="t-vendors") == [vendors.number]
    assert set(numbers(service_code="t-vendors,t-garbage")) == {vendors.number, garbage.number}
    assert numbers(status="closed") == [cancelled.number]
    assert numbers(status="open") == [vendors.number, garbage.number]
    assert len(numbers(status="open,closed")) == 3
    cancelled_row = open311.json(f"requests/{cancelled.number}.json")[0]
    assert cancelled_row["status"] == "closed" and cancelled_row["status_notes"]
    start = (now - dt.timedelta(days=130)).isoformat()
    end = (now - dt.timedelta(days=100)).isoformat()
    assert numbers(start_date=start, end_date=end) == [old.number]
    assert numbers(start_date=start) == [old.number]  # up to 90 days after the start
    assert numbers(end_date=end) == [old.number]  # the 90 days before the end
    # The paging extension.
    assert numbers(page_size="2") == [cancelled.number, vendors.number]
    assert numbers(page_size="2", page="2") == [garbage.number]
    # The update-time extension.
    assert numbers(updated_after=cancelled.updated_at.isoformat()) == [cancelled.number]
    assert numbers(updated_before=(now - dt.timedelta(days=119)).isoformat(), start_date=start) == [old.number]
    root = open311.xml("requests.xml", service_code="t-garbage")
    assert texts(root, "request/service_request_id") == [garbage.number]
    assert texts(root, "request/status") == ["open"]


def test_a_merged_request_names_the_one_it_went_into_only_if_that_is_public(open311: Open311) -> None:
    world = open311.world
    master = accept(world)
    hidden_master = accept(world, caller_confidential=True)
    merged, merged_into_hidden = accept(world), accept(world)
    do_merge_ticket(merged.pk, actor=world.users["operator"], master_id=master.pk)
    do_merge_ticket(merged_into_hidden.pk, actor=world.users["operator"], master_id=hidden_master.pk)
    row = open311.json(f"requests/{merged.number}.json", extensions="true")[0]
    assert row["status"] == "closed" and master.number in row["status_notes"]
    assert row["extended_attributes"]["merged_into"] == master.number
    response = open311.get(f"requests/{merged_into_hidden.number}.json", extensions="true")
    assert response.json()[0]["status"] == "closed"
    assert response.json()[0]["extended_attributes"]["merged_into"] == ""
    assert hidden_master.number not in response.text


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"status": "pending"}, 400),
        ({"start_date": "yesterday"}, 400),
        ({"start_date": "2026-01-01T00:00:00"}, 400),  # no offset
        ({"start_date": "2026-13-45T00:00:00Z"}, 400),
        ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"}, 400),  # over 90 days
        ({"start_date": "2026-02-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"}, 400),
        ({"page_size": "0"}, 400),
        ({"page": "-1"}, 400),
        ({"page": "x" * 50}, 400),
        ({"jurisdiction_id": "elsewhere.example"}, 404),
    ],
)
def test_bad_parameters_are_refused_in_the_spec_form(open311: Open311, params: dict[str, str], status: int) -> None:
    errors = open311.json("requests.json", expect=status, **params)
    assert errors and all(error["code"] == status and error["description"] for error in errors)
    root = open311.xml("requests.xml", expect=status, **params)
    assert texts(root, "error/code") == [str(status)]


def test_jurisdiction_unknown_paths_and_methods(open311: Open311) -> None:
    assert open311.json("services.json", jurisdiction_id="liuzhou.12345.gov.cn")
    assert open311.json("services.json", jurisdiction_id="nowhere", expect=404)[0]["code"] == 404
    # A city served by this installation answers to its code too.
    do_save_city(City(code="nanning", name="南宁市"), actor=open311.world.users["admin"], changed=["code", "name"])
    assert open311.json("services.json", jurisdiction_id="nanning")
    for path in ("services.csv", "nothing.json", "requests/a/b.json"):
        assert open311.json(path, expect=404)[0]["code"] == 404
    assert open311.xml("nothing.xml", expect=404).tag == "errors"
    response = requests.get(open311.url.replace("/v2/", "/v1/") + "services.json", timeout=30)
    assert response.status_code == 404 and response.json()[0]["code"] == 404
    refused = requests.put(open311.url + "services.json", timeout=30)
    assert refused.status_code == 405 and refused.json()[0]["code"] == 405


@pytest.mark.parametrize("output_format", ["json", "xml"])
def test_a_third_party_client_works_unchanged(open311: Open311, output_format: str) -> None:
    """georeport (PyPI, Apache-2.0): a maintained Python client of GeoReport v2, used as published."""
    world = open311.world
    first = accept(world)
    second = accept(world, subject="t-vendors")
    client = GeoReport(open311.url, jurisdiction="liuzhou.12345.gov.cn", output_format=output_format)
    services = client.get_service_list()
    assert {row["service_code"] for row in services} == {"t-garbage", "t-vendors", "t-property"}
    definition = client.get_service_definition("t-garbage")
    assert definition["service_code"] == "t-garbage"
    requests_ = client.get_service_requests(status="open")
    assert {row["service_request_id"] for row in requests_} == {first.number, second.number}
    one = client.get_service_request(second.number)
    assert one["service_code"] == "t-vendors"
    assert client.get_service_requests(service_code="t-garbage", status="open")


def test_a_citys_jurisdiction_id_selects_that_citys_requests(open311: Open311) -> None:
    admin = open311.world.users["admin"]
    home = do_save_city(City(code="liuzhou", name="柳州市"), actor=admin, changed=["code", "name"])  # the default
    other = do_save_city(City(code="guilin", name="桂林市"), actor=admin, changed=["code", "name"])
    world = open311.world
    unplaced, in_home, in_other = accept(world), accept(world), accept(world)
    Ticket.objects.filter(pk=in_home.pk).update(city=home)
    Ticket.objects.filter(pk=in_other.pk).update(city=other)

    def numbers(jurisdiction: str) -> set[str]:
        return {row["service_request_id"] for row in open311.json("requests.json", jurisdiction_id=jurisdiction)}

    # The default city holds its own tickets and those that name no city; the installation's id holds all.
    assert numbers("liuzhou") == {unplaced.number, in_home.number}
    assert numbers("guilin") == {in_other.number}
    assert numbers("liuzhou.12345.gov.cn") == {unplaced.number, in_home.number, in_other.number}
    assert open311.json(f"requests/{in_other.number}.json", jurisdiction_id="liuzhou", expect=404)[0]["code"] == 404
    assert open311.json(f"requests/{in_other.number}.json", jurisdiction_id="guilin")[0]["service_request_id"] == (
        in_other.number
    )
