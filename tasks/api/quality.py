"""`GET /api/v1/bundles/{id}/quality/`: the bundle's quality report (rings with their evidence,
live estimates, confidence calibration with its reliability diagram). `POST` with
{"dismiss_ring": id} dismisses a flagged ring (it stops down-weighting its members)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from marketplace.errors import DomainError
from tasks.quality.report import bundle_quality_report
from tasks.quality.ring_records import ring_dismiss


class QualityActions:
    """Mixed into `BundleViewSet` (which supplies `get_object`, scoped to the requester)."""

    @extend_schema(
        methods=["GET", "POST"], request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT
    )
    @action(detail=True, methods=["get", "post"])
    def quality(self, request: Request, pk: str | None = None) -> Response:
        bundle = self.get_object()  # type: ignore[attr-defined]
        if request.method == "POST":
            ring_id = request.data.get("dismiss_ring")
            if not isinstance(ring_id, int) or not bundle.rings.filter(pk=ring_id).exists():
                raise DomainError("No such ring here.", code="unknown_ring", http_status=404)
            ring_dismiss(ring_id=ring_id, by=request.user)
        return Response(bundle_quality_report(bundle))
