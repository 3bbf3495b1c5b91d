"""Jurisdiction layers (versioned), routing rules and the gazetteer.

Geometries are stored as WKB in WGS84 (EPSG:4326); Shapely reads them, no spatial database needed.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core import clock


class Level(models.TextChoices):
    DISTRICT = "district", _("District")
    STREET = "street", _("Street")
    GRID = "grid", _("Grid")


#: From the coarsest to the finest: routing rules at finer levels win.
LEVELS = (Level.DISTRICT, Level.STREET, Level.GRID)


class JurisdictionLayer(models.Model):
    """One imported version of one level's polygons for one city. Activating a version switches that city's
    routing; each city has at most one active layer per level, and its top active layer is its service area."""

    city = models.ForeignKey(
        "organisation.City",
        verbose_name=_("city"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="layers",
        help_text=_("Empty: the default city."),
    )
    level = models.CharField(_("level"), max_length=10, choices=Level.choices)
    version = models.PositiveIntegerField(_("version"))
    name = models.CharField(_("name"), max_length=120)
    source = models.CharField(_("source"), max_length=300, blank=True)
    source_crs = models.CharField(_("source coordinate system"), max_length=60, blank=True)
    generated = models.BooleanField(
        _("generated"), default=False, help_text=_("Synthetic polygons (e.g. demo grid cells), not surveyed data.")
    )
    active = models.BooleanField(_("active"), default=False)
    feature_count = models.PositiveIntegerField(_("features"), default=0)
    report = models.JSONField(_("import report"), default=dict, blank=True)
    created_at = models.DateTimeField(default=clock.now)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("jurisdiction layer")
        verbose_name_plural = _("jurisdiction layers")
        ordering = ["level", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["city", "level", "version"], name="one_version_number_per_city_level"),
            models.UniqueConstraint(
                fields=["level", "version"], condition=Q(city__isnull=True), name="one_version_number_per_level"
            ),
            models.UniqueConstraint(
                fields=["city", "level"], condition=Q(active=True), name="one_active_layer_per_city_level"
            ),
            models.UniqueConstraint(
                fields=["level"], condition=Q(active=True, city__isnull=True), name="one_active_layer_per_level"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_level_display()} v{self.version}"


class Jurisdiction(models.Model):
    layer = models.ForeignKey(JurisdictionLayer, on_delete=models.CASCADE, related_name="jurisdictions")
    code = models.CharField(_("administrative code"), max_length=20)
    name = models.CharField(_("name"), max_length=100)
    parent_code = models.CharField(_("code of the containing jurisdiction"), max_length=20, blank=True)
    geometry_wkb = models.BinaryField(_("geometry (WKB, WGS84)"))
    min_lon = models.FloatField()
    min_lat = models.FloatField()
    max_lon = models.FloatField()
    max_lat = models.FloatField()
    properties = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("jurisdiction")
        verbose_name_plural = _("jurisdictions")
        ordering = ["layer", "code"]
        constraints = [models.UniqueConstraint(fields=["layer", "code"], name="one_code_per_layer")]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class RoutingRule(models.Model):
    """(jurisdiction or level, subject) -> lead agency and co-handling agencies.

    A rule names either one jurisdiction by code, or a whole level; then its agencies may be named by
    function, resolved to the agency serving the containing jurisdiction of that level.
    """

    city = models.ForeignKey(
        "organisation.City",
        verbose_name=_("city"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="routing_rules",
        help_text=_("Empty: the default city."),
    )
    subject = models.ForeignKey(
        "organisation.Subject",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="routing_rules",
        help_text=_("Empty: any subject."),
    )
    jurisdiction_code = models.CharField(_("jurisdiction code"), max_length=20, blank=True)
    level = models.CharField(_("level"), max_length=10, choices=Level.choices, blank=True)
    lead_agency = models.ForeignKey(
        "organisation.Agency",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("lead agency"),
    )
    lead_function = models.CharField(_("lead agency function"), max_length=30, blank=True)
    co_agencies = models.ManyToManyField(
        "organisation.Agency", blank=True, related_name="+", verbose_name=_("co-handling agencies")
    )
    priority = models.IntegerField(_("priority"), default=0, help_text=_("Higher wins among matching rules."))
    prefer = models.BooleanField(_("preferred"), default=False, help_text=_("Wins over any priority."))
    active = models.BooleanField(_("active"), default=True)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")
        ordering = ["-prefer", "-priority", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(jurisdiction_code="") | ~Q(level=""), name="rule_names_jurisdiction_or_level"
            ),
            models.CheckConstraint(
                condition=Q(lead_agency__isnull=False) | ~Q(lead_function=""), name="rule_names_a_lead"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.jurisdiction_code or self.level} / {self.subject_id or '*'}"


class PlaceKind(models.TextChoices):
    COMMUNITY = "community", _("Community")
    ROAD = "road", _("Road")
    LANDMARK = "landmark", _("Landmark")
    ADDRESS = "address", _("Address")


class GazetteerEntry(models.Model):
    name = models.CharField(_("name"), max_length=120)
    normalized = models.CharField(_("normalised name"), max_length=160, db_index=True)
    kind = models.CharField(_("kind"), max_length=12, choices=PlaceKind.choices)
    district = models.CharField(_("district"), max_length=40, blank=True)
    latitude = models.FloatField(_("latitude (WGS84)"))
    longitude = models.FloatField(_("longitude (WGS84)"))
    generated = models.BooleanField(_("generated"), default=False)
    source = models.CharField(_("source"), max_length=120, blank=True)

    class Meta:
        verbose_name = _("gazetteer entry")
        verbose_name_plural = _("gazetteer entries")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
