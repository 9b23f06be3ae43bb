"""The worker's side of qualification types (as MTurk's worker site had it): the requestable
types, and asking for one, with the test's answers when it has a test. An AutoGranted type or
a test with an AnswerKey grants at once; otherwise the request waits for the requester
(ListQualificationRequests). The answer key is never shown."""

from __future__ import annotations

from typing import Any, cast

from django.db.models import Q
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from marketplace.errors import DomainError, NotFound
from marketplace.permissions import IsWorker

from .errors import MTurkRequestError
from .models import QualificationRequest, QualificationType
from .qualifications import request_submit
from .questions import form_answer_problem, parse_question


def _requestable() -> Any:
    return QualificationType.objects.filter(status="Active", disposed_at__isnull=True)


def _shape(qtype: QualificationType, mine: QualificationRequest | None) -> dict[str, Any]:
    return {
        "qualification_type_id": qtype.qualification_type_id,
        "name": qtype.name,
        "description": qtype.description,
        "keywords": qtype.keywords,
        "test": qtype.test or None,
        "test_duration_seconds": qtype.test_duration_seconds,
        "granted_at_once": qtype.auto_granted or bool(qtype.answer_key),
        "my_request": None if mine is None else {"status": mine.status, "reason": mine.reason},
    }


class TypeSerializer(serializers.Serializer):
    qualification_type_id = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    keywords = serializers.CharField()
    test = serializers.CharField(allow_null=True, help_text="QuestionForm XML, if it has a test")
    test_duration_seconds = serializers.IntegerField(allow_null=True)
    granted_at_once = serializers.BooleanField()
    my_request = serializers.JSONField(allow_null=True)


class RequestSerializer(serializers.Serializer):
    answers = serializers.DictField(
        required=False, default=dict, help_text="The test's answers: field -> value"
    )


class RequestableQualificationTypes(generics.GenericAPIView):
    """`GET /api/v1/work/qualification-types/?search=`: types a worker may request."""

    permission_classes = [IsWorker]
    serializer_class = TypeSerializer

    def get_queryset(self) -> Any:
        return _requestable()

    @extend_schema(responses=TypeSerializer(many=True))
    def get(self, request: Request) -> Response:
        types = _requestable().order_by("-created_at", "-id")
        search = request.query_params.get("search", "").strip()[:200]
        if search:
            types = types.filter(
                Q(name__icontains=search) | Q(description__icontains=search)
                | Q(keywords__icontains=search)
            )  # fmt: skip
        page = self.paginate_queryset(types) or []
        mine = {
            r.qualification_type_id: r
            for r in QualificationRequest.objects.filter(
                worker=cast(User, request.user), qualification_type__in=[t.pk for t in page]
            ).order_by("submitted_at", "id")
        }
        return self.get_paginated_response([_shape(t, mine.get(t.pk)) for t in page])


class QualificationTypeRequest(APIView):
    """`POST /api/v1/work/qualification-types/<id>/request/` with `{"answers": {...}}`."""

    permission_classes = [IsWorker]

    @extend_schema(
        request=RequestSerializer,
        responses={
            201: inline_serializer(
                "QualificationRequestResult",
                {
                    "status": serializers.CharField(),
                    "value": serializers.IntegerField(allow_null=True),
                },
            )
        },
    )
    def post(self, request: Request, type_id: str) -> Response:
        qtype = _requestable().filter(qualification_type_id=type_id).first()
        if qtype is None:
            raise NotFound("No such qualification type.", code="qualification_type_not_found")
        body = RequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        answers = body.validated_data["answers"]
        if qtype.test:
            problem = form_answer_problem(parse_question(qtype.test), answers)
            if problem:
                raise DomainError(problem, code="invalid_answer")
        try:
            made = request_submit(worker=cast(User, request.user), qtype=qtype, answers=answers)
        except MTurkRequestError as exc:
            raise DomainError(exc.message, code="request_refused", http_status=409) from exc
        grant = qtype.qualification.grants.filter(worker=request.user).first()
        value = grant.value if grant is not None and made.status == "accepted" else None
        return Response({"status": made.status, "value": value}, status=status.HTTP_201_CREATED)
