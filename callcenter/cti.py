"""The telephone system's side door: call events in, the operator's screen pop out.

POST /api/cti/events/ takes one event as JSON:
    {"call_id": "PBX-20261121-0001", "event": "ringing" | "answered" | "ended",
     "caller": "13812341234", "extension": "8001", "at": "2026-11-21T09:00:00+08:00" (optional)}
It is authenticated like any program (a token of a user with the operator or admin role). Events may
repeat or arrive late: a call only moves forward (ringing -> answered -> ended). Each accepted step is a
`call.<event>` event on the log; the console of the operator whose extension answered fetches
GET /api/calls/{id}/ (number and history) - the log itself never carries the number.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from callcenter.actions import do_record_call_event
from callcenter.models import Call, CallState
from callcenter.queries import caller_history, centre_tickets
from callcenter.serializers import TicketListSerializer
from core.errors import NotAllowed, NotFound
from core.parsing import validated
from organisation.policy import current_user, may_read_caller_history


class CallEventInput(serializers.Serializer):
    call_id = serializers.CharField(max_length=64)
    event = serializers.ChoiceField(choices=CallState.choices)
    caller = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    extension = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    at = serializers.DateTimeField(required=False, allow_null=True, default=None)


def call_body(call: Call) -> dict[str, Any]:
    return {
        "id": call.pk,
        "call_id": call.external_id,
        "state": call.state,
        "phone": call.phone,
        "extension": call.extension,
        "operator_id": call.operator_id,
        "ticket_id": call.ticket_id,
        "ringing_at": call.ringing_at,
        "answered_at": call.answered_at,
        "ended_at": call.ended_at,
    }


class CallEventView(APIView):
    @extend_schema(request=CallEventInput, responses={200: dict})
    def post(self, request: Request) -> Response:
        call = do_record_call_event(validated(CallEventInput, request), actor=current_user(request))
        return Response(call_body(call))


class CallDetailView(APIView):
    """A call with its caller's earlier tickets: the operator's screen pop."""

    @extend_schema(responses={200: dict})
    def get(self, request: Request, pk: int) -> Response:
        user = current_user(request)
        if not may_read_caller_history(user):
            raise NotAllowed(_("Your role may not read calls."))
        call = Call.objects.filter(pk=pk).first()
        if call is None:
            raise NotFound(_("No such call."))
        # Centre staff only (may_read_caller_history): the tickets of their city.
        history = caller_history(call.phone, centre_tickets(user).select_related("caller"))[:50] if call.phone else []
        tickets = TicketListSerializer(history, many=True, context={"request": request}).data
        return Response({**call_body(call), "history": tickets})
