"""Admin pages of the GIS side: layer versions (upload, activate), jurisdictions, routing rules (edit, import
from CSV), the gazetteer and ticket placements.

Layer imports, activations and rule imports go through ``gis.actions`` like every other write; layers,
jurisdictions, gazetteer entries and placements are read-only here.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import shapely
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, SuspiciousFileOperation
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst, get_valid_filename
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from pyproj import CRS
from pyproj.exceptions import CRSError

from core.admin import ReadOnlyAdmin
from core.errors import DomainError
from gis.actions import (
    RULE_COLUMNS,
    do_activate_layer,
    do_delete_routing_rules,
    do_import_layer,
    do_import_routing_rules,
    do_save_routing_rule,
)
from gis.importer import LayerRefused, approximate_area_m2, read_layer
from gis.management.commands.import_jurisdictions import refused_problems, report_lines
from gis.models import GazetteerEntry, Jurisdiction, JurisdictionLayer, Level, RoutingRule
from organisation.models import AgencyFunction, City
from organisation.policy import acting_user

LAYER_SUFFIXES = (".geojson", ".json", ".gpkg", ".zip")
#: More report lines than this become one "and N more" message; the layer's page shows them all.
MAX_REPORT_MESSAGES = 20
IMPORT_TEMPLATE = "admin/geo/import_form.html"
LAYER_NAME_MAX_LENGTH = JurisdictionLayer._meta.get_field("name").max_length or 120
SOURCE_MAX_LENGTH = JurisdictionLayer._meta.get_field("source").max_length or 300

LAYER_FIELDS = (
    "level",
    "version",
    "name",
    "source",
    "source_crs",
    "generated",
    "active",
    "feature_count",
    "created_at",
    "activated_at",
    "report_summary",
)
JURISDICTION_FIELDS = ("layer", "code", "name", "parent_code", "geometry_summary", "properties")

COORDINATE_SYSTEMS = [
    ("wgs84", _("WGS84 (GPS, OpenStreetMap, surveyed data)")),
    ("gcj02", _("GCJ-02 (AMap/Gaode, Tencent)")),
    ("bd09", _("BD-09 (Baidu)")),
]


# --- Jurisdiction layers --------------------------------------------------------------------------------------


class LayerUploadForm(forms.Form):
    file = forms.FileField(
        label=capfirst(_("file")),
        help_text=_("GeoJSON (.geojson, .json), GeoPackage (.gpkg) or a zipped Shapefile (.zip)."),
    )
    level = forms.ChoiceField(label=capfirst(_("level")), choices=Level.choices)
    name = forms.CharField(
        label=capfirst(_("layer name")),
        max_length=LAYER_NAME_MAX_LENGTH,
        required=False,
        help_text=_("Empty: the file name."),
    )
    code_field = forms.CharField(label=capfirst(_("code attribute")), max_length=100, initial="code")
    name_field = forms.CharField(label=capfirst(_("name attribute")), max_length=100, initial="name")
    parent_field = forms.CharField(
        label=capfirst(_("parent code attribute")),
        max_length=100,
        required=False,
        help_text=_("Optional: the attribute holding the code of the containing jurisdiction."),
    )
    layer = forms.CharField(
        label=capfirst(_("layer in the file")),
        max_length=200,
        required=False,
        help_text=_("GeoPackage with several layers only; empty: the first layer."),
    )
    coordinate_system = forms.ChoiceField(
        label=capfirst(_("coordinate system")),
        choices=COORDINATE_SYSTEMS,
        initial="wgs84",
        help_text=_("GCJ-02 and BD-09 coordinates are converted to WGS84."),
    )
    assume_crs = forms.CharField(
        label=capfirst(_("assumed CRS")),
        max_length=100,
        required=False,
        help_text=_("Only for a file that does not name its CRS (e.g. a Shapefile without .prj): EPSG:4326."),
    )
    activate = forms.BooleanField(
        label=capfirst(_("activate")),
        required=False,
        initial=True,
        help_text=_("Switch routing to this version at once."),
    )
    city = forms.ModelChoiceField(
        label=capfirst(_("city")),
        queryset=City.objects.all(),
        required=False,
        help_text=_("Empty: the default city (the first one)."),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if Path(upload.name).suffix.lower() not in LAYER_SUFFIXES:
            raise forms.ValidationError(
                gettext("Upload a GeoJSON, a GeoPackage or a zipped Shapefile (%(suffixes)s).")
                % {"suffixes": ", ".join(LAYER_SUFFIXES)}
            )
        return upload

    def clean_assume_crs(self) -> str:
        value: str = self.cleaned_data["assume_crs"].strip()
        if value:
            try:
                CRS.from_user_input(value)
            except CRSError as exc:
                raise forms.ValidationError(
                    gettext("Unknown coordinate reference system: %(crs)s.") % {"crs": value}
                ) from exc
        return value


def _add_refusal(form: LayerUploadForm, exc: LayerRefused) -> None:
    """The refusal as form errors: one per refused feature, or on the field it concerns."""
    features = [p for p in exc.fields.get("features", []) if p != "empty"]
    if features:
        form.add_error(
            None,
            gettext("The layer was not imported: %(count)d feature(s) refused.") % {"count": len(features)},
        )
        for problem in refused_problems(exc):
            form.add_error("file", problem)
        return
    if "crs" in exc.fields:
        form.add_error("assume_crs", exc.message)
        return
    missing = exc.fields.get("fields", [])
    target = next(
        (name for name in ("code_field", "name_field", "parent_field") if form.cleaned_data.get(name) in missing),
        None,
    )
    form.add_error(target, exc.message)


@admin.register(JurisdictionLayer)
class JurisdictionLayerAdmin(ReadOnlyAdmin):
    list_display = ["level", "version", "city", "name", "generated", "active", "feature_count", "created_at"]
    list_display_links = ["level", "version"]
    list_filter = ["city", "level", "active", "generated"]
    search_fields = ["name", "source"]
    ordering = ["level", "-version"]
    actions = ["activate_layer"]
    fields = LAYER_FIELDS
    readonly_fields = LAYER_FIELDS

    # Layers are written only by the importer (read-only here); an old version stays for the placements.
    def has_activate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.change_{self.opts.model_name}")

    def has_upload_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.add_{self.opts.model_name}")

    @admin.display(description=_("import report"))
    def report_summary(self, obj: JurisdictionLayer) -> str:
        lines = report_lines(obj.report or {})
        if not lines:
            return gettext("No repairs, overlaps or gaps.")
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((line,) for line in lines)))

    @admin.action(description=_("Activate the selected layer"), permissions=["activate"])
    def activate_layer(self, request: HttpRequest, queryset: QuerySet[JurisdictionLayer]) -> None:
        layers = list(queryset.order_by("level", "version"))
        per_level = Counter(layer.level for layer in layers)
        doubled = sorted(level for level, count in per_level.items() if count > 1)
        if doubled:
            self.message_user(
                request,
                gettext("Select one layer per level; several were selected for: %(levels)s. Nothing was activated.")
                % {"levels": ", ".join(str(Level(level).label) for level in doubled)},
                messages.ERROR,
            )
            return
        for layer in layers:
            try:
                activated = do_activate_layer(layer.pk)
            except DomainError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                continue
            self.message_user(
                request,
                gettext("%(layer)s is active; routing uses it from now on.") % {"layer": activated},
                messages.SUCCESS,
            )

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        return [
            path("upload/", self.admin_site.admin_view(self.upload_view), name="{}_{}_upload".format(*info)),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra_context = dict(extra_context or {})
        if self.has_upload_permission(request):
            extra_context["upload_url"] = reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_upload", current_app=self.admin_site.name
            )
            extra_context["upload_label"] = gettext("Upload a layer")
        return super().changelist_view(request, extra_context)

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_upload_permission(request):
            raise PermissionDenied
        form = LayerUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            layer = self._import_upload(form)
            if layer is not None:
                self._report(request, layer)
                return HttpResponseRedirect(
                    reverse(
                        f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
                        args=[layer.pk],
                        current_app=self.admin_site.name,
                    )
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Upload a jurisdiction layer"),
            "intro": gettext(
                "The file becomes a new version of the level's layer. Bad polygons are refused, each one named; "
                "overlaps and gaps are reported."
            ),
            "submit_label": gettext("Import"),
            "form": form,
            "multipart": True,
        }
        return TemplateResponse(request, IMPORT_TEMPLATE, context)

    def _import_upload(self, form: LayerUploadForm) -> JurisdictionLayer | None:
        data = form.cleaned_data
        upload = data["file"]
        original = Path(upload.name)
        try:
            safe_name = get_valid_filename(original.name)
        except SuspiciousFileOperation:  # a name made only of punctuation
            safe_name = f"upload{original.suffix.lower()}"
        with tempfile.TemporaryDirectory(prefix="layer-upload-") as folder:
            target = Path(folder) / safe_name
            with target.open("wb") as out:
                for chunk in upload.chunks():
                    out.write(chunk)
            try:
                prepared = read_layer(
                    target,
                    code_field=data["code_field"].strip(),
                    name_field=data["name_field"].strip(),
                    parent_field=data["parent_field"].strip() or None,
                    declared_system=data["coordinate_system"],
                    assume_crs=data["assume_crs"] or None,
                    layer=data["layer"].strip() or None,
                )
            except LayerRefused as exc:
                _add_refusal(form, exc)
                return None
        try:
            return do_import_layer(
                prepared,
                level=data["level"],
                name=data["name"].strip() or original.name[:LAYER_NAME_MAX_LENGTH],
                source=original.name[:SOURCE_MAX_LENGTH],
                activate=data["activate"],
                city=data.get("city"),
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
            return None

    def _report(self, request: HttpRequest, layer: JurisdictionLayer) -> None:
        self.message_user(
            request,
            gettext("Imported %(layer)s (%(name)s): %(count)d features, %(state)s.")
            % {
                "layer": layer,
                "name": layer.name,
                "count": layer.feature_count,
                "state": gettext("active") if layer.active else gettext("not active"),
            },
            messages.SUCCESS,
        )
        lines = report_lines(layer.report)
        for line in lines[:MAX_REPORT_MESSAGES]:
            self.message_user(request, line, messages.WARNING)
        if len(lines) > MAX_REPORT_MESSAGES:
            self.message_user(
                request,
                gettext("… and %(count)d more findings; see the layer's import report.")
                % {"count": len(lines) - MAX_REPORT_MESSAGES},
                messages.WARNING,
            )


@admin.register(Jurisdiction)
class JurisdictionAdmin(ReadOnlyAdmin):
    list_display = ["code", "name", "parent_code", "layer", "area_km2"]
    list_filter = ["layer", "layer__level", "layer__active"]
    search_fields = ["code", "name"]
    list_select_related = ["layer"]
    fields = JURISDICTION_FIELDS
    readonly_fields = JURISDICTION_FIELDS

    @admin.display(description=_("area (km²)"))
    def area_km2(self, obj: Jurisdiction) -> str:
        geometry = shapely.from_wkb(bytes(obj.geometry_wkb))
        return f"{approximate_area_m2(geometry) / 1e6:.3f}"

    @admin.display(description=_("geometry"))
    def geometry_summary(self, obj: Jurisdiction) -> str:
        geometry = shapely.from_wkb(bytes(obj.geometry_wkb))
        return gettext(
            "%(type)s, %(vertices)d vertices, about %(area).3f km², longitude %(min_lon).6f–%(max_lon).6f, "
            "latitude %(min_lat).6f–%(max_lat).6f (WGS84)"
        ) % {
            "type": geometry.geom_type,
            "vertices": shapely.get_num_coordinates(geometry),
            "area": approximate_area_m2(geometry) / 1e6,
            "min_lon": obj.min_lon,
            "max_lon": obj.max_lon,
            "min_lat": obj.min_lat,
            "max_lat": obj.max_lat,
        }


# --- Routing rules ------------------------------------------------------------------------------------------------


class RoutingRuleForm(forms.ModelForm):
    lead_function = forms.ChoiceField(
        label=capfirst(_("lead agency function")),
        choices=[("", "---------"), *AgencyFunction.choices],
        required=False,
        help_text=_("Instead of a lead agency: the agency with this function serving the matched jurisdiction."),
    )

    class Meta:
        model = RoutingRule
        fields = [
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
            "city",
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        subject = data.get("subject")
        if subject is not None and not subject.is_leaf:
            self.add_error("subject", gettext("Choose a leaf subject (one without sub-subjects)."))
        # Errors on the fields themselves, so the model's check constraints are not reported a second time.
        if "jurisdiction_code" in data and "level" in data and not data["jurisdiction_code"] and not data["level"]:
            message = gettext("Name a jurisdiction code or a level.")
            self.add_error("jurisdiction_code", message)
            self.add_error("level", message)
        if "lead_agency" in data and "lead_function" in data and not data["lead_agency"] and not data["lead_function"]:
            self.add_error("lead_function", gettext("Name a lead agency or a lead agency function."))
        return data


class RoutingRulesImportForm(forms.Form):
    file = forms.FileField(
        label=capfirst(_("CSV file")),
        help_text=_(
            "Columns: %(columns)s. Subjects and agencies by code; several co-handling agencies separated by '|'. "
            "UTF-8 or GB18030."
        )
        % {"columns": ", ".join(RULE_COLUMNS)},
    )
    replace = forms.BooleanField(
        label=capfirst(_("replace all existing rules")),
        required=False,
        help_text=_("Delete the routing rules of the cities the file names (no city column: the default city's)."),
    )

    def clean_file(self) -> str:
        raw = self.cleaned_data["file"].read()
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text: str = raw.decode(encoding)
            except UnicodeDecodeError:
                continue
            return text.removeprefix("\ufeff")
        raise forms.ValidationError(_("The file is neither UTF-8 nor GB18030 text."))


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    form = RoutingRuleForm
    list_display = [
        "id",
        "subject",
        "jurisdiction_code",
        "level",
        "lead_agency",
        "lead_function",
        "co_agency_codes",
        "priority",
        "prefer",
        "active",
        "city",
    ]
    list_display_links = ["id"]
    list_editable = ["priority", "prefer", "active"]
    list_filter = ["city", "active", "prefer", "level", "lead_function"]
    search_fields = ["jurisdiction_code", "note", "subject__code", "subject__name", "lead_agency__code"]
    autocomplete_fields = ["subject", "lead_agency"]
    filter_horizontal = ["co_agencies"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[RoutingRule]:
        return super().get_queryset(request).select_related("subject", "lead_agency").prefetch_related("co_agencies")

    @admin.display(description=_("co-handling agencies"))
    def co_agency_codes(self, obj: RoutingRule) -> str:
        return ", ".join(agency.code for agency in obj.co_agencies.all())

    def save_model(self, request: HttpRequest, obj: RoutingRule, form: Any, change: bool) -> None:
        do_save_routing_rule(obj, actor=acting_user(request), changed=form.changed_data)

    def delete_model(self, request: HttpRequest, obj: RoutingRule) -> None:
        do_delete_routing_rules([obj], actor=acting_user(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[RoutingRule]) -> None:
        do_delete_routing_rules(list(queryset), actor=acting_user(request))

    def has_import_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.add_{self.opts.model_name}")

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="{}_{}_import".format(*info)),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra_context = dict(extra_context or {})
        if self.has_import_permission(request):
            extra_context["import_url"] = reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_import", current_app=self.admin_site.name
            )
            extra_context["import_label"] = gettext("Import rules from CSV")
        return super().changelist_view(request, extra_context)

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_import_permission(request):
            raise PermissionDenied
        form = RoutingRulesImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            replace = form.cleaned_data["replace"]
            if replace and not self.has_delete_permission(request):
                form.add_error("replace", gettext("You may not delete routing rules."))
            else:
                try:
                    count = do_import_routing_rules(
                        form.cleaned_data["file"], replace=replace, actor=acting_user(request)
                    )
                except DomainError as exc:
                    form.add_error(None, exc.message)
                    for column in exc.fields.get("columns", []):
                        form.add_error("file", gettext("Missing column: %(column)s") % {"column": column})
                    for problem in exc.fields.get("rows", []):
                        form.add_error("file", problem)
                else:
                    self.message_user(
                        request,
                        gettext("Imported %(count)d routing rules.") % {"count": count},
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(
                        reverse(
                            f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist",
                            current_app=self.admin_site.name,
                        )
                    )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Import routing rules from CSV"),
            "intro": gettext("Every line is checked before anything is written; errors name their line numbers."),
            "submit_label": gettext("Import"),
            "form": form,
            "multipart": True,
        }
        return TemplateResponse(request, IMPORT_TEMPLATE, context)


# --- Read-only tables -------------------------------------------------------------------------------------------


@admin.register(GazetteerEntry)
class GazetteerEntryAdmin(ReadOnlyAdmin):
    """Entries are replaced per source by ``do_replace_gazetteer``; an edit here would be lost at the next load."""

    list_display = ["name", "kind", "district", "latitude", "longitude", "generated", "source"]
    list_filter = ["kind", "generated", "district"]
    search_fields = ["name", "normalized", "district"]
