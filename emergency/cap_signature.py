"""Optional XML signature of CAP alerts: an enveloped XML-DSig ``Signature`` as the alert's last child (CAP 1.2
allows elements of the XML-DSig namespace there), made with the signxml library.

Off unless both ``HOTLINE["CAP_SIGNING_KEY_FILE"]`` (a PEM private key, RSA or EC) and
``HOTLINE["CAP_SIGNING_CERT_FILE"]`` (its PEM certificate, sent in ``KeyInfo``) are set;
``HOTLINE["CAP_SIGNING_KEY_PASSWORD"]`` when the key is encrypted. Receivers check the signature against the
certificate the centre gave them (docs/OPERATIONS.md "Signing CAP alerts").
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from django.conf import settings
from lxml import etree
from signxml import SignatureMethod, XMLSigner, methods


def _setting(name: str) -> str:
    return str(settings.HOTLINE.get(name) or "")


def configured() -> bool:
    return bool(_setting("CAP_SIGNING_KEY_FILE") and _setting("CAP_SIGNING_CERT_FILE"))


def sign(document: bytes) -> bytes:
    """``document`` (a CAP alert) with an enveloped signature over the whole alert."""
    key_pem = Path(_setting("CAP_SIGNING_KEY_FILE")).read_bytes()
    cert_pem = Path(_setting("CAP_SIGNING_CERT_FILE")).read_bytes()
    password = _setting("CAP_SIGNING_KEY_PASSWORD").encode("utf-8") or None
    key = load_pem_private_key(key_pem, password=password)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError("the CAP signing key must be an RSA or EC private key")
    method = SignatureMethod.ECDSA_SHA256 if isinstance(key, ec.EllipticCurvePrivateKey) else SignatureMethod.RSA_SHA256
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    root = etree.fromstring(document, parser=parser)
    signer = XMLSigner(method=methods.enveloped, signature_algorithm=method)
    signed = signer.sign(root, key=key, cert=cert_pem.decode("ascii"))
    return bytes(etree.tostring(signed, encoding="utf-8", xml_declaration=True))
