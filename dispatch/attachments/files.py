"""What an uploaded file really is, and what we keep of it. No database here.

- The type comes from the file's own bytes (magic numbers; for .docx/.xlsx the package's content types), never
  from its name or the browser's Content-Type. Allowed types: ``HOTLINE["ATTACHMENT_TYPES"]``.
- Images are opened by Pillow restricted to the format the bytes claim (so no other decoder ever runs),
  verified, refused above ``HOTLINE["ATTACHMENT_MAX_PIXELS"]`` (and Pillow's own ``MAX_IMAGE_PIXELS``) before a
  pixel is decoded, turned upright (EXIF orientation) and encoded again with no metadata at all: no EXIF (so
  no GPS position, no camera serial), no XMP, no comments; only the colour profile is kept. The original bytes
  are not kept: every role downloads the same clean image. A JPEG thumbnail (``ATTACHMENT_THUMBNAIL_PX``, 320)
  is made from it.
- HEIC/HEIF photos are read only if a Pillow plugin for them is installed (none is: pillow-heif's wheels bundle
  GPL-licensed codecs); otherwise they are refused with a message that says so. A HEIC photo is stored as JPEG.
- Documents (PDF, DOCX, XLSX) are stored as uploaded; macro-enabled Office files are refused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import logging
import unicodedata
import zipfile
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from PIL import Image, ImageOps

from core.errors import InvalidInput

logger = logging.getLogger(__name__)

JPEG = "image/jpeg"
PNG = "image/png"
WEBP = "image/webp"
HEIC = "image/heic"
PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

#: Every type this module can recognise; a deployment allows a subset (HOTLINE["ATTACHMENT_TYPES"]).
KNOWN_TYPES = (JPEG, PNG, WEBP, HEIC, PDF, DOCX, XLSX)
DEFAULT_TYPES = KNOWN_TYPES
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_PIXELS = 50_000_000
DEFAULT_THUMBNAIL_PX = 320

EXTENSIONS = {JPEG: "jpg", PNG: "png", WEBP: "webp", PDF: "pdf", DOCX: "docx", XLSX: "xlsx"}
TYPE_NAMES = {JPEG: "JPEG", PNG: "PNG", WEBP: "WebP", HEIC: "HEIC", PDF: "PDF", DOCX: "DOCX", XLSX: "XLSX"}
#: The Pillow format an image type is opened with (nothing else is tried on its bytes).
PIL_FORMATS = {JPEG: "JPEG", PNG: "PNG", WEBP: "WEBP", HEIC: "HEIF"}
#: ISO base media file brands of HEIF/HEIC still images.
HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})

_FILE = "file"


@dataclasses.dataclass(frozen=True)
class PreparedFile:
    """What will be stored: the bytes, their type and hash, and for an image its thumbnail."""

    content: bytes
    content_type: str
    extension: str
    original_name: str
    sha256: str
    thumbnail: bytes | None = None

    @property
    def size(self) -> int:
        return len(self.content)

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


def _setting(name: str, default: Any) -> Any:
    return settings.HOTLINE.get(name, default)


def max_bytes() -> int:
    return int(_setting("ATTACHMENT_MAX_BYTES", DEFAULT_MAX_BYTES))


def allowed_types() -> tuple[str, ...]:
    return tuple(t for t in _setting("ATTACHMENT_TYPES", DEFAULT_TYPES) if t in KNOWN_TYPES)


def heif_readable() -> bool:
    """Whether a HEIF plugin is registered with Pillow (e.g. pillow-heif's ``register_heif_opener()``)."""
    Image.init()
    return PIL_FORMATS[HEIC] in Image.OPEN


def _refuse(message: str) -> InvalidInput:
    return InvalidInput(_("Some fields are not valid."), fields={_FILE: [message]})


def _human_size(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{max(1, n // 1024)} KB"


def too_big_error() -> InvalidInput:
    return _refuse(_("The file is too large: at most %(size)s.") % {"size": _human_size(max_bytes())})


def clean_name(name: str | None) -> str:
    """The file name as a person gave it, made harmless to show: no folders, no control or direction characters."""
    text = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] not in ("C", "Z") or ch == " ").strip()
    return text[:200] or "file"


def download_name(original_name: str, content_type: str) -> str:
    """The original name with the extension of what is stored (a HEIC photo is a .jpg, a PNG named .jpg a .png)."""
    stem = original_name.rsplit(".", 1)[0] if "." in original_name.strip(".") else original_name
    return f"{stem or 'file'}.{EXTENSIONS.get(content_type, 'bin')}"


# --- recognising the type ---------------------------------------------------------------------------


def sniff(data: bytes) -> str | None:
    """The type the bytes say they are, or None."""
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS:
        return HEIC
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"PK\x03\x04"):
        return _office_type(data)
    return None


_MAX_CONTENT_TYPES_XML = 1024 * 1024


def _office_type(data: bytes) -> str | None:
    """DOCX or XLSX by the package's declared main part; None for any other ZIP (macro-enabled files included)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            names = set(package.namelist())
            if "[Content_Types].xml" not in names or any(n.lower().endswith("vbaproject.bin") for n in names):
                return None
            if package.getinfo("[Content_Types].xml").file_size > _MAX_CONTENT_TYPES_XML:
                return None
            declared = package.read("[Content_Types].xml")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, KeyError, OSError, ValueError, EOFError):
        return None
    if b"wordprocessingml.document.main+xml" in declared and "word/document.xml" in names:
        return DOCX
    if b"spreadsheetml.sheet.main+xml" in declared and "xl/workbook.xml" in names:
        return XLSX
    return None


# --- images -----------------------------------------------------------------------------------------


def _pixel_limit() -> int:
    ours = int(_setting("ATTACHMENT_MAX_PIXELS", DEFAULT_MAX_PIXELS))
    pillows = Image.MAX_IMAGE_PIXELS
    return min(ours, pillows) if pillows else ours


def _open(data: bytes, content_type: str) -> Image.Image:
    return Image.open(io.BytesIO(data), formats=[PIL_FORMATS[content_type]])


def _flatten(image: Image.Image) -> Image.Image:
    """RGB (or L) for JPEG: transparency goes onto white."""
    if image.mode in ("RGB", "L"):
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _encode(image: Image.Image, pil_format: str, **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, pil_format, **options)
    return out.getvalue()


def _clean_image(data: bytes, content_type: str) -> tuple[bytes, str, bytes]:
    """(stored bytes, stored type, thumbnail JPEG): upright, re-encoded, without metadata."""
    # Decompression bombs: the size in the header is checked before a pixel is decoded, against our limit and
    # Pillow's (Image.open itself refuses above twice Pillow's limit: DecompressionBombError, caught by prepare).
    limit = _pixel_limit()
    with _open(data, content_type) as probe:
        width, height = probe.size
        if width * height > limit:
            raise _refuse(
                _("The image is too large: %(w)d × %(h)d pixels, at most %(n)d million pixels.")
                % {"w": width, "h": height, "n": max(1, limit // 1_000_000)}
            )
        probe.verify()
    # verify() leaves the image unusable: open it again to decode it.
    with _open(data, content_type) as source:
        source.load()
        icc_profile = source.info.get("icc_profile")
        transparency = source.info.get("transparency")
        try:
            upright = ImageOps.exif_transpose(source)
        except Exception:  # a broken orientation tag: the picture as it is rather than a refusal
            upright = source.copy()
    # Nothing of the original's metadata travels on: the encoders get only what is passed explicitly.
    upright.info = {}
    keep: dict[str, Any] = {"icc_profile": icc_profile} if icc_profile else {}
    if content_type == PNG:
        if transparency is not None:
            keep["transparency"] = transparency
        stored, stored_type = _encode(upright, "PNG", **keep), PNG
    elif content_type == WEBP:
        stored, stored_type = _encode(upright, "WEBP", quality=90, **keep), WEBP
    else:  # JPEG, and HEIC stored as JPEG
        picture = upright if upright.mode in ("RGB", "L", "CMYK") else _flatten(upright)
        stored, stored_type = _encode(picture, "JPEG", quality=90, **keep), JPEG
    if transparency is not None and upright.mode == "P":
        upright.info["transparency"] = transparency  # only for the thumbnail's flattening below
    side = int(_setting("ATTACHMENT_THUMBNAIL_PX", DEFAULT_THUMBNAIL_PX))
    thumb = _flatten(upright).copy()
    thumb.thumbnail((side, side), Image.Resampling.LANCZOS)
    return stored, stored_type, _encode(thumb, "JPEG", quality=80)


# --- the one entry point ----------------------------------------------------------------------------


def prepare(upload: UploadedFile | None) -> PreparedFile:
    """Read, recognise and clean an upload, or raise InvalidInput naming the field ``file``."""
    if upload is None:
        raise _refuse(_("Choose a file to upload."))
    limit = max_bytes()
    if upload.size is not None and upload.size > limit:
        raise too_big_error()
    upload.seek(0)
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise too_big_error()
    if not data:
        raise _refuse(_("The file is empty."))
    allowed = allowed_types()
    names = ", ".join(TYPE_NAMES[t] for t in allowed if t != HEIC or heif_readable())
    content_type = sniff(data)
    if content_type is None or content_type not in allowed:
        raise _refuse(_("This kind of file is not accepted. Accepted: %(types)s.") % {"types": names})
    original_name = clean_name(upload.name)
    if content_type not in PIL_FORMATS:
        return PreparedFile(
            data, content_type, EXTENSIONS[content_type], original_name, hashlib.sha256(data).hexdigest()
        )
    if content_type == HEIC and not heif_readable():
        raise _refuse(
            _(
                "HEIC/HEIF photos cannot be read on this server. Send the photo as JPEG (for example, choose "
                "“Most Compatible” in the phone's camera settings). Accepted: %(types)s."
            )
            % {"types": names}
        )
    try:
        stored, stored_type, thumbnail = _clean_image(data, content_type)
    except InvalidInput:
        raise
    except Exception as exc:  # any decoder failure on untrusted bytes is bad input, never a 500
        # Only the exception's class: the message may quote the file's content or name.
        logger.info("attachment image refused: %s", type(exc).__name__)
        if isinstance(exc, Image.DecompressionBombError):
            raise _refuse(_("The image has too many pixels to be processed safely.")) from None
        raise _refuse(
            _("The file claims to be a %(type)s image but cannot be read as one.") % {"type": TYPE_NAMES[content_type]}
        ) from None
    return PreparedFile(
        stored, stored_type, EXTENSIONS[stored_type], original_name, hashlib.sha256(stored).hexdigest(), thumbnail
    )
