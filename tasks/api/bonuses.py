"""`/api/v1/bonuses/`: a requester's bonuses to the workers who worked for them.

Served by tasks (not payments) because only tasks knows who worked for whom. Workers appear as
the pseudonym the requester sees everywhere else (results, assignments, the bundle's workers),
never as a user id. Everything is scoped to the caller: another requester's bonus is a 404.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from marketplace.permissions import IsRequester
from payments.models import Bonus
from tasks import bonuses
from tasks.selectors import worker_public_id


class BonusSerializer(serializers.ModelSerializer):
    """Name the worker by `worker_id` (their pseudonym, `w_...`, as in results) or by
    `assignment_id` (one of their answers in your bundles). `client_token` makes a retried
    POST one bonus; `fee` is the platform fee charged on top."""

    worker_id = serializers.CharField(required=False, max_length=64)
    assignment_id = serializers.IntegerField(required=False, write_only=True, min_value=1)
    amount = serializers.IntegerField(source="amount_minor", min_value=1)
    fee = serializers.IntegerField(source="fee_minor", read_only=True)
    currency = serializers.CharField(max_length=3, default="usd")

    class Meta:
        model = Bonus
        fields = [
            "id", "worker_id", "assignment_id", "amount", "fee", "currency", "reason",
            "client_token", "created_at",
        ]  # fmt: skip
        read_only_fields = ["id", "fee", "created_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("worker_id" in attrs) == ("assignment_id" in attrs):
            raise serializers.ValidationError(
                "Name the worker by worker_id (their pseudonym) or by assignment_id, not both."
            )
        return attrs

    def to_representation(self, instance: Bonus) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["worker_id"] = worker_public_id(instance.requester_id, instance.worker_id)
        return data


class BonusViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Bonuses the requester paid, newest first; POST pays one (see BonusSerializer)."""

    permission_classes = [IsRequester]
    serializer_class = BonusSerializer

    def get_queryset(self) -> QuerySet[Bonus]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Bonus.objects.none()
        return Bonus.objects.filter(requester=self.request.user).order_by("-created_at", "-pk")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        bonus = bonuses.bonus_grant(
            requester=request.user,
            worker_public_id=data.get("worker_id"),
            assignment_id=data.get("assignment_id"),
            amount_minor=data["amount_minor"],
            currency=data["currency"],
            reason=data["reason"],
            client_token=data["client_token"],
        )
        return Response(self.get_serializer(bonus).data, status=status.HTTP_201_CREATED)
