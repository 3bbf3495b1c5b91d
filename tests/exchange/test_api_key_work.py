"""An agency's business system does through its key what its handlers do on the agency's own work orders -
upload a proof photo, reply with it, read it back - acting as its service account (the attachment's uploader,
the timeline's actor); another agency's work order does not exist for it, and a key without the
attachments scope may not upload."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dispatch.attachments.models import Attachment
from dispatch.models import TimelineEntry, WorkOrder
from tests.access.scene import Scene, build_scene
from tests.conftest import World
from tests.dispatch.test_attachments import png_with_text, post_file
from tests.exchange.keys import issue, key_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def handling(world: World, settings: Any, tmp_path: Path) -> Scene:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return build_scene(world, "handling")


def test_an_agency_key_replies_with_a_photo_on_its_own_work_order(world: World, handling: Scene) -> None:
    key, raw = issue(world, agency=world.agency_a)
    client = key_client(raw)
    wo = handling.work_orders["a"]
    upload = post_file(client, f"/api/work-orders/{wo.pk}/attachments/", "proof.png", png_with_text(), kind="reply")
    assert upload.status_code == 201, upload.content
    attachment = Attachment.objects.get(pk=upload.json()["id"])
    assert attachment.uploaded_by == key.user and attachment.uploaded_by_agency == world.agency_a
    reply = client.post(f"/api/work-orders/{wo.pk}/reply/", {"reply": "已清运，见照片", "outcome": "resolved"})
    assert reply.status_code == 200, reply.content
    wo.refresh_from_db()
    assert wo.state == "replied"
    assert TimelineEntry.objects.filter(work_order=wo, actor=key.user).exists()
    assert client.get(f"/api/attachments/{attachment.pk}/file/").status_code == 200


def test_another_agencys_work_order_does_not_exist_for_the_key(world: World, handling: Scene) -> None:
    _key, raw = issue(world, agency=world.agency_a)
    client = key_client(raw)
    foreign = handling.work_orders["b"]
    url = f"/api/work-orders/{foreign.pk}/attachments/"
    assert post_file(client, url, "proof.png", png_with_text(), kind="reply").status_code == 404
    assert (
        client.post(f"/api/work-orders/{foreign.pk}/reply/", {"reply": "x", "outcome": "resolved"}).status_code == 404
    )
    assert WorkOrder.objects.get(pk=foreign.pk).state == "handling"
    assert not Attachment.objects.exists()


def test_a_key_without_the_attachments_scope_may_not_upload(world: World, handling: Scene) -> None:
    _key, raw = issue(world, agency=world.agency_a, scopes=["work_orders:read", "work_orders:act"])
    wo = handling.work_orders["a"]
    response = post_file(key_client(raw), f"/api/work-orders/{wo.pk}/attachments/", "p.png", png_with_text())
    assert response.status_code == 403 and response.json()["code"] == "api_key_scope"
    assert not Attachment.objects.exists()
