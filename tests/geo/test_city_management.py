"""The management API of cities, agencies, users, routing rules and layers, and bulk import from CSV/XLSX with a
dry run: administrators only, audited, bad input a 400 with field errors that changes nothing."""

from __future__ import annotations

import io
import json

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from gis.models import JurisdictionLayer, RoutingRule
from gis.routing import decide, place
from organisation.models import Agency, AuditEntry, City, Subject, User
from tests.conftest import World


@pytest.fixture
def beta(world: World) -> City:
    admin = world.client("admin")
    # The first city is the default one: the world's agencies, naming no city, are its.
    assert admin.post("/api/manage/cities/", {"code": "home", "name": "本市"}, format="json").status_code == 201
    created = admin.post("/api/manage/cities/", {"code": "beta", "name": "乙市", "adcode": "200100"}, format="json")
    assert created.status_code == 201, created.content
    return City.objects.get(code="beta")


def _upload(content: bytes, name: str = "rows.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)


def test_only_administrators_manage(world: World) -> None:
    for who in ("operator", "dispatcher", "supervisor", "handler_a"):
        client = world.client(who)
        assert client.get("/api/manage/agencies/").status_code == 403, who
        assert client.post("/api/manage/cities/", {"code": "x", "name": "x"}, format="json").status_code == 403
        assert client.post("/api/manage/import/agencies/", {"file": _upload(b"code\nx\n")}).status_code == 403
    assert not City.objects.exists()


def test_cities_agencies_and_users_through_the_api(world: World, beta: City) -> None:
    admin = world.client("admin")
    assert AuditEntry.objects.filter(action="city_created", target_id=beta.pk).exists()
    duplicate = admin.post("/api/manage/cities/", {"code": "beta", "name": ""}, format="json")
    assert duplicate.status_code == 400 and {"code", "name"} <= set(duplicate.json()["fields"])

    agency = {"code": "beta-cgj", "name": "乙市城管局", "kind": "department", "function": "urban_management"}
    bad = admin.post("/api/manage/agencies/", {**agency, "kind": "castle", "city": "nowhere"}, format="json")
    assert bad.status_code == 400 and {"kind", "city"} <= set(bad.json()["fields"])
    made = admin.post("/api/manage/agencies/", {**agency, "city": "beta", "adcode": "200100"}, format="json")
    assert made.status_code == 201 and made.json()["city"] == "beta"
    row = Agency.objects.get(code="beta-cgj")
    assert row.city == beta and AuditEntry.objects.filter(action="agency_created", target_id=row.pk).exists()
    changed = admin.patch(f"/api/manage/agencies/{row.pk}/", {"active": False}, format="json")
    assert changed.status_code == 200 and not Agency.objects.get(pk=row.pk).active
    assert [a["code"] for a in admin.get("/api/manage/agencies/?city=beta").json()["results"]] == ["beta-cgj"]
    assert admin.get("/api/manage/agencies/?city=nowhere").status_code == 400

    user = {"username": "beta_op", "roles": ["operator"], "city": "beta", "password": "short"}
    weak = admin.post("/api/manage/users/", user, format="json")
    assert weak.status_code == 400 and "password" in weak.json()["fields"]
    wrong_role = admin.post("/api/manage/users/", {**user, "roles": ["king"], "password": None}, format="json")
    assert wrong_role.status_code == 400 and "roles" in wrong_role.json()["fields"]
    made_user = admin.post("/api/manage/users/", {**user, "password": "a-long-Passphrase-42"}, format="json")
    assert made_user.status_code == 201 and "password" not in made_user.json()
    stored = User.objects.get(username="beta_op")
    assert stored.check_password("a-long-Passphrase-42") and stored.home_city_id == beta.pk
    promoted = admin.patch(f"/api/manage/users/{stored.pk}/", {"roles": ["operator", "dispatcher"]}, format="json")
    assert promoted.status_code == 200
    assert AuditEntry.objects.filter(action="role_changed", target_id=stored.pk).exists()
    assert [u["username"] for u in admin.get("/api/manage/users/?city=beta").json()["results"]] == ["beta_op"]


def test_routing_rules_and_layers_through_the_api(world: World, beta: City) -> None:
    admin = world.client("admin")
    Agency.objects.filter(code="sjj").update(city=beta)
    geojson = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": "B1", "name": "乙一区"},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [[110.28, 25.26], [110.34, 25.26], [110.34, 25.30], [110.28, 25.30], [110.28, 25.26]]
                    ],
                },
            }
        ],
    }
    form = {"level": "district", "city": "beta", "code_field": "code", "name_field": "name"}
    upload = json.dumps(geojson).encode()
    dry = admin.post("/api/manage/layers/import/", {**form, "dry_run": "true", "file": _upload(upload, "b.geojson")})
    assert dry.status_code == 200 and dry.json()["features"] == 1 and not JurisdictionLayer.objects.exists()
    broken = admin.post("/api/manage/layers/import/", {**form, "file": _upload(b"{not json", "b.geojson")})
    assert broken.status_code == 400 and not JurisdictionLayer.objects.exists()
    made = admin.post("/api/manage/layers/import/", {**form, "file": _upload(upload, "b.geojson")})
    assert made.status_code == 201 and made.json()["city"] == "beta" and made.json()["active"]
    assert admin.get("/api/manage/layers/?city=beta").json()[0]["id"] == made.json()["id"]

    rule = {"city": "beta", "subject": "t-garbage", "jurisdiction_code": "B1", "lead_agency": "cgj", "priority": 3}
    foreign = admin.post("/api/manage/routing-rules/", rule, format="json")
    assert foreign.status_code == 400 and "lead_agency" in foreign.json()["fields"]  # cgj is the default city's
    neither = admin.post("/api/manage/routing-rules/", {"city": "beta", "lead_agency": "sjj"}, format="json")
    assert neither.status_code == 400 and "level" in neither.json()["fields"]
    made_rule = admin.post("/api/manage/routing-rules/", {**rule, "lead_agency": "sjj"}, format="json")
    assert made_rule.status_code == 201, made_rule.content
    decision = decide(Subject.objects.get(code="t-garbage"), place(110.31, 25.28))
    assert decision.lead is not None and decision.lead.code == "sjj" and decision.rule_id == made_rule.json()["id"]
    deleted = admin.delete(f"/api/manage/routing-rules/{made_rule.json()['id']}/")
    assert deleted.status_code == 204 and not RoutingRule.objects.exists()
    assert AuditEntry.objects.filter(action="routing_rule_deleted").exists()


