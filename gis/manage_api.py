"""Management API of the map side (administrators only): cities with their service-area boundary, routing rules
and jurisdiction layers per city, and routing rules imported in bulk from CSV/XLSX with a dry run. Every write
goes through gis.actions or organisation.actions (audited).

    GET/POST /api/manage/cities/            GET/PATCH/PUT/DELETE /api/manage/cities/{id}/
        (boundary: a GeoJSON Polygon/MultiPolygon in WGS84, or null; DELETE only while nothing refers to the city)
    GET/POST /api/manage/routing-rules/     GET/PATCH/PUT/DELETE /api/manage/routing-rules/{id}/   (?city=<code>)
    GET /api/manage/layers/  (?city=<code>)  GET /api/manage/layers/{id}/  POST /api/manage/layers/{id}/activate/
    POST /api/manage/layers/import/         (file, level, city, code_field, name_field, dry_run, activate)
    POST /api/manage/import/routing-rules/  (file, dry_run, replace, city)
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from django.db.models import QuerySet
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import InvalidInput
from gis import actions
from gis.boundaries import BOUNDARY_SCHEMA, boundary_as_geojson
from gis.importer import read_layer
from gis.models import JurisdictionLayer, Level, RoutingRule
from organisation import actions as organisation_actions
from organisation import imports
from organisation.manage_api import (
    CITY_PARAM,
    AdministratorsOnly,
    ImportInput,
    ManagedCitySerializer,
    ManagedViewSet,
    by_city,
    read_upload,
)
from organisation.models import Agency, City, Subject, default_city_id
from organisation.policy import current_user

CODE = "code"


@extend_schema_field(BOUNDARY_SCHEMA)
class BoundaryField(serializers.Field):
    """The stored WKB as GeoJSON; GeoJSON in, checked by gis.actions.check_city_boundary (null clears it)."""

    def to_internal_value(self, data: Any) -> bytes | None:
        try:
            return actions.check_city_boundary(data)
        except InvalidInput as refused:
            raise serializers.ValidationError(refused.fields["boundary"]) from None

    def to_representation(self, value: Any) -> dict[str, Any] | None:
        return boundary_as_geojson(value)


class ManagedCityWithBoundarySerializer(ManagedCitySerializer):
    """A city: its code, names, administrative code and explicit service area (boundary)."""

    boundary = BoundaryField(source="boundary_wkb", allow_null=True, required=False)

    class Meta(ManagedCitySerializer.Meta):
        fields = [*ManagedCitySerializer.Meta.fields, "boundary"]


class CityViewSet(mixins.DestroyModelMixin, ManagedViewSet):
    """Cities: their codes, names and explicit service areas. A new boundary routes the next lookup in every
    process; a city is deleted only while nothing refers to it (409 naming what does), else deactivated."""

    serializer_class = ManagedCityWithBoundarySerializer
    pagination_class = None

    def get_queryset(self) -> QuerySet[City]:
        return City.objects.order_by("sort_order", "pk")

    def _apply(self, instance: City, data: dict[str, Any]) -> None:
        self._boundary = data.pop("boundary_wkb", actions.KEEP_BOUNDARY)
        super()._apply(instance, data)

    def save(self, instance: City, changed: list[str], request: Request) -> None:
        actions.do_save_city(instance, actor=current_user(request), changed=changed, boundary=self._boundary)

    def perform_destroy(self, instance: City) -> None:
        organisation_actions.do_delete_city(instance.pk, actor=current_user(self.request))


class ManagedRoutingRuleSerializer(serializers.ModelSerializer):
    city = serializers.SlugRelatedField(slug_field=CODE, queryset=City.objects.all(), allow_null=True, required=False)
    subject = serializers.SlugRelatedField(
        slug_field=CODE, queryset=Subject.objects.filter(is_leaf=True), allow_null=True, required=False
    )
    lead_agency = serializers.SlugRelatedField(
        slug_field=CODE, queryset=Agency.objects.all(), allow_null=True, required=False
    )
    co_agencies = serializers.SlugRelatedField(
        slug_field=CODE, queryset=Agency.objects.all(), many=True, required=False
    )

    class Meta:
        model = RoutingRule
        fields = [
            "id",
            "city",
            "subject",
            "jurisdiction_code",
            "level",
            "lead_agency",
            "lead_function",
            "co_agencies",
            "priority",
            "prefer",
            "active",
            "note",
        ]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        def current(name: str) -> Any:
            return attrs[name] if name in attrs else getattr(self.instance, name, None)

        errors: dict[str, list[str]] = {}
        if not current("jurisdiction_code") and not current("level"):
            errors["level"] = [_("Name a jurisdiction code or a level.")]
        if current("lead_agency") is None and not current("lead_function"):
            errors["lead_agency"] = [_("Name a lead agency or a lead agency function.")]
        city = current("city")
        default_id = default_city_id()
        city_id = (city.pk if city else None) or default_id
        co = (
            attrs["co_agencies"]
            if "co_agencies" in attrs
            else (list(self.instance.co_agencies.all()) if self.instance else [])
        )
        for name, agencies in (("lead_agency", [current("lead_agency")]), ("co_agencies", co)):
            if any(a is not None and (a.city_id or default_id) != city_id for a in agencies):
                errors.setdefault(name, []).append(_("An agency of another city."))
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


@extend_schema(parameters=[CITY_PARAM])
class RoutingRuleViewSet(viewsets.ModelViewSet):
    permission_classes = [AdministratorsOnly]
    serializer_class = ManagedRoutingRuleSerializer
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[RoutingRule]:
        rules = RoutingRule.objects.select_related("city", "subject", "lead_agency").prefetch_related("co_agencies")
        return by_city(rules.order_by("-prefer", "-priority", "id"), self.request)

    def _save(self, serializer: Any) -> None:
        data = dict(serializer.validated_data)
        co_agencies = data.pop("co_agencies", None)
        rule = serializer.instance or RoutingRule()
        changed = sorted(n for n, v in data.items() if rule.pk is None or getattr(rule, n) != v)
        for name, value in data.items():
            setattr(rule, name, value)
        if rule.pk is None and rule.city is None:
            rule.city = City.objects.order_by("pk").first()  # the default city, if there is one
        actions.do_save_routing_rule(
            rule, actor=current_user(self.request), changed=[*changed, *(["co_agencies"] if co_agencies else [])]
        )
        if co_agencies is not None:
            rule.co_agencies.set(co_agencies)
        serializer.instance = rule

    def perform_create(self, serializer: Any) -> None:
        self._save(serializer)

    def perform_update(self, serializer: Any) -> None:
        self._save(serializer)

    def perform_destroy(self, instance: RoutingRule) -> None:
        actions.do_delete_routing_rules([instance], actor=current_user(self.request))


class ManagedLayerSerializer(serializers.ModelSerializer):
    city: serializers.SlugRelatedField[City] = serializers.SlugRelatedField(slug_field=CODE, read_only=True)

    class Meta:
        model = JurisdictionLayer
        fields = [
            "id",
            "city",
            "level",
            "version",
            "name",
            "source",
            "generated",
            "active",
            "feature_count",
            "report",
            "created_at",
            "activated_at",
        ]
        read_only_fields = fields


class LayerImportInput(serializers.Serializer):
    file = serializers.FileField()
    level = serializers.ChoiceField(choices=Level.choices)
    city = serializers.SlugRelatedField(slug_field=CODE, queryset=City.objects.all(), required=False, allow_null=True)
    name = serializers.CharField(max_length=120, required=False, allow_blank=True)
    code_field = serializers.CharField(max_length=60)
    name_field = serializers.CharField(max_length=60)
    parent_field = serializers.CharField(max_length=60, required=False, allow_blank=True)
    activate = serializers.BooleanField(default=True)
    dry_run = serializers.BooleanField(default=False)


@extend_schema(parameters=[CITY_PARAM])
class LayerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Jurisdiction layers of every city; activating a version switches only its own city's routing."""

    permission_classes = [AdministratorsOnly]
    serializer_class = ManagedLayerSerializer
    pagination_class = None

    def get_queryset(self) -> QuerySet[JurisdictionLayer]:
        return by_city(
            JurisdictionLayer.objects.select_related("city").order_by("city", "level", "-version"), self.request
        )

    @extend_schema(request=None, responses=ManagedLayerSerializer)
    @action(detail=True, methods=["post"])
    def activate(self, request: Request, pk: str) -> Response:
        layer = self.get_object()
        return Response(ManagedLayerSerializer(actions.do_activate_layer(layer.pk)).data)

    @extend_schema(
        request={"multipart/form-data": LayerImportInput}, responses={200: dict, 201: ManagedLayerSerializer}
    )
    @action(detail=False, methods=["post"], url_path="import", parser_classes=[MultiPartParser, FormParser])
    def import_layer(self, request: Request) -> Response:
        """A new version of a level's layer for one city, from GeoJSON, GeoPackage or a zipped Shapefile. A dry
        run returns the checks' report and writes nothing."""
        form = LayerImportInput(data=request.data)
        if not form.is_valid():
            raise InvalidInput(
                _("Some fields are not valid."), fields={k: [str(m) for m in v] for k, v in form.errors.items()}
            )
        data = form.validated_data
        upload = data["file"]
        name = Path(upload.name or "layer").name
        with tempfile.TemporaryDirectory(prefix="layer-upload-") as folder:
            target = Path(folder) / (get_valid_filename(name) if name.strip("._-") else "layer.geojson")
            with target.open("wb") as out:
                for chunk in upload.chunks():
                    out.write(chunk)
            # A refused layer is a 400 naming every problem (LayerRefused is an InvalidInput).
            prepared = read_layer(
                target,
                code_field=data["code_field"].strip(),
                name_field=data["name_field"].strip(),
                parent_field=(data.get("parent_field") or "").strip() or None,
            )
        if data["dry_run"]:
            return Response({"dry_run": True, "features": len(prepared.features), "report": prepared.report})
        layer = actions.do_import_layer(
            prepared,
            level=data["level"],
            name=(data.get("name") or "").strip() or name[:120],
            source=name[:300],
            activate=data["activate"],
            city=data.get("city"),
        )
        return Response(ManagedLayerSerializer(layer).data, status=201)


class RuleImportInput(serializers.Serializer):
    replace = serializers.BooleanField(default=False)


class RuleImportForm(ImportInput, RuleImportInput):
    """The whole form, for the schema: the file, dry_run and city of every import, and replace."""


class RoutingRuleImportView(APIView):
    """Routing rules from a CSV/XLSX file (columns as gis/data/routing_rules.csv, plus ``city``)."""

    permission_classes = [AdministratorsOnly]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": RuleImportForm},
        responses={200: dict},
        description="A dry run (dry_run=true) returns what the file would change and writes nothing.",
    )
    def post(self, request: Request) -> Response:
        form, header, rows = read_upload(request)
        options = RuleImportInput(data=request.data)
        options.is_valid(raise_exception=True)
        plan: imports.ImportPlan = actions.do_import_routing_rule_rows(
            header,
            rows,
            replace=options.validated_data["replace"],
            actor=current_user(request),
            city=form.get("city"),
            dry_run=form["dry_run"],
        )
        return Response(plan.as_dict())
