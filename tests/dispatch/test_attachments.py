"""Attachments: what is stored of an upload (real files, real Pillow, the real storage in a temporary folder).

The helpers at the top make the files; tests/dispatch/test_attachments_access.py uses them too.
"""

from __future__ import annotations

import hashlib
import io
import random
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import ExifTags, Image, PngImagePlugin

from core.errors import InvalidInput
from dispatch.attachments import actions as attach
from dispatch.attachments import files
from dispatch.attachments.models import Attachment
from dispatch.models import TimelineEntry
from organisation.models import User
from realtime.models import Event
from tests.access.scene import Scene, build_scene
from tests.conftest import World

# --- real files ------------------------------------------------------------------------------------


def jpeg_with_gps(width: int = 800, height: int = 600, *, orientation: int = 6) -> bytes:
    """A camera-like JPEG: GPS position, make, a comment, and an orientation (6: turn 90° clockwise to view)."""
    image = Image.new("RGB", (width, height), (40, 120, 200))
    for x in range(0, width, 50):  # stripes: something to see that it was turned
        image.paste((250, 200, 20), (x, 0, x + 10, height))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "TestCam"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (24.0, 18.0, 45.5)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (109.0, 24.0, 40.25)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), comment=b"caller 13812341234")
    data = out.getvalue()
    # The fixture really carries what must be removed.
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    return data


def png_with_text(width: int = 400, height: int = 300) -> bytes:
    image = Image.new("RGBA", (width, height), (10, 200, 10, 128))
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "张三 13812341234")
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info)
    return out.getvalue()


def noise_png(at_least: int) -> bytes:
    """A PNG of pixels that do not compress, at least ``at_least`` bytes long."""
    side = int((at_least / 3) ** 0.5) + 8
    pixels = random.Random(12345).randbytes(side * side * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), pixels).save(out, "PNG")
    assert len(out.getvalue()) >= at_least
    return out.getvalue()


def flat_png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("L", (width, height), 128).save(out, "PNG")
    return out.getvalue()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_bomb(side: int = 15000) -> bytes:
    """A valid 1-bit PNG of side × side black pixels: some kilobytes that decode to hundreds of megapixels."""
    row = b"\x00" * (1 + (side + 7) // 8)  # the filter byte and the packed bits
    packer = zlib.compressobj(9)
    compressed = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", compressed) + _png_chunk(b"IEND", b"")
    )


def pdf() -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
        b"trailer<</Root 1 0 R>>\n%%EOF\n"
    )


def docx(*, macro: bool = False) -> bytes:
    main = (
        "application/vnd.ms-word.document.macroEnabled.main+xml"
        if macro
        else "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as package:
        package.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            f'<Override PartName="/word/document.xml" ContentType="{main}"/></Types>',
        )
        package.writestr("word/document.xml", "<w:document/>")
        if macro:
            package.writestr("word/vbaProject.bin", b"\x00" * 16)
    return out.getvalue()


