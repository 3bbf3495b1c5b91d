"""Organisation: agencies, users and their roles, the city's classification of the matters it handles
(appeal types and the subject tree, with each subject's default agency function and time limits), and the
audit log of what people did with protected data and reference data. Every other app stands on these; they
know no other app."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from core import clock
from core.models import AppendOnlyModel


def in_language(name: str, name_en: str) -> str:
    """Reference data's name in the interface language: the English name where there is one and the user
    reads English, else the (Chinese) name."""
    language = translation.get_language() or ""
    return name_en if name_en and language.startswith("en") else name


class NamedInTwoLanguages(models.Model):
    """A row with ``name`` and ``name_en``: ``display_name`` is the one screens and exports show."""

    class Meta:
        abstract = True

    @property
    def display_name(self) -> str:
        return in_language(getattr(self, "name", ""), getattr(self, "name_en", ""))


class Role(models.TextChoices):
    OPERATOR = "operator", _("Hotline operator")
    DISPATCHER = "dispatcher", _("Dispatcher")
    COMMANDER = "commander", _("Dispatch commander")
    AGENCY_HANDLER = "agency_handler", _("Agency handler")
    AGENCY_ADMIN = "agency_admin", _("Agency administrator")
    SUPERVISOR = "supervisor", _("Supervisor")
    AUDITOR = "auditor", _("Auditor")
    ADMIN = "admin", _("Administrator")


CENTRE_ROLES = frozenset({Role.OPERATOR, Role.DISPATCHER, Role.COMMANDER, Role.SUPERVISOR, Role.AUDITOR, Role.ADMIN})
AGENCY_ROLES = frozenset({Role.AGENCY_HANDLER, Role.AGENCY_ADMIN})


class AgencyKind(models.TextChoices):
    CENTRE = "centre", _("Hotline centre")
    DEPARTMENT = "department", _("City department")
    DISTRICT = "district", _("District government")
    STREET = "street", _("Street office")
    UTILITY = "utility", _("Utility")
    EMERGENCY = "emergency", _("Emergency service")


class AgencyFunction(models.TextChoices):
    """What an agency is responsible for; subjects name the function that normally handles them."""

    HOTLINE = "hotline", _("Hotline")
    URBAN_MANAGEMENT = "urban_management", _("Urban management")
    HOUSING = "housing", _("Housing and construction")
    ENVIRONMENT = "environment", _("Ecology and environment")
    PUBLIC_SECURITY = "public_security", _("Public security")
    TRAFFIC_POLICE = "traffic_police", _("Traffic police")
    TRANSPORT = "transport", _("Transport")
    MARKET_REGULATION = "market_regulation", _("Market regulation")
    HUMAN_RESOURCES = "human_resources", _("Human resources and social security")
    EDUCATION = "education", _("Education")
    HEALTH = "health", _("Health")
    NATURAL_RESOURCES = "natural_resources", _("Natural resources")
    CIVIL_AFFAIRS = "civil_affairs", _("Civil affairs")
    EMERGENCY_MANAGEMENT = "emergency_management", _("Emergency management")
    WATER_RESOURCES = "water_resources", _("Water resources")
    CULTURE_TOURISM = "culture_tourism", _("Culture and tourism")
    COMMERCE = "commerce", _("Commerce")
    AGRICULTURE = "agriculture", _("Agriculture and rural affairs")
    WATER_SUPPLY = "water_supply", _("Water supply")
    POWER_SUPPLY = "power_supply", _("Power supply")
    GAS_SUPPLY = "gas_supply", _("Gas supply")
    TELECOM = "telecom", _("Telecommunications")
    DISTRICT_GOVERNMENT = "district_government", _("District government")
    STREET_OFFICE = "street_office", _("Street office")
    FIRE_RESCUE = "fire_rescue", _("Fire and rescue")
    EMERGENCY_MEDICAL = "emergency_medical", _("Emergency medical service")


class City(NamedInTwoLanguages):
    """A city (a centre) served by this installation ("一套程序，多套应用"): its agencies, centre staff,
    jurisdiction layers and routing rules belong to it, and so do the tickets placed in it. Its service area is
    the union of its active top jurisdiction layer, or an explicit boundary. A row with no city belongs to the
    default city: the first one created (docs/ARCHITECTURE.md "Cities")."""

    code = models.SlugField(
        _("code"), max_length=40, unique=True, help_text=_("Stable identifier, e.g. the Open311 jurisdiction id.")
    )
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=150, blank=True)
    adcode = models.CharField(
        _("administrative code"),
        max_length=12,
        blank=True,
        help_text=_("The city's administrative code: its agencies with this code work city-wide."),
    )
    boundary_wkb = models.BinaryField(_("service area boundary (WKB, WGS84)"), null=True, blank=True, editable=False)
    active = models.BooleanField(_("active"), default=True)
    sort_order = models.PositiveIntegerField(_("sort order"), default=0)
    updated_at = models.DateTimeField(default=clock.now, editable=False)

    class Meta:
        verbose_name = _("city")
        verbose_name_plural = _("cities")
        ordering = ["sort_order", "id"]

    def __str__(self) -> str:
        return self.name


def default_city_id() -> int | None:
    """The city of rows that name none: the first city created (None before any city exists)."""
    return City.objects.order_by("pk").values_list("pk", flat=True).first()


def city_or_default(city_id: int | None) -> int | None:
    """A row's city, the default city when it names none (None only before any city exists)."""
    return city_id if city_id is not None else default_city_id()


