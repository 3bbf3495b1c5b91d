"""Attachments: who sees which files, who may add them, and how a file is served."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from rest_framework.test import APIClient

from dispatch import actions as dispatching
from dispatch.attachments import actions as attach
from dispatch.attachments.models import Attachment
from tests.access.scene import Scene, build_scene, new_ticket
from tests.conftest import World
from tests.dispatch.test_attachments import (
    assert_nothing_stored,
    jpeg_with_gps,
    pdf,
    png_with_text,
    post_file,
    upload,
)


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    """The default storage (the file system) in a folder of this test's own."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture
def handling(world: World, media: Path) -> Scene:
    """Two tickets, dispatched to agency_a (lane a) and agency_b (lane b), their work orders signed."""
    return build_scene(world, "handling")


def _intake_photo(world: World, scene: Scene, lane: str) -> Attachment:
    return attach.do_attach_to_ticket(
        scene.tickets[lane].pk, upload("门口.jpg", jpeg_with_gps()), actor=world.users["operator"]
    )


def _proof(world: World, scene: Scene, lane: str) -> Attachment:
    handler = world.users["handler_a" if lane == "a" else "handler_b"]
    return attach.do_attach_to_work_order(
        scene.work_orders[lane].pk, upload("proof.png", png_with_text()), actor=handler, kind="reply"
    )


def test_an_agency_sees_its_own_tickets_files_and_never_another_agencys(
    world: World, handling: Scene, media: Path
) -> None:
    intake_a, intake_b = _intake_photo(world, handling, "a"), _intake_photo(world, handling, "b")
    proof_a, proof_b = _proof(world, handling, "a"), _proof(world, handling, "b")
    a = world.client("handler_a")
    ticket_a, ticket_b = handling.tickets["a"].pk, handling.tickets["b"].pk
    wo_a, wo_b = handling.work_orders["a"].pk, handling.work_orders["b"].pk

    # Its own ticket's intake photo and its own proof: listed and downloadable.
    listed = a.get(f"/api/tickets/{ticket_a}/attachments/")
    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()] == [intake_a.pk, proof_a.pk]
    assert [row["id"] for row in a.get(f"/api/work-orders/{wo_a}/attachments/").json()] == [proof_a.pk]
    photo = a.get(f"/api/attachments/{intake_a.pk}/file/")
    assert photo.status_code == 200 and photo["Content-Type"] == "image/jpeg"
    assert b"".join(photo.streaming_content) == intake_a.file.open("rb").read()  # type: ignore[attr-defined]
    assert a.get(f"/api/attachments/{intake_a.pk}/thumbnail/").status_code == 200

    # Agency b's ticket, work order and files do not exist for agency a.
    for url in (
        f"/api/tickets/{ticket_b}/attachments/",
        f"/api/work-orders/{wo_b}/attachments/",
        f"/api/attachments/{intake_b.pk}/file/",
        f"/api/attachments/{intake_b.pk}/thumbnail/",
        f"/api/attachments/{proof_b.pk}/file/",
        f"/api/attachments/{proof_b.pk}/thumbnail/",
        "/api/attachments/999999/file/",
    ):
        response = a.get(url)
        assert response.status_code == 404, url
        assert response.json()["code"] == "not_found"
    refused = post_file(a, f"/api/work-orders/{wo_b}/attachments/", "x.pdf", pdf())
    assert refused.status_code == 404
    assert Attachment.objects.count() == 4

    # The centre sees everything; a user with no role nothing.
    auditor = world.client("auditor")
    assert len(auditor.get(f"/api/tickets/{ticket_b}/attachments/").json()) == 2
    assert auditor.get(f"/api/attachments/{proof_b.pk}/file/").status_code == 200
    assert world.client("nobody").get(f"/api/attachments/{intake_a.pk}/file/").status_code == 404
    assert world.client("nobody").get(f"/api/tickets/{ticket_a}/attachments/").status_code == 404


def test_on_a_shared_ticket_each_agency_sees_only_its_own_work_orders_files(world: World, media: Path) -> None:
    ticket = new_ticket(world, "a")
    dispatching.do_dispatch_ticket(
        ticket.pk, actor=world.users["dispatcher"], lead_agency_id=world.agency_a.pk, co_agency_ids=[world.agency_b.pk]
    )
    lead = ticket.work_orders.get(agency=world.agency_a)
    co = ticket.work_orders.get(agency=world.agency_b)
    dispatching.do_sign_work_order(co.pk, actor=world.users["handler_b"])
    co_file = attach.do_attach_to_work_order(co.pk, upload("co.pdf", pdf()), actor=world.users["handler_b"])
    intake = attach.do_attach_to_ticket(ticket.pk, upload("in.pdf", pdf()), actor=world.users["operator"])

    a = world.client("handler_a")
    assert [row["id"] for row in a.get(f"/api/tickets/{ticket.pk}/attachments/").json()] == [intake.pk]
    assert a.get(f"/api/attachments/{co_file.pk}/file/").status_code == 404
    assert a.get(f"/api/work-orders/{co.pk}/attachments/").status_code == 404
    assert a.get(f"/api/work-orders/{lead.pk}/attachments/").json() == []
    b = world.client("handler_b")
    assert [row["id"] for row in b.get(f"/api/tickets/{ticket.pk}/attachments/").json()] == [co_file.pk, intake.pk]


