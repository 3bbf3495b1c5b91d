"""The admin pages of the geo app: layer upload and activation, routing rules, and every page loading."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from django.contrib import messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from callcenter.models import TicketPlacement
from gis.actions import GazetteerRow, do_import_routing_rules, do_replace_gazetteer
from gis.models import GazetteerEntry, Jurisdiction, JurisdictionLayer, RoutingRule
from gis.routing import place
from organisation.actions import do_upsert_user
from organisation.models import Role, Subject
from tests.conftest import World, ticket_payload
from tests.geo.importer.helpers import (
    BOW_TIE,
    LAT,
    LON,
    STEP,
    admin_client,
    cell,
    frame,
    import_features,
    levels_of,
    three_streets,
    upload,
    upload_url,
    write_geojson,
    zipped_shapefile,
)
from tests.second_factor import verified_login

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response


# --- (j) the admin --------------------------------------------------------------------------------------------


def test_admin_upload_of_a_valid_layer(world: World, tmp_path: Path) -> None:
    client = admin_client(world)
    changelist = client.get(reverse("admin:geo_jurisdictionlayer_changelist"))
    assert changelist.status_code == 200 and upload_url() in changelist.content.decode()
    assert client.get(upload_url()).status_code == 200

    path = write_geojson(
        tmp_path / "街道.geojson",
        [
            ({"code": "S1", "name": "城中", "parent": "D1"}, cell(0, 0)),
            ({"code": "S2", "name": "公园", "parent": "D1"}, cell(0.5, 0)),
        ],
    )
    response = upload(client, path, parent_field="parent", activate="on")

    layer = JurisdictionLayer.objects.get(level="street")
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:geo_jurisdictionlayer_change", args=[layer.pk])
    assert (layer.version, layer.active, layer.feature_count, layer.name, layer.source) == (
        1,
        True,
        2,
        "街道.geojson",
        "街道.geojson",
    )
    assert messages.SUCCESS in levels_of(response)
    assert messages.WARNING in levels_of(response)  # the overlap between S1 and S2
    assert Jurisdiction.objects.get(layer=layer, code="S2").parent_code == "D1"
    page = client.get(response["Location"]).content.decode()
    assert "Overlap between S1 and S2" in page


def test_admin_upload_of_a_broken_layer_shows_the_problems_and_writes_nothing(world: World, tmp_path: Path) -> None:
    client = admin_client(world)
    path = write_geojson(
        tmp_path / "broken.geojson",
        [({"code": "OK", "name": "好"}, cell(0, 0)), ({"code": "BAD", "name": "坏"}, BOW_TIE)],
    )
    response = upload(client, path)
    assert response.status_code == 200
    assert "feature 2 (BAD 坏)" in response.content.decode()
    assert any("BAD" in error for error in response.context["form"].errors["file"])
    assert JurisdictionLayer.objects.count() == 0 and Jurisdiction.objects.count() == 0


def test_admin_upload_form_errors(world: World, tmp_path: Path) -> None:
    client = admin_client(world)
    text = tmp_path / "streets.csv"
    text.write_text("code,name\n1,a\n")
    assert "file" in upload(client, text).context["form"].errors

    data = frame([{"code": "S1", "name": "一"}], [cell(0, 0)], "EPSG:4326").to_crs(epsg=32649)
    archive = zipped_shapefile(tmp_path, data, with_prj=False)
    no_crs = upload(client, archive)
    assert no_crs.status_code == 200 and "assume_crs" in no_crs.context["form"].errors
    bad_crs = upload(client, archive, assume_crs="EPSG:999999")
    assert bad_crs.status_code == 200 and "assume_crs" in bad_crs.context["form"].errors
    no_field = upload(client, three_streets(tmp_path), code_field="adcode")
    assert no_field.status_code == 200 and "code_field" in no_field.context["form"].errors
    assert JurisdictionLayer.objects.count() == 0

    assumed = upload(client, archive, assume_crs="EPSG:32649", name="UTM")
    assert assumed.status_code == 302
    layer = JurisdictionLayer.objects.get()
    assert layer.name == "UTM" and layer.active is False  # the activate box was left unticked


def test_admin_pages_need_the_permissions(world: World, tmp_path: Path) -> None:
    staff = do_upsert_user(username="staff", password=None, roles=[Role.OPERATOR], agency_code="centre", is_staff=True)
    client = Client()
    verified_login(client, staff)
    assert client.get(upload_url()).status_code == 403
    assert client.get(reverse("admin:geo_routingrule_import")).status_code == 403


def test_admin_activate_action(world: World) -> None:
    client = admin_client(world)
    first = import_features("street", ("S", cell(0, 0)))
    second = import_features("street", ("S", cell(1, 0)), activate=False)
    district = import_features("district", ("D", cell(0, 0, width=2)), activate=False)
    changelist = reverse("admin:geo_jurisdictionlayer_changelist")

    def act(*layers: JurisdictionLayer) -> Response:
        selected = [str(layer.pk) for layer in layers]
        response = client.post(
            changelist, {"action": "activate_layer", "index": "0", "_selected_action": selected}, follow=True
        )
        assert response.redirect_chain == [(changelist, 302)]
        return response

    refused = act(first, second)
    assert levels_of(refused) == [messages.ERROR]
    assert list(JurisdictionLayer.objects.filter(active=True)) == [first]

    done = act(second, district)
    assert levels_of(done) == [messages.SUCCESS, messages.SUCCESS]
    assert set(JurisdictionLayer.objects.filter(active=True)) == {second, district}
    assert place(LON + 1.5 * STEP, LAT + 0.5 * STEP).code("street") == "S"
    assert place(LON + 0.5 * STEP, LAT + 0.5 * STEP).code("street") == ""


RULES_CSV = (
    "\ufeffsubject,jurisdiction_code,level,lead_agency,lead_function,co_agencies,priority,prefer,note\n"
    "t-garbage,450202,,cgj,,zjj|sjj,5,yes,城中区垃圾\n"
    ",,district,,urban_management,,0,,\n"
)


def test_admin_routing_rules_csv_import(world: World) -> None:
    client = admin_client(world)
    url = reverse("admin:geo_routingrule_import")
    changelist = client.get(reverse("admin:geo_routingrule_changelist"))
    assert changelist.status_code == 200 and url in changelist.content.decode()
    assert client.get(url).status_code == 200

    bad = "subject,lead_agency,lead_function\nt-garbage,nope,\nt-nothing,cgj,\n"
    response = client.post(url, {"file": SimpleUploadedFile("rules.csv", bad.encode())})
    assert response.status_code == 200
    assert response.context["form"].errors["file"] == [
        "line 2: name a jurisdiction_code or a level; unknown agency nope; name a lead_agency or a lead_function",
        "line 3: unknown subject t-nothing; name a jurisdiction_code or a level",
    ]
    missing = client.post(url, {"file": SimpleUploadedFile("rules.csv", b"subject,level\nt-garbage,grid\n")})
    assert missing.status_code == 200 and "lead_agency" in missing.content.decode()
    assert RoutingRule.objects.count() == 0

    # UTF-8 with a byte-order mark (as Excel saves it), then GB18030 with replace.
    ok = client.post(url, {"file": SimpleUploadedFile("rules.csv", RULES_CSV.encode("utf-8"))})
    assert ok.status_code == 302 and levels_of(ok) == [messages.SUCCESS]
    rule = RoutingRule.objects.get(jurisdiction_code="450202")
    assert (rule.subject.code if rule.subject else None, rule.lead_agency, rule.priority, rule.prefer) == (
        "t-garbage",
        world.agency_a,
        5,
        True,
    )
    assert {a.code for a in rule.co_agencies.all()} == {"zjj", "sjj"}
    assert RoutingRule.objects.count() == 2
    gbk_bytes = RULES_CSV.removeprefix("\ufeff").encode("gb18030")
    gbk = client.post(url, {"file": SimpleUploadedFile("rules.csv", gbk_bytes), "replace": "on"})
    assert gbk.status_code == 302
    assert RoutingRule.objects.count() == 2 and RoutingRule.objects.filter(note="城中区垃圾").count() == 1


def test_admin_routing_rule_form(world: World) -> None:
    client = admin_client(world)
    add = reverse("admin:geo_routingrule_add")
    assert client.get(add).status_code == 200
    base = {"priority": "0", "active": "on", "subject": "", "lead_agency": "", "co_agencies": []}
    nothing = client.post(add, {**base, "jurisdiction_code": "", "level": "", "lead_function": ""})
    assert nothing.status_code == 200
    errors = nothing.context["adminform"].form.errors
    assert {"jurisdiction_code", "level", "lead_function"} <= set(errors)
    parent = client.post(
        add, {**base, "level": "district", "lead_function": "housing", "subject": _subject_pk("t-urban")}
    )
    assert parent.status_code == 200 and "subject" in parent.context["adminform"].form.errors
    assert RoutingRule.objects.count() == 0

    saved = client.post(
        add,
        {
            **base,
            "subject": _subject_pk("t-garbage"),
            "jurisdiction_code": "450202001",
            "lead_agency": str(world.agency_a.pk),
            "co_agencies": [str(world.agency_b.pk)],
        },
    )
    assert saved.status_code == 302
    rule = RoutingRule.objects.get()
    assert rule.lead_agency == world.agency_a and list(rule.co_agencies.all()) == [world.agency_b]
    # The autocomplete widgets work: both related admins have search fields.
    for field, term in (("subject", "垃圾"), ("lead_agency", "cgj")):
        found = client.get(
            reverse("admin:autocomplete"),
            {"app_label": "geo", "model_name": "routingrule", "field_name": field, "term": term},
        )
        assert found.status_code == 200 and found.json()["results"], field


def _subject_pk(code: str) -> str:
    return str(Subject.objects.get(code=code).pk)


def test_every_geo_admin_page_loads(world: World) -> None:
    client = admin_client(world)
    layer = import_features("district", ("450202", cell(0, 0)))
    do_import_routing_rules("subject,level,lead_agency,lead_function\n,district,,urban_management\n")
    row = GazetteerRow("文惠路", "文惠路", "road", "城中区", latitude=LAT, longitude=LON, generated=False)
    do_replace_gazetteer([row], source="test")
    ticket = world.client("operator").post(
        "/api/tickets/",
        {**ticket_payload(), "latitude": LAT + 0.5 * STEP, "longitude": LON + 0.5 * STEP},
        format="json",
    )
    assert ticket.status_code == 201
    assert TicketPlacement.objects.get().district_code == "450202"
    for model in (JurisdictionLayer, Jurisdiction, RoutingRule, GazetteerEntry, TicketPlacement):
        opts = model._meta
        listing = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        assert listing.status_code == 200, opts.model_name
        first = model._default_manager.first()
        if first is not None:
            page = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[first.pk]))
            assert page.status_code == 200, opts.model_name
    assert Jurisdiction.objects.get(layer=layer).code == "450202"
    filtered = client.get(
        reverse("admin:geo_jurisdiction_changelist"), {"layer__id__exact": str(layer.pk), "q": "4502"}
    )
    assert filtered.status_code == 200 and "450202" in filtered.content.decode()
    assert client.get(reverse("admin:geo_jurisdictionlayer_add")).status_code == 403
