"""Management API of the organisation (administrators only): agencies and users, one at a time or
imported in bulk from CSV/XLSX with a dry run. Every write goes through organisation.actions (audited, announced).

    (cities, with their service-area boundary: gis/manage_api.py)
    GET/POST /api/manage/agencies/          GET/PATCH/PUT /api/manage/agencies/{id}/   (?city=<code>)
    GET/POST /api/manage/users/             GET/PATCH/PUT /api/manage/users/{id}/      (?city=<code>)
    POST /api/manage/import/agencies/       POST /api/manage/import/users/   (file, dry_run, city)

Nothing is deleted here: agencies and users are deactivated (``active`` / ``is_active``), as their history needs
them.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import InvalidInput, NotFound
from organisation import actions, imports
from organisation.models import Agency, City, Role, User
from organisation.policy import current_user


class AdministratorsOnly(BasePermission):
    """The management API is the administrator's (403 for anyone else)."""

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and isinstance(user, User) and user.has_role(Role.ADMIN))


class ManagedCitySerializer(serializers.ModelSerializer):
    """A city's plain fields (gis/manage_api.py adds its boundary and serves /api/manage/cities/)."""

    class Meta:
        model = City
        fields = ["id", "code", "name", "name_en", "adcode", "active", "sort_order"]


class ManagedAgencySerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(  # type: ignore[assignment]  # the field, not Field.parent
        slug_field="code", queryset=Agency.objects.all(), allow_null=True, required=False
    )
    city = serializers.SlugRelatedField(slug_field="code", queryset=City.objects.all(), allow_null=True, required=False)

    class Meta:
        model = Agency
        fields = [
            "id",
            "code",
            "name",
            "name_en",
            "kind",
            "function",
            "parent",
            "adcode",
            "city",
            "active",
            "sort_order",
        ]


class ManagedUserSerializer(serializers.ModelSerializer):
    agency = serializers.SlugRelatedField(
        slug_field="code", queryset=Agency.objects.all(), allow_null=True, required=False
    )
    city = serializers.SlugRelatedField(slug_field="code", queryset=City.objects.all(), allow_null=True, required=False)
    roles = serializers.ListField(child=serializers.ChoiceField(choices=Role.choices), required=False, max_length=10)
    password = serializers.CharField(write_only=True, required=False, max_length=128, trim_whitespace=False)

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "first_name",
            "last_name",
            "email",
            "roles",
            "agency",
            "city",
            "extension",
            "is_active",
            "password",
        ]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        password = attrs.get("password")
        if password is not None:
            probe = self.instance or User(username=attrs.get("username", ""))
            try:
                validate_password(password, probe)
            except ValidationError as error:
                raise serializers.ValidationError({"password": list(error.messages)}) from None
        return attrs


def by_city(queryset: QuerySet[Any], request: Request, *, through_agency: bool = False) -> QuerySet[Any]:
    code = request.query_params.get("city", "").strip()
    if not code:
        return queryset
    city = City.objects.filter(code=code).first()
    if city is None:
        raise InvalidInput(_("Unknown city."), fields={"city": [_("Unknown city.")]})
    if through_agency:  # a user naming no city works for their agency's
        return queryset.filter(Q(city=city) | Q(city__isnull=True, agency__city=city))
    return queryset.filter(city=city)


CITY_PARAM = OpenApiParameter("city", str, description="Only this city's rows (its code).")


class ManagedViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    permission_classes = [AdministratorsOnly]

    def save(self, instance: Any, changed: list[str], request: Request) -> None:
        raise NotImplementedError

    def perform_create(self, serializer: Any) -> None:
        data = dict(serializer.validated_data)
        instance = self.get_queryset().model()
        self._apply(instance, data)
        serializer.instance = instance

    def perform_update(self, serializer: Any) -> None:
        data = dict(serializer.validated_data)
        self._apply(serializer.instance, data)

    def _apply(self, instance: Any, data: dict[str, Any]) -> None:
        before = {name: getattr(instance, name) for name in data if name != "password"} if instance.pk else {}
        password = data.pop("password", None)
        for name, value in data.items():
            setattr(instance, name, value)
        changed = sorted(name for name, value in data.items() if not instance.pk or before.get(name) != value)
        if password is not None:
            instance.set_password(password)
            changed.append("password")
        elif instance.pk is None and isinstance(instance, User):
            instance.set_unusable_password()
        self.save(instance, changed, self.request)


@extend_schema(parameters=[CITY_PARAM])
class ManagedAgencyViewSet(ManagedViewSet):
    serializer_class = ManagedAgencySerializer

    def get_queryset(self) -> QuerySet[Agency]:
        return by_city(Agency.objects.select_related("parent", "city").order_by("sort_order", "code"), self.request)

    def save(self, instance: Agency, changed: list[str], request: Request) -> None:
        actions.do_save_agency(instance, actor=current_user(request), changed=changed)


@extend_schema(parameters=[CITY_PARAM])
class ManagedUserViewSet(ManagedViewSet):
    serializer_class = ManagedUserSerializer

    def get_queryset(self) -> QuerySet[User]:
        users = User.objects.select_related("agency", "city").order_by("username")
        return by_city(users, self.request, through_agency=True)

    def perform_update(self, serializer: Any) -> None:
        self._roles_before = list(serializer.instance.roles or ())
        super().perform_update(serializer)

    def save(self, instance: User, changed: list[str], request: Request) -> None:
        roles_before = getattr(self, "_roles_before", [])
        actions.do_save_user(instance, actor=current_user(request), changed=changed, roles_before=roles_before)


class ImportInput(serializers.Serializer):
    file = serializers.FileField()
    dry_run = serializers.BooleanField(default=False)
    city = serializers.SlugRelatedField(slug_field="code", queryset=City.objects.all(), required=False, allow_null=True)


def read_upload(request: Request) -> tuple[dict[str, Any], list[str], list[imports.Row]]:
    """The checked form (file, dry_run, city) and the uploaded table's header and rows."""
    form = ImportInput(data=request.data)
    if not form.is_valid():
        raise InvalidInput(
            _("Some fields are not valid."), fields={k: [str(m) for m in v] for k, v in form.errors.items()}
        )
    upload = form.validated_data["file"]
    if upload.size > imports.MAX_BYTES:
        raise InvalidInput(_("The file is too large."), fields={"file": [_("At most 5 MB.")]})
    header, rows = imports.read_table(upload.read(), upload.name or "")
    return form.validated_data, header, rows


IMPORT_SCHEMA = extend_schema(
    request={"multipart/form-data": ImportInput},
    responses={200: dict},
    description="A dry run (dry_run=true) returns what the file would change and writes nothing.",
)


class OrganisationImportView(APIView):
    """Agencies or users from a CSV/XLSX file: the plan of changes per row; applied unless a dry run."""

    permission_classes = [AdministratorsOnly]
    parser_classes = [MultiPartParser, FormParser]
    importers = {"agencies": actions.do_import_agencies, "users": actions.do_import_users}

    @IMPORT_SCHEMA
    def post(self, request: Request, kind: str) -> Response:
        importer = self.importers.get(kind)
        if importer is None:
            raise NotFound(_("Nothing of that kind can be imported."))
        form, header, rows = read_upload(request)
        plan = importer(header, rows, actor=current_user(request), dry_run=form["dry_run"], city=form.get("city"))
        return Response(plan.as_dict())