def in_city(city_id: int | None, *, field: str = "city", default_id: int | bool | None = False) -> models.Q:
    """Rows of one city (None: the default city): its own, and for the default city those naming none too.
    Before any city exists every row belongs to the one city there is. ``default_id`` saves the query when the
    caller knows it."""
    default = default_city_id() if default_id is False else default_id
    target = default if city_id is None else city_id
    if target is None:
        return models.Q()
    q = models.Q(**{f"{field}_id": target})
    if target == default:
        q |= models.Q(**{f"{field}__isnull": True})
    return q


class Agency(NamedInTwoLanguages):
    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=150, blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=AgencyKind.choices)
    function = models.CharField(_("function"), max_length=30, choices=AgencyFunction.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    adcode = models.CharField(
        _("administrative code"),
        max_length=12,
        blank=True,
        help_text=_("Administrative code of the area served: the city code for city-wide agencies."),
    )
    city = models.ForeignKey(
        City,
        verbose_name=_("city"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="agencies",
        help_text=_("Empty: the default city."),
    )
    active = models.BooleanField(_("active"), default=True)
    sort_order = models.PositiveIntegerField(_("sort order"), default=0)

    class Meta:
        verbose_name = _("agency")
        verbose_name_plural = _("agencies")
        ordering = ["sort_order", "code"]
        indexes = [models.Index(fields=["function", "adcode"])]

    def __str__(self) -> str:
        return self.name


def _validate_roles(value: Any) -> None:
    if not isinstance(value, list) or any(role not in Role.values for role in value):
        raise ValidationError(_("Roles must be a list of: %(roles)s"), params={"roles": ", ".join(Role.values)})


class User(AbstractUser):
    agency = models.ForeignKey(
        Agency, verbose_name=_("agency"), null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    roles = models.JSONField(_("roles"), default=list, blank=True, validators=[_validate_roles])
    extension = models.CharField(_("phone extension"), max_length=20, blank=True)
    city = models.ForeignKey(
        City,
        verbose_name=_("city"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="staff",
        help_text=_("The city whose centre the user works for; empty: the agency's city."),
    )

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def has_role(self, *roles: str) -> bool:
        return bool(self.is_active and set(self.roles or ()) & set(roles))

    @property
    def is_centre_staff(self) -> bool:
        return self.has_role(*CENTRE_ROLES)

    @property
    def home_city_id(self) -> int | None:
        """The city the user works for: their own, else their agency's (None: no city named)."""
        if self.city_id is not None:
            return self.city_id
        return self.agency.city_id if self.agency_id is not None and self.agency is not None else None

    @property
    def is_agency_staff(self) -> bool:
        return self.agency_id is not None and self.has_role(*AGENCY_ROLES)


class AuditEntry(AppendOnlyModel):
    """Who did what to protected personal data or reference data, when and why (append-only).

    The target is named, not referenced: the log outlives what it names and knows no higher app
    (``target_type`` "ticket", "agency", "user", "calendar_year"... and its id)."""

    # None only for a failed login under a name that belongs to nobody (a security event).
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor_agency = models.ForeignKey(Agency, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(_("action"), max_length=40)
    target_type = models.CharField(_("target type"), max_length=40, blank=True)
    target_id = models.BigIntegerField(_("target id"), null=True, blank=True)
    reason = models.TextField(_("reason"))
    fields = models.JSONField(_("details"), default=list)
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        ordering = ["-id"]
        indexes = [models.Index(fields=["target_type", "target_id"])]


class AppealType(NamedInTwoLanguages):
    code = models.SlugField(_("code"), max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=30)
    name_en = models.CharField(_("English name"), max_length=60, blank=True)
    sort_order = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("appeal type")
        verbose_name_plural = _("appeal types")
        ordering = ["sort_order", "code"]

    def __str__(self) -> str:
        return self.name


class Subject(NamedInTwoLanguages):
    """A node of the subject classification tree; tickets take leaves only."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=60)
    name_en = models.CharField(_("English name"), max_length=120, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children", verbose_name=_("parent")
    )
    path = models.CharField(_("full name"), max_length=200, blank=True, editable=False)
    is_leaf = models.BooleanField(_("leaf"), default=True)
    default_agency_function = models.CharField(
        _("default responsible agency function"), max_length=30, choices=AgencyFunction.choices, blank=True
    )
    time_limits = models.JSONField(
        _("time limits"),
        default=dict,
        blank=True,
        help_text=_(
            'Per urgency and stage, e.g. {"normal": {"sign": "1wd", "handle": "15wd"}, '
            '"urgent": {"sign": "2h"}}; "wd" = working days, "h" = clock hours.'
        ),
    )
    active = models.BooleanField(_("active"), default=True)
    sort_order = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("subject")
        verbose_name_plural = _("subjects")
        ordering = ["sort_order", "code"]

    def __str__(self) -> str:
        return self.path or self.name

    @property
    def display_path(self) -> str:
        """The full name in the interface language: the stored (Chinese) path, or in English the display names
        of the subject and its parents (each in English where it has an English name)."""
        if not (translation.get_language() or "").startswith("en"):
            return self.path or self.name
        names: list[str] = []
        node: Subject | None = self
        while node is not None and len(names) < 10:
            names.append(node.display_name)
            node = node.parent
        return " > ".join(reversed(names))
