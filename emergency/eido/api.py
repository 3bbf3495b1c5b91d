"""Incident exchange endpoints (NENA EIDO JSON):

* ``GET /api/incidents/<id>/eido/``: the incident as an EIDO (centre users; anyone else: 404).
* ``POST /api/incidents/eido/``: take over an incident from another centre's EIDO (command desk). 201 with the
  new incident, 200 with the one the same tracking identifier already made, updated when the document is a later
  version (``eido_import``: created, updated or unchanged); an invalid document is a 400 whose ``fields.eido``
  lists the schema errors ("<JSON pointer>: <message>"), an older version than the one applied a 400 naming
  ``lastUpdateTimeStamp``.
* ``POST /api/incidents/<id>/eido/send/`` ``{"partner": key}``: queue the EIDO for a partner centre (202, with
  the delivery, its partner and its state in the outbox).
* ``GET /api/eido/partners/``: the configured partner centres (key and name).
"""

from __future__ import annotations

import json

from django.http import HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import InvalidInput, NotAllowed, NotFound
from emergency.access import visible_incidents
from emergency.actions import exchange
from emergency.eido import export, partners
from emergency.serializers import IncidentDetailSerializer
from organisation import policy
from organisation.policy import current_user, is_centre

EIDO_CONTENT_TYPE = "application/json; charset=utf-8"


def _centre_incident(request: Request, pk: int) -> int:
    user = current_user(request)
    if not is_centre(user) or not visible_incidents(user).filter(pk=pk).exists():
        raise NotFound(_("Not found."))
    return pk


class IncidentEidoView(APIView):
    """The incident as a NENA EIDO (JSON), valid against NENA's published schema."""

    @extend_schema(responses={(200, "application/json"): OpenApiTypes.OBJECT})
    def get(self, request: Request, pk: int) -> HttpResponse:
        incident = visible_incidents(current_user(request)).get(pk=_centre_incident(request, pk))
        body = json.dumps(export.build_eido(incident), ensure_ascii=False, indent=2)
        response = HttpResponse(body.encode("utf-8"), content_type=EIDO_CONTENT_TYPE)
        response["Content-Disposition"] = f'inline; filename="{incident.number}.eido.json"'
        return response


class EidoImportSerializer(IncidentDetailSerializer):
    """The incident an import created, updated or left unchanged, and which of the three."""

    eido_import = serializers.SerializerMethodField()

    class Meta(IncidentDetailSerializer.Meta):
        fields = [*IncidentDetailSerializer.Meta.fields, "eido_import"]

    @extend_schema_field(serializers.ChoiceField(choices=[exchange.CREATED, exchange.UPDATED, exchange.UNCHANGED]))
    def get_eido_import(self, _incident: object) -> str:
        return str(self.context["eido_import"])


class EidoImportView(APIView):
    """Take over an incident from another centre's EIDO, or update our copy from a later version of it; keyed on
    the incident tracking identifier. A command-desk user, or a partner centre's API key with the
    ``incidents:exchange`` scope."""

    api_key_scope = "incidents:exchange"  # exchange/keys/scopes.py

    @extend_schema(request=OpenApiTypes.OBJECT, responses={201: EidoImportSerializer, 200: EidoImportSerializer})
    def post(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise InvalidInput(
                _("The request body must be a JSON object."), fields={"body": [_("Expected an object.")]}
            )
        result = exchange.do_import_eido(dict(request.data), actor=current_user(request))
        context = {"request": request, "view": self, "eido_import": result.outcome}
        data = EidoImportSerializer(result.incident, context=context).data
        return Response(data, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


class EidoSendView(APIView):
    """Queue the incident's EIDO for a partner centre; the outbox worker delivers it."""

    @extend_schema(
        request=inline_serializer("EidoSendInput", {"partner": serializers.CharField()}),
        responses={
            202: inline_serializer(
                "EidoSent",
                {
                    "delivery": serializers.UUIDField(),
                    "partner": serializers.CharField(),
                    # The outbox's delivery state (exchange.models.DeliveryState): pending, delivered or parked.
                    "state": serializers.CharField(),
                },
            )
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        incident_id = _centre_incident(request, pk)
        partner = request.data.get("partner") if isinstance(request.data, dict) else None
        delivery = exchange.do_send_eido(incident_id, partner, actor=current_user(request))
        return Response(
            {"delivery": str(delivery.pk), "partner": delivery.destination, "state": delivery.state},
            status=status.HTTP_202_ACCEPTED,
        )


class EidoPartnersView(APIView):
    """The partner centres an incident's EIDO can be sent to."""

    @extend_schema(
        responses=inline_serializer(
            "EidoPartner", {"key": serializers.CharField(), "name": serializers.CharField()}, many=True
        )
    )
    def get(self, request: Request) -> Response:
        if not current_user(request).has_role(*policy.COMMAND):
            raise NotAllowed(_("Your role may not send incidents to other centres."))
        return Response([{"key": p.key, "name": p.name} for p in partners.partners().values()])
