"""Locations in EIDOs: a PIDF-LO document (RFC 4119, shapes of RFC 5491) in ``locationByValue``.

Written: the incident's point as a ``gml:Point``, a circle as a ``gs:Circle`` (radius in metres), an affected
polygon as a ``gml:Polygon`` (a second location component), always WGS84 (EPSG::4326, "lat lon" order as
RFC 5491 requires), with the address as civic text. Read: the first Point, Circle or Polygon of a document;
entities are never resolved and nothing is fetched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree as ET

from lxml import etree

PIDF = "urn:ietf:params:xml:ns:pidf"
GEOPRIV = "urn:ietf:params:xml:ns:pidf:geopriv10"
DATA_MODEL = "urn:ietf:params:xml:ns:pidf:data-model"
GML = "http://www.opengis.net/gml"
SHAPES = "http://www.opengis.net/pidflo/1.0"
WGS84 = "urn:ogc:def:crs:EPSG::4326"
METRES = "urn:ogc:def:uom:EPSG::9001"
_NS = {"pidf": PIDF, "gp": GEOPRIV, "dm": DATA_MODEL, "gml": GML, "gs": SHAPES}
MAX_PIDF_BYTES = 200_000


@dataclass(frozen=True)
class Shape:
    """What a PIDF-LO said: a point (radius 0 or a circle's) or a polygon ring of (lon, lat)."""

    latitude: float | None = None
    longitude: float | None = None
    radius_m: float | None = None
    ring: list[list[float]] | None = None  # GeoJSON order: [lon, lat]


def _el(parent: ET.Element, namespace: str, name: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{namespace}}}{name}", attributes)
    if text is not None:
        element.text = text
    return element


def _document(entity: str, timestamp: str, add_shape: Any) -> str:
    for prefix, namespace in (("", PIDF), ("gp", GEOPRIV), ("dm", DATA_MODEL), ("gml", GML), ("gs", SHAPES)):
        ET.register_namespace(prefix, namespace)
    presence = ET.Element(f"{{{PIDF}}}presence", {"entity": entity})
    device = _el(presence, DATA_MODEL, "device", id="incident")
    geopriv = _el(device, GEOPRIV, "geopriv")
    add_shape(_el(geopriv, GEOPRIV, "location-info"))
    _el(geopriv, GEOPRIV, "usage-rules")
    _el(geopriv, GEOPRIV, "method", "Manual")
    _el(device, DATA_MODEL, "timestamp", timestamp)
    return ET.tostring(presence, encoding="unicode")


def point_or_circle(entity: str, timestamp: str, latitude: float, longitude: float, radius_m: float | None) -> str:
    def add(info: ET.Element) -> None:
        if radius_m:
            circle = _el(info, SHAPES, "Circle", srsName=WGS84)
            _el(circle, GML, "pos", f"{latitude:.7f} {longitude:.7f}")
            _el(circle, SHAPES, "radius", f"{radius_m:.1f}", uom=METRES)
        else:
            point = _el(info, GML, "Point", srsName=WGS84)
            _el(point, GML, "pos", f"{latitude:.7f} {longitude:.7f}")

    return _document(entity, timestamp, add)


def polygon(entity: str, timestamp: str, geojson: dict[str, Any]) -> str:
    ring = [list(p) for p in geojson["coordinates"][0]]
    if ring[0] != ring[-1]:
        ring.append(ring[0])

    def add(info: ET.Element) -> None:
        shape = _el(info, GML, "Polygon", srsName=WGS84)
        linear = _el(_el(shape, GML, "exterior"), GML, "LinearRing")
        _el(linear, GML, "posList", " ".join(f"{lat:.7f} {lon:.7f}" for lon, lat, *_rest in ring))

    return _document(entity, timestamp, add)


def _numbers(text: str | None) -> list[float]:
    return [float(part) for part in (text or "").split()]


def read_shape(document: str) -> Shape | None:
    """The first shape of a PIDF-LO document, None when it has none this centre reads (or is not XML)."""
    if len(document.encode("utf-8")) > MAX_PIDF_BYTES:
        return None
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(document.encode("utf-8"), parser=parser)
    except etree.XMLSyntaxError:
        return None
    try:
        for element in root.iter(f"{{{GML}}}Point", f"{{{SHAPES}}}Circle", f"{{{GML}}}Polygon"):
            if element.tag == f"{{{GML}}}Polygon":
                values = _numbers(element.findtext(".//gml:posList", namespaces=_NS))
                if len(values) < 8 or len(values) % 2:
                    return None
                return Shape(ring=[[values[i + 1], values[i]] for i in range(0, len(values), 2)])
            position = _numbers(element.findtext("gml:pos", namespaces=_NS))
            if len(position) < 2:
                return None
            radius = element.find("gs:radius", namespaces=_NS)
            in_metres = radius is not None and radius.text and radius.get("uom", METRES) == METRES
            return Shape(
                latitude=position[0],
                longitude=position[1],
                radius_m=float(radius.text) if in_metres and radius is not None and radius.text else None,
            )
    except ValueError:
        return None
    return None
