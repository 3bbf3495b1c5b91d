"""CAP fixes of issue #19: previews are Drafts with their own identifier, every message expires, Cancels leave the
feed when they expire, and alerts carry an XML signature when a key is configured."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from rest_framework.test import APIClient
from signxml import XMLVerifier
from signxml.exceptions import InvalidSignature
from signxml.verifier import VerifyResult

from core import clock
from emergency.cap import CAP_NAMESPACE, schema_errors
from emergency.models import CapMessage
from tests.conftest import World
from tests.emergency.incident_fixtures import create_incident, linkage_fixture, ok  # noqa: F401

NS = {"cap": CAP_NAMESPACE, "atom": "http://www.w3.org/2005/Atom", "ds": "http://www.w3.org/2000/09/xmldsig#"}
T0 = dt.datetime(2026, 11, 21, 1, 0, 7, tzinfo=dt.UTC)


def _cap_bytes(world: World, incident_id: int) -> bytes:
    response = world.client("commander").get(f"/api/incidents/{incident_id}/cap/")
    assert response.status_code == 200, response.content
    assert schema_errors(response.content) == []
    return bytes(response.content)


def _cap(world: World, incident_id: int) -> Any:
    return etree.fromstring(_cap_bytes(world, incident_id))


def _text(alert: Any, path: str) -> list[str]:
    return [node.text for node in alert.findall(path, NS)]


def _post(world: World, url: str, body: dict | None = None) -> Any:
    return ok(world.client("commander").post(url, body or {}, format="json"))


def test_a_preview_is_a_draft_whose_identifier_the_published_alert_never_takes(linkage: World) -> None:
    with clock.pinned_at(T0):
        incident = create_incident(linkage)
    preview = _cap(linkage, incident["id"])
    assert _text(preview, "cap:status") == ["Draft"]
    assert _text(preview, "cap:note") and _text(preview, "cap:references") == []
    with clock.pinned_at(T0 + dt.timedelta(minutes=5)):
        _post(linkage, f"/api/incidents/{incident['id']}/update/", {"title": "文惠路居民楼火灾（已核实地址）"})
    second_preview = _cap(linkage, incident["id"])
    with clock.pinned_at(T0 + dt.timedelta(minutes=10)):
        _post(linkage, f"/api/incidents/{incident['id']}/publish_alert/")
    published = _cap(linkage, incident["id"])
    assert _text(published, "cap:status") == ["Actual"] and _text(published, "cap:note") == []
    identifiers = [_text(m, "cap:identifier")[0] for m in (preview, second_preview, published)]
    assert len(set(identifiers)) == 3, identifiers  # a changed preview is another document too
    assert identifiers[2] == f"{incident['number']}-r1"
    assert _text(published, "cap:sent") == ["2026-11-21T09:10:07+08:00"]
    # The published message is recorded as the thread's first.
    assert list(CapMessage.objects.filter(incident_id=incident["id"]).values_list("identifier", "msg_type")) == [
        (identifiers[2], "Alert")
    ]


def test_every_message_expires_and_a_cancel_leaves_the_feed_when_it_expires(linkage: World, settings: Any) -> None:
    settings.HOTLINE = {**settings.HOTLINE, "CAP_ALERT_EXPIRES_HOURS": 48, "CAP_CANCEL_EXPIRES_HOURS": 6}
    with clock.pinned_at(T0):
        incident = create_incident(linkage)
        assert _text(_cap(linkage, incident["id"]), "cap:info/cap:expires") == ["2026-11-23T09:00:07+08:00"] * 2
        _post(linkage, f"/api/incidents/{incident['id']}/publish_alert/")
        assert _text(_cap(linkage, incident["id"]), "cap:info/cap:expires") == ["2026-11-23T09:00:07+08:00"] * 2
    with clock.pinned_at(T0 + dt.timedelta(hours=1)):
        _post(linkage, f"/api/incidents/{incident['id']}/withdraw_alert/", {"note": "信息有误"})
        cancel = _cap(linkage, incident["id"])
        assert _text(cancel, "cap:msgType") == ["Cancel"]
        assert _text(cancel, "cap:info/cap:expires") == ["2026-11-21T16:00:07+08:00"] * 2

    def feed_ids(at: dt.datetime) -> list[str]:
        with clock.pinned_at(at):
            feed = etree.fromstring(APIClient().get("/api/incidents/alerts.atom").content)
        return [entry.findtext("atom:id", namespaces=NS) for entry in feed.findall("atom:entry", NS)]

    cancel_id = f"urn:cap:yjld@12345.liuzhou.gov.cn:{incident['number']}-r2"
    assert feed_ids(T0 + dt.timedelta(hours=6)) == [cancel_id]
    assert feed_ids(T0 + dt.timedelta(hours=7, minutes=1)) == []


@pytest.fixture(name="signing_key")
def signing_key_fixture(tmp_path: Path, settings: Any) -> bytes:
    """A self-signed RSA certificate and key as the centre's CAP signing pair; returns the certificate (PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "yjld.12345.liuzhou.gov.cn")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_file, cert_file = tmp_path / "cap.key", tmp_path / "cap.crt"
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM)
    cert_file.write_bytes(cert_pem)
    settings.HOTLINE = {
        **settings.HOTLINE,
        "CAP_SIGNING_KEY_FILE": str(key_file),
        "CAP_SIGNING_CERT_FILE": str(cert_file),
    }
    return cert_pem


def test_unsigned_unless_a_key_is_configured(linkage: World) -> None:
    incident = create_incident(linkage)
    assert _cap(linkage, incident["id"]).find("ds:Signature", NS) is None


def test_a_configured_key_signs_every_alert_and_the_signature_verifies(linkage: World, signing_key: bytes) -> None:
    incident = create_incident(linkage)
    _post(linkage, f"/api/incidents/{incident['id']}/publish_alert/")
    document = bytes(APIClient().get(f"/api/incidents/{incident['id']}/cap/").content)
    assert schema_errors(document) == []  # the Signature sits where CAP 1.2 allows XML-DSig
    alert = etree.fromstring(document)
    assert alert[-1].tag == f"{{{NS['ds']}}}Signature"
    verified = XMLVerifier().verify(document, x509_cert=signing_key.decode("ascii"))
    assert isinstance(verified, VerifyResult) and verified.signed_xml is not None
    assert verified.signed_xml.findtext("cap:identifier", namespaces=NS) == f"{incident['number']}-r1"
    # A changed byte breaks it.
    tampered = document.replace("文惠路".encode(), "别的路".encode(), 1)
    assert tampered != document
    with pytest.raises(InvalidSignature):
        XMLVerifier().verify(tampered, x509_cert=signing_key.decode("ascii"))
