"""Training and exams on a bundle: `GET/POST .../training/` lists or sets the gold items that
are training (served first, their explanation shown once answered), and `GET .../exam/` the
results of an exam bundle's takers (pseudonyms only)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from marketplace.errors import DomainError
from tasks.models import Item
from tasks.quality.exams import training_items_set


class TrainingActions:
    """Mixed into `BundleViewSet` (which supplies `get_object`, scoped to the requester)."""

    @extend_schema(
        methods=["GET", "POST"], request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT
    )
    @action(detail=True, methods=["get", "post"], url_path="training")
    def training(self, request: Request, pk: str | None = None) -> Response:
        """POST {"items": {"<external_id of a gold item>": "explanation", ...}}: mark those gold
        items as training (an empty explanation unmarks one). GET: the training items."""
        bundle = self.get_object()  # type: ignore[attr-defined]
        if request.method == "POST":
            items = request.data.get("items") if isinstance(request.data, dict) else None
            valid = isinstance(items, dict) and 0 < len(items) <= 1000
            if not valid or not all(
                isinstance(k, str) and isinstance(v, str) and len(v) <= 5000
                for k, v in items.items()
            ):
                raise DomainError(
                    'Send {"items": {"<external_id>": "explanation", ...}} (at most 1000).',
                    code="invalid_training",
                )
            training_items_set(bundle=bundle, explanations=items)
        rows = Item.objects.filter(bundle=bundle, is_training=True).order_by("id")
        return Response(
            {
                "training_items": [
                    {"external_id": i.external_id, "explanation": i.explanation} for i in rows
                ]
            }
        )