def xlsx() -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet: Any = book.active
    sheet.append(["现场", "已处理"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def plain_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as package:
        package.writestr("notes.txt", "hello")
    return out.getvalue()


def heic_header() -> bytes:
    return b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64


def upload(name: str, data: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


# --- fixtures and checks ---------------------------------------------------------------------------


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    """The default storage (the file system) in a folder of this test's own."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture
def handling(world: World, media: Path) -> Scene:
    """Two tickets, dispatched to agency_a (lane a) and agency_b (lane b), their work orders signed."""
    return build_scene(world, "handling")


def stored_files(media: Path) -> list[Path]:
    return sorted(p for p in media.rglob("*") if p.is_file()) if media.exists() else []


def read_stored(attachment: Attachment) -> bytes:
    with attachment.file.open("rb") as stored:
        return stored.read()


def post_file(client: Any, url: str, name: str, data: bytes, **fields: Any) -> Any:
    return client.post(url, {"file": upload(name, data), **fields}, format="multipart")


def limits(settings: Any, **values: Any) -> None:
    settings.HOTLINE = {**settings.HOTLINE, **{f"ATTACHMENT_{k.upper()}": v for k, v in values.items()}}


def assert_nothing_stored(media: Path) -> None:
    assert Attachment.objects.count() == 0
    assert stored_files(media) == []
    assert not Event.objects.filter(type="attachment.added").exists()
    assert not TimelineEntry.objects.filter(action="attach").exists()


# --- images --------------------------------------------------------------------------------------


def test_a_photo_loses_its_gps_and_is_turned_upright_with_a_thumbnail(
    world: World, handling: Scene, media: Path
) -> None:
    ticket = handling.tickets["a"]
    response = post_file(
        world.client("operator"), f"/api/tickets/{ticket.pk}/attachments/", "现场 照片.jpg", jpeg_with_gps()
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["kind"] == "intake" and body["content_type"] == "image/jpeg" and body["is_image"] is True
    assert body["original_name"] == "现场 照片.jpg"
    attachment = Attachment.objects.get(pk=body["id"])

    data = read_stored(attachment)
    stored = Image.open(io.BytesIO(data))
    assert stored.format == "JPEG"
    exif = stored.getexif()
    assert not exif.get_ifd(ExifTags.IFD.GPSInfo) and ExifTags.IFD.GPSInfo not in exif
    assert ExifTags.Base.Make not in exif and "exif" not in stored.info and "comment" not in stored.info
    assert b"Exif\x00\x00" not in data and b"TestCam" not in data and b"13812341234" not in data
    assert stored.size == (600, 800)  # orientation 6 applied: the landscape original stands upright
    assert body["size"] == attachment.size == len(data)
    assert body["sha256"] == attachment.sha256 == hashlib.sha256(data).hexdigest()

    with attachment.thumbnail.open("rb") as thumb_file:
        thumb = Image.open(io.BytesIO(thumb_file.read()))
    assert thumb.format == "JPEG" and max(thumb.size) <= 320 and thumb.size == (240, 320)
    assert not thumb.getexif()

    # Random storage names: no file name, no ticket number, nothing about the caller.
    for name in (attachment.file.name, attachment.thumbnail.name):
        assert name.startswith("attachments/") and "照片" not in name and ticket.number not in name
    assert len(stored_files(media)) == 2

    # The timeline and the event say what happened, without the file's name.
    entry = TimelineEntry.objects.get(action="attach")
    assert entry.ticket_id == ticket.pk and entry.work_order_id is None and entry.machine == "ticket"
    assert entry.from_state == entry.to_state == ticket.state
    event = Event.objects.get(type="attachment.added")
    assert event.payload["attachment_id"] == attachment.pk and event.payload["work_order_id"] is None
    assert event.agency_ids == [world.agency_a.pk]
    assert "照片" not in str(event.payload) + str(entry.data)


def test_a_png_is_kept_as_png_without_its_text_chunks(world: World, handling: Scene, media: Path) -> None:
    wo = handling.work_orders["a"]
    response = post_file(
        world.client("handler_a"), f"/api/work-orders/{wo.pk}/attachments/", "proof.png", png_with_text(), kind="reply"
    )
    assert response.status_code == 201, response.json()
    # Chinese once /tmp/attachments_msgs.po is merged into the catalogue, English until then.
    assert response.json()["kind_label"] in ("回复（办理佐证）", "Reply (proof of work)")
    attachment = Attachment.objects.get(pk=response.json()["id"])
    assert (attachment.kind, attachment.work_order_id, attachment.content_type) == ("reply", wo.pk, "image/png")
    assert attachment.uploaded_by == world.users["handler_a"] and attachment.uploaded_by_agency == world.agency_a
    stored = Image.open(io.BytesIO(read_stored(attachment)))
    assert stored.format == "PNG" and stored.mode == "RGBA" and stored.size == (400, 300)
    assert "Comment" not in stored.info and b"13812341234" not in read_stored(attachment)
    assert attachment.thumbnail
    event = Event.objects.get(type="attachment.added")
    assert event.agency_ids == [world.agency_a.pk] and event.payload["agency_id"] == world.agency_a.pk
    assert TimelineEntry.objects.get(action="attach").work_order_id == wo.pk


def test_a_webp_photo_is_accepted(world: World, handling: Scene, media: Path) -> None:
    out = io.BytesIO()
    Image.new("RGB", (500, 400), (1, 2, 3)).save(out, "WEBP")
    wo = handling.work_orders["a"]
    response = post_file(world.client("handler_a"), f"/api/work-orders/{wo.pk}/attachments/", "x.webp", out.getvalue())
    assert response.status_code == 201, response.json()
    assert response.json()["content_type"] == "image/webp" and response.json()["kind"] == "note"


def test_text_named_jpg_is_refused_and_nothing_is_stored(world: World, handling: Scene, media: Path) -> None:
    client = world.client("operator")
    url = f"/api/tickets/{handling.tickets['a'].pk}/attachments/"
    for name, data in (
        ("photo.jpg", b"this is not a photo, just text\n" * 20),
        ("photo.jpg", b"\xff\xd8\xff\xe0" + b"broken jpeg" * 50),  # a JPEG's first bytes, then garbage
        ("scan.pdf", b"<html><script>alert(1)</script></html>"),
        ("archive.docx", plain_zip()),
        ("macro.docx", docx(macro=True)),
    ):
        response = post_file(client, url, name, data)
        assert response.status_code == 400, (name, response.json())
        assert response.json()["code"] == "invalid_input" and response.json()["fields"]["file"], name
    assert_nothing_stored(media)


def test_too_big_is_refused_by_the_api_and_by_the_action(
    world: World, handling: Scene, media: Path, settings: Any
) -> None:
    limits(settings, max_bytes=20_000)
    big = noise_png(30_000)
    response = post_file(
        world.client("operator"), f"/api/tickets/{handling.tickets['a'].pk}/attachments/", "a.png", big
    )
    assert response.status_code == 400 and "file" in response.json()["fields"], response.json()
    with pytest.raises(InvalidInput) as refused:
        attach.do_attach_to_ticket(handling.tickets["a"].pk, upload("a.png", big), actor=world.users["operator"])
    assert "file" in refused.value.fields
    assert_nothing_stored(media)


def test_decompression_bombs_are_refused_before_decoding(
    world: World, handling: Scene, media: Path, settings: Any
) -> None:
    url = f"/api/tickets/{handling.tickets['a'].pk}/attachments/"
    client = world.client("operator")
    bomb = png_bomb()  # 225 megapixels in some tens of kilobytes: above twice Pillow's own limit
    assert len(bomb) < 200_000
    response = post_file(client, url, "bomb.png", bomb)
    assert response.status_code == 400 and response.json()["fields"]["file"], response.json()
    # Below Pillow's limit but above ours.
    limits(settings, max_pixels=1_000_000)
    response = post_file(client, url, "big.png", flat_png(1200, 1000))
    assert response.status_code == 400 and "1200" in response.json()["fields"]["file"][0]
    assert_nothing_stored(media)


def test_heic_is_refused_clearly_while_pillow_cannot_read_it(world: World, handling: Scene, media: Path) -> None:
    assert not files.heif_readable()
    response = post_file(
        world.client("operator"),
        f"/api/tickets/{handling.tickets['a'].pk}/attachments/",
        "IMG_0001.HEIC",
        heic_header(),
    )
    assert response.status_code == 400
    assert "HEIC" in response.json()["fields"]["file"][0]
    assert_nothing_stored(media)


# --- documents -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "make", "content_type", "extension"),
    [
        ("报告.pdf", pdf, files.PDF, "pdf"),
        ("letter.docx", docx, files.DOCX, "docx"),
        ("table.xlsx", xlsx, files.XLSX, "xlsx"),
    ],
)
def test_documents_are_recognised_by_their_bytes(
    world: World, handling: Scene, media: Path, name: str, make: Any, content_type: str, extension: str
) -> None:
    data = make()
    response = post_file(
        world.client("dispatcher"), f"/api/tickets/{handling.tickets['a'].pk}/attachments/", name, data, kind="other"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["content_type"] == content_type and body["is_image"] is False and body["thumbnail_url"] is None
    attachment = Attachment.objects.get(pk=body["id"])
    assert read_stored(attachment) == data and attachment.file.name.endswith(f".{extension}")


# --- kinds, and the write path ---------------------------------------------------------------------


def test_kinds_are_checked_with_the_file_in_one_answer(world: World, handling: Scene, media: Path) -> None:
    ticket_url = f"/api/tickets/{handling.tickets['a'].pk}/attachments/"
    response = post_file(world.client("operator"), ticket_url, "x.txt", b"text", kind="reply")
    assert response.status_code == 400 and set(response.json()["fields"]) == {"file", "kind"}
    wo_url = f"/api/work-orders/{handling.work_orders['a'].pk}/attachments/"
    # The proof of a reply is the agency's own; the centre's desk adds notes.
    response = post_file(world.client("dispatcher"), wo_url, "a.png", flat_png(10, 10), kind="reply")
    assert response.status_code == 400 and list(response.json()["fields"]) == ["kind"]
    assert post_file(world.client("dispatcher"), wo_url, "a.png", flat_png(10, 10)).status_code == 201
    response = world.client("operator").post(ticket_url, {"kind": "intake"}, format="multipart")
    assert response.status_code == 400 and "file" in response.json()["fields"]
    response = world.client("operator").post(ticket_url, {"file": "not a file"}, format="json")
    assert response.status_code == 415


def test_a_failed_write_leaves_no_file_behind(world: World, handling: Scene, media: Path) -> None:
    prepared = files.prepare(upload("a.png", flat_png(50, 50)))
    ticket = handling.tickets["a"]
    ghost = User(username="ghost")  # never saved: the row cannot be written after the files were
    with pytest.raises(ValueError):
        attach._store(prepared, "intake", actor=ghost, lock=lambda: (ticket, None))
    assert_nothing_stored(media)


def test_original_names_are_made_harmless() -> None:
    assert files.clean_name("C:\\Users\\张三\\Desktop\\身份证.jpg") == "身份证.jpg"
    assert files.clean_name("../../etc/passwd") == "passwd"
    assert files.clean_name("invoice\u202egpj.exe") == "invoicegpj.exe"
    assert files.clean_name("") == "file"
    assert files.download_name("IMG_0001.HEIC", files.JPEG) == "IMG_0001.jpg"
    assert files.download_name("photo.jpg", files.PNG) == "photo.png"
    assert files.download_name(".hidden", files.PDF) == ".hidden.pdf"