AGENCIES_CSV = (
    "code,name,kind,function,parent,city,adcode,active\n"
    "beta-gov,乙市政府,district,district_government,,beta,B1,yes\n"
    "beta-gov-office,乙市政府办,department,civil_affairs,beta-gov,beta,B1,\n"
    "cgj,市城管局,department,urban_management,,,,\n"  # as stored: unchanged
    "zjj,市住房和城乡建设局,department,housing,,,,\n"  # a new name: an update
)


def test_import_agencies_with_a_dry_run(world: World, beta: City) -> None:
    admin = world.client("admin")
    before = Agency.objects.count()
    dry = admin.post("/api/manage/import/agencies/", {"file": _upload(AGENCIES_CSV.encode()), "dry_run": "true"})
    assert dry.status_code == 200, dry.content
    plan = dry.json()
    assert plan["dry_run"] is True and plan["counts"] == {"create": 2, "update": 1, "unchanged": 1, "delete": 0}
    actions = {row["key"]: (row["action"], row["changes"]) for row in plan["rows"]}
    assert actions["zjj"] == ("update", {"name": ["市住建局", "市住房和城乡建设局"]})
    assert actions["beta-gov-office"][1]["parent"] == [None, "beta-gov"]
    assert Agency.objects.count() == before and Agency.objects.get(code="zjj").name == "市住建局"

    applied = admin.post("/api/manage/import/agencies/", {"file": _upload(AGENCIES_CSV.encode("gb18030"))})
    assert applied.status_code == 200 and applied.json()["applied"] is True
    office = Agency.objects.get(code="beta-gov-office")
    assert office.parent is not None and office.parent.code == "beta-gov" and office.city == beta
    assert Agency.objects.get(code="zjj").name == "市住房和城乡建设局"
    assert AuditEntry.objects.filter(action="agency_created", target_id=office.pk).exists()
    again = admin.post("/api/manage/import/agencies/", {"file": _upload(AGENCIES_CSV.encode()), "dry_run": "1"})
    assert again.json()["counts"]["unchanged"] == 4

    bad = "code,name,kind,function,parent,city,colour\nnew-one,新,castle,housing,missing,nowhere,red\nnew-one,,,,,,\n"
    refused = admin.post("/api/manage/import/agencies/", {"file": _upload(bad.encode())})
    assert refused.status_code == 400
    # The rows' problems in the default language, Chinese...
    problems = " ".join(refused.json()["fields"]["rows"])
    for expected in (
        "未知列 colour",
        "第 2 行：未知上级单位 missing",
        "第 2 行：未知城市 nowhere",
        "第 3 行：代码 new-one 出现了两次",
    ):
        assert expected in problems, expected
    # ... and in English for an administrator who chose it.
    admin.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    refused = admin.post("/api/manage/import/agencies/", {"file": _upload(bad.encode())})
    assert refused.status_code == 400
    problems = " ".join(refused.json()["fields"]["rows"])
    for expected in (
        "unknown column colour",
        "line 2: unknown parent agency missing",
        "line 2: unknown city nowhere",
        "line 2: kind",
        "line 3: code new-one appears twice",
    ):
        assert expected in problems, expected
    assert not Agency.objects.filter(code="new-one").exists()


