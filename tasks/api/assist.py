"""The closed loop's endpoints on a bundle (DESIGN.md "The closed loop"):
`POST .../predictions/` (JSONL, a JSON array, or a multipart "file"; Label Studio tasks with
pre-annotations too) -> 201 {"accepted": N}, and `GET .../assist/` (the assist report)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.parsers import FileUploadParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from tasks.assist.predictions import predictions_post
from tasks.assist.selectors import assist_report


class AssistActions:
    """Mixed into `BundleViewSet` (which supplies `get_object`, scoped to the requester)."""

    @extend_schema(
        request={
            "application/x-ndjson": OpenApiTypes.STR,
            "application/json": OpenApiTypes.OBJECT,
            "multipart/form-data": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
            },
        },
        responses={201: OpenApiTypes.OBJECT},
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FileUploadParser])
    def predictions(self, request: Request, pk: str | None = None) -> Response:
        bundle = self.get_object()  # type: ignore[attr-defined]
        content_type = request.content_type.split(";")[0].strip().lower()
        if content_type == "multipart/form-data":
            upload = request.FILES.get("file")
            lines = list(upload) if upload is not None else []
        else:
            # Raw body (JSONL, or one JSON document: an object or an array of them).
            lines = request._request.body.splitlines()
            if content_type == "application/json":
                lines = [request._request.body]
        accepted = predictions_post(bundle=bundle, by=request.user, lines=lines)
        return Response({"accepted": accepted}, status=201)

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"])
    def assist(self, request: Request, pk: str | None = None) -> Response:
        return Response(assist_report(self.get_object()))  # type: ignore[attr-defined]
