"""The canned phrases' API: the list every user of the screens may read (filtered by kind and by the ticket's
subject; agency staff get reply phrases only), and creating and changing them for the centre's editors
(organisation.policy.may_edit_phrases). Deactivating is a change of ``active``; nothing is deleted."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from callcenter.models import Phrase, PhraseKind
from callcenter.phrases import actions
from core.errors import InvalidInput, NotAllowed, NotFound
from organisation.fields import SubjectCodeField
from organisation.models import Subject, User
from organisation.policy import current_user, may_edit_phrases

#: More than any centre keeps; the list is not paged.
LIST_LIMIT = 1000


class PhraseInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=PhraseKind.choices)  # the action names a bad one too
    subject = SubjectCodeField(
        leaf_only=False, checked_by_action=True, allow_null=True, allow_blank=True, required=False
    )
    title = serializers.CharField(max_length=actions.TITLE_MAX)
    body = serializers.CharField(max_length=actions.BODY_MAX)
    sort_order = serializers.IntegerField(required=False, min_value=0, max_value=9999)
    active = serializers.BooleanField(required=False)


def phrase_row(phrase: Phrase, *, editor: bool) -> dict[str, Any]:
    subject = phrase.subject
    row: dict[str, Any] = {
        "id": phrase.pk,
        "kind": phrase.kind,
        "kind_label": str(PhraseKind(phrase.kind).label),
        "subject": (
            {"code": subject.code, "name": subject.display_name, "path": subject.path or subject.name}
            if subject
            else None
        ),
        "title": phrase.title,
        "body": phrase.body,
        "sort_order": phrase.sort_order,
        "active": phrase.active,
    }
    if editor:  # who changed it is the centre's business
        who = phrase.updated_by
        row["updated_by"] = (who.get_full_name() or who.username) if who else ""
        row["updated_at"] = phrase.updated_at.isoformat()
    return row


def _input(request: Request, *, partial: bool) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise InvalidInput(_("The request body must be a JSON object."), fields={"body": [_("Expected an object.")]})
    serializer = PhraseInput(data=request.data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _editor(user: User) -> User:
    if not may_edit_phrases(user):
        raise NotAllowed(_("Your role may not edit canned phrases."))
    return user


class PhraseListView(APIView):
    @extend_schema(
        operation_id="phrases_list",
        parameters=[
            OpenApiParameter("kind", str, enum=PhraseKind.values),
            OpenApiParameter("subject", str, description="A subject code: the phrases offered for it"),
            OpenApiParameter("include_inactive", bool, description="Editors only"),
        ],
        responses={200: dict},
    )
    def get(self, request: Request) -> Response:
        user = current_user(request)
        if not actions.may_use(user):
            raise NotAllowed(_("Your role may not use canned phrases."))
        editor = may_edit_phrases(user)
        params = request.query_params
        errors: dict[str, list[str]] = {}
        phrases = actions.phrases_for(user)
        kind = params.get("kind", "")
        if kind:
            if kind not in PhraseKind.values:
                errors["kind"] = [_("One of: %(v)s") % {"v": ", ".join(PhraseKind.values)}]
            phrases = phrases.filter(kind=kind)
        code = params.get("subject", "")
        if code:
            subject = Subject.objects.filter(code=code).select_related("parent").first()
            if subject is None:
                errors["subject"] = [_("Unknown subject.")]
            else:
                phrases = actions.applicable_to(phrases, subject)
        include_inactive = params.get("include_inactive", "") in ("1", "true")
        if include_inactive and not editor:
            errors["include_inactive"] = [_("Only the centre's editors see inactive phrases.")]
        if errors:
            raise InvalidInput(_("Some fields are not valid."), fields=errors)
        if not include_inactive:
            phrases = phrases.filter(active=True)
        rows = [phrase_row(p, editor=editor) for p in phrases[:LIST_LIMIT]]
        return Response({"count": len(rows), "results": rows, "may_edit": editor})

    @extend_schema(request=PhraseInput, responses={201: dict})
    def post(self, request: Request) -> Response:
        user = _editor(current_user(request))
        phrase = actions.do_save_phrase(_input(request, partial=False), actor=user)
        return Response(phrase_row(phrase, editor=True), status=status.HTTP_201_CREATED)


class PhraseDetailView(APIView):
    def _visible(self, user: User, pk: int) -> Phrase:
        if not actions.may_use(user):
            raise NotAllowed(_("Your role may not use canned phrases."))
        phrase = actions.phrases_for(user).filter(pk=pk).first()
        if phrase is None:  # outside the user's kinds: it does not exist for them
            raise NotFound(_("No such phrase."))
        return phrase

    @extend_schema(responses={200: dict})
    def get(self, request: Request, pk: int) -> Response:
        user = current_user(request)
        phrase = self._visible(user, pk)
        if not phrase.active and not may_edit_phrases(user):
            raise NotFound(_("No such phrase."))
        return Response(phrase_row(phrase, editor=may_edit_phrases(user)))

    @extend_schema(request=PhraseInput, responses={200: dict})
    def patch(self, request: Request, pk: int) -> Response:
        user = current_user(request)
        self._visible(user, pk)
        _editor(user)
        phrase = actions.do_save_phrase(_input(request, partial=True), actor=user, phrase_id=pk)
        return Response(phrase_row(phrase, editor=True))