def test_anonymous_requests_are_refused(world: World, handling: Scene, media: Path) -> None:
    intake = _intake_photo(world, handling, "a")
    anonymous = APIClient()
    for url in (
        f"/api/tickets/{handling.tickets['a'].pk}/attachments/",
        f"/api/work-orders/{handling.work_orders['a'].pk}/attachments/",
        f"/api/attachments/{intake.pk}/file/",
        f"/api/attachments/{intake.pk}/thumbnail/",
    ):
        response = anonymous.get(url)
        assert response.status_code in (401, 403), url
        assert response.json()["code"] == "not_authenticated"
    response = post_file(anonymous, f"/api/tickets/{handling.tickets['a'].pk}/attachments/", "x.pdf", pdf())
    assert response.status_code in (401, 403)
    assert Attachment.objects.count() == 1


def test_agencies_add_files_only_when_the_workflow_lets_them_write_a_note(world: World, media: Path) -> None:
    scene = build_scene(world, "pending_sign", lanes=("a",))
    wo = scene.work_orders["a"]
    a = world.client("handler_a")
    url = f"/api/work-orders/{wo.pk}/attachments/"
    refused = post_file(a, url, "early.pdf", pdf())  # not signed yet: no notes
    assert refused.status_code == 409 and refused.json()["code"] == "transition_not_allowed"
    dispatching.do_sign_work_order(wo.pk, actor=world.users["handler_a"])
    assert post_file(a, url, "proof.pdf", pdf(), kind="reply").status_code == 201
    dispatching.do_reply_work_order(wo.pk, actor=world.users["handler_a"], reply="已处理", outcome="resolved")
    late = post_file(a, url, "late.pdf", pdf())  # replied: the work is with the reviewers now
    assert late.status_code == 409 and late.json()["code"] == "transition_not_allowed"
    # The centre's desk may still add a note while the work order is open; supervisors may not add files.
    assert post_file(world.client("dispatcher"), url, "review.pdf", pdf()).status_code == 201
    supervisor = post_file(world.client("supervisor"), url, "s.pdf", pdf())
    assert supervisor.status_code == 403 and supervisor.json()["code"] == "permission_denied"
    assert Attachment.objects.count() == 2


def test_only_the_centres_intake_desk_adds_files_to_a_ticket(world: World, handling: Scene, media: Path) -> None:
    url = f"/api/tickets/{handling.tickets['a'].pk}/attachments/"
    for who in ("handler_a", "agencyadmin_a", "supervisor", "auditor", "commander"):
        response = post_file(world.client(who), url, "x.pdf", pdf())
        assert response.status_code == 403, who
        assert response.json()["code"] == "permission_denied"
    for who in ("operator", "dispatcher", "admin"):
        assert post_file(world.client(who), url, "x.pdf", pdf()).status_code == 201, who


def test_a_finished_ticket_takes_no_more_files(world: World, media: Path) -> None:
    ticket = new_ticket(world, "a")
    dispatching.do_cancel_ticket(ticket.pk, actor=world.users["operator"], reason="重复来电")
    response = post_file(world.client("operator"), f"/api/tickets/{ticket.pk}/attachments/", "x.pdf", pdf())
    assert response.status_code == 409 and response.json()["code"] == "ticket_finished"
    assert_nothing_stored(media)


def test_files_are_served_safely(world: World, handling: Scene, media: Path) -> None:
    photo = _intake_photo(world, handling, "a")
    document = attach.do_attach_to_ticket(
        handling.tickets["a"].pk, upload('报告"; x=.pdf', pdf()), actor=world.users["operator"], kind="other"
    )
    client = world.client("operator")
    image = client.get(f"/api/attachments/{photo.pk}/file/", HTTP_ACCEPT="image/avif,image/webp,*/*")
    assert image.status_code == 200
    assert image["Content-Type"] == "image/jpeg" and image["X-Content-Type-Options"] == "nosniff"
    assert image["Content-Disposition"].startswith("inline; filename*=utf-8''")
    assert "sandbox" in image["Content-Security-Policy"] and image["ETag"] == f'"{photo.sha256}"'
    Image.open(io.BytesIO(b"".join(image.streaming_content))).verify()  # type: ignore[attr-defined]
    thumb = client.get(f"/api/attachments/{photo.pk}/thumbnail/", HTTP_ACCEPT="image/*")
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/jpeg"
    assert thumb["Content-Disposition"].startswith("inline;")

    download = client.get(f"/api/attachments/{document.pk}/file/")
    assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
    disposition = download["Content-Disposition"]
    assert disposition.startswith("attachment; filename*=utf-8''") and '"' not in disposition.split("''", 1)[1]
    missing = client.get(f"/api/attachments/{document.pk}/thumbnail/")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_the_timeline_shows_the_attach_step(world: World, handling: Scene, media: Path) -> None:
    proof = _proof(world, handling, "a")
    rows = world.client("handler_a").get(f"/api/tickets/{handling.tickets['a'].pk}/timeline/").json()
    attach_rows = [row for row in rows if row["action"] == "attach"]
    assert len(attach_rows) == 1 and attach_rows[0]["data"]["attachment_id"] == proof.pk
    assert attach_rows[0]["work_order"] == handling.work_orders["a"].number
    # Agency b does not see agency a's attach step.
    assert world.client("handler_b").get(f"/api/tickets/{handling.tickets['a'].pk}/timeline/").status_code == 404
