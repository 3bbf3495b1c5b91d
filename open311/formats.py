"""Open311's two formats and its error answer.

A resource's format is its suffix (``services.json``, ``services.xml``). JSON is the document as built here;
XML is the same document as elements: a list becomes repeated elements named by ``ITEM_NAMES`` (the spec's
``<services><service>``, ``<service_requests><request>``, ``<attributes><attribute>``, ...), booleans are
``true``/``false``, a missing value an empty element. Errors are the spec's array of {code, description}
(``<errors><error>``), with the HTTP status of the first.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

from django.http import HttpResponse

JSON = "json"
XML = "xml"
FORMATS = (JSON, XML)
CONTENT_TYPES = {JSON: "application/json; charset=utf-8", XML: "text/xml; charset=utf-8"}

# How the members of a list are named in XML, by the list's own name.
ITEM_NAMES = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
    "values": "value",
    "notes": "note",
}


class Open311Error(Exception):
    """One or more errors of the spec's form, answered with ``status``."""

    def __init__(self, status: int, *descriptions: str) -> None:
        super().__init__(descriptions[0] if descriptions else "")
        self.status = status
        self.descriptions = list(descriptions)


def _element(name: str, value: Any) -> ET.Element:
    element = ET.Element(name)
    if isinstance(value, dict):
        for key, child in value.items():
            element.append(_element(key, child))
    elif isinstance(value, list):
        item = ITEM_NAMES.get(name, "item")
        for child in value:
            element.append(_element(item, child))
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = str(value)
    return element


def render(document: Any, fmt: str, *, root: str, status: int = 200) -> HttpResponse:
    """``document`` (a list or dict) in ``fmt``; ``root`` names the XML root element (and its list's members)."""
    if fmt == XML:
        tree = _element(root, document)
        body = ET.tostring(tree, encoding="unicode")
        content = '<?xml version="1.0" encoding="UTF-8"?>\n' + body
    else:
        content = json.dumps(document, ensure_ascii=False)
    response = HttpResponse(
        content.encode("utf-8"), status=status, content_type=CONTENT_TYPES.get(fmt, CONTENT_TYPES[JSON])
    )
    # Public data, readable from any site's scripts (GeoReport clients are often browser apps).
    response["Access-Control-Allow-Origin"] = "*"
    return response


def render_error(error: Open311Error, fmt: str) -> HttpResponse:
    errors = [{"code": error.status, "description": text} for text in error.descriptions]
    return render(errors, fmt if fmt in FORMATS else JSON, root="errors", status=error.status)