def _xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_import_users_and_routing_rules_from_xlsx(world: World, beta: City) -> None:
    admin = world.client("admin")
    Agency.objects.filter(code="sjj").update(city=beta)
    users = _xlsx(
        [
            ["username", "first_name", "roles", "agency", "city", "extension"],
            ["beta_op", "乙市话务员", "operator", "", "beta", 8001],
            ["beta_handler", "乙市承办人", "agency_handler", "sjj", "", ""],
            ["operator", "", "operator|dispatcher", "centre", "", ""],
        ]
    )
    dry = admin.post("/api/manage/import/users/", {"file": _upload(users, "users.xlsx"), "dry_run": "true"})
    assert dry.status_code == 200, dry.content
    assert dry.json()["counts"] == {"create": 2, "update": 1, "unchanged": 0, "delete": 0}
    assert not User.objects.filter(username="beta_op").exists()
    applied = admin.post("/api/manage/import/users/", {"file": _upload(users, "users.xlsx")})
    assert applied.status_code == 200
    new = User.objects.get(username="beta_op")
    assert new.city == beta and new.extension == "8001" and not new.has_usable_password()
    assert sorted(User.objects.get(username="operator").roles) == ["dispatcher", "operator"]
    assert AuditEntry.objects.filter(action="role_changed", target_id=world.users["operator"].pk).exists()

    rules = _xlsx(
        [
            ["city", "subject", "level", "jurisdiction_code", "lead_agency", "lead_function", "priority"],
            ["beta", "t-garbage", "", "B1", "sjj", "", 2],
            ["beta", "t-property", "district", "", "cgj", "", 1],
        ]
    )
    refused = admin.post("/api/manage/import/routing-rules/", {"file": _upload(rules, "rules.xlsx")})
    assert refused.status_code == 400 and refused.json()["fields"]["rows"] == ["第 3 行：单位 cgj 属于其他城市"]
    admin.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    refused = admin.post("/api/manage/import/routing-rules/", {"file": _upload(rules, "rules.xlsx")})
    assert refused.status_code == 400 and refused.json()["fields"]["rows"] == [
        "line 3: agency cgj belongs to another city"
    ]
    good = _xlsx(
        [
            ["city", "subject", "level", "jurisdiction_code", "lead_agency", "lead_function", "priority"],
            ["beta", "t-garbage", "", "B1", "sjj", "", 2],
        ]
    )
    dry_rules = admin.post("/api/manage/import/routing-rules/", {"file": _upload(good, "r.xlsx"), "dry_run": "true"})
    assert dry_rules.status_code == 200 and dry_rules.json()["counts"]["create"] == 1
    assert not RoutingRule.objects.exists()
    done = admin.post("/api/manage/import/routing-rules/", {"file": _upload(good, "r.xlsx")})
    assert done.status_code == 200 and RoutingRule.objects.get().city == beta
    unreadable = admin.post("/api/manage/import/users/", {"file": _upload(b"PK\x03\x04garbage", "u.xlsx")})
    assert unreadable.status_code == 400 and "file" in unreadable.json()["fields"]
    missing = admin.post("/api/manage/import/users/", {})
    assert missing.status_code == 400 and "file" in missing.json()["fields"]
