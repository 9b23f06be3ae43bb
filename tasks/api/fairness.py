"""Fair pay and due process in the API (issue 15).

* `/api/v1/appeals/`: a worker appeals a rejection (`assignment_id`) or a block (`block_id`);
  the requester answers (`POST …/answer/`: uphold with a reason, or overturn). Each side sees
  only its own: a worker their appeals, a requester the appeals against them (404 otherwise).
* `/api/v1/blocks/`: a requester blocks a worker (by pseudonym) in one bundle or across all
  their bundles, lists and lifts their blocks; a worker lists the blocks on them.
* `/api/v1/reports/`: a worker reports a bundle; its requester reads the reports.
* `/api/v1/bundles/<id>/pay-floor/`: the requester's answer to a pilot below the floor.
* `/api/v1/work/pay/`: a worker's effective hourly pay per bundle.

Workers appear to requesters by pseudonym only; requesters to workers by nothing personal.
"""

from __future__ import annotations

from typing import Any

from django.db.models import F, Q, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.errors import Forbidden, NotFound
from marketplace.permissions import IsRequester, IsWorker
from tasks.fairness import appeals, blocks, payfloor_actions, reports
from tasks.fairness.selectors import worker_pay_history
from tasks.models import Appeal, Bundle, BundleReport, ReportReason, WorkerBlock
from tasks.selectors import worker_public_id

from .serializers import BundleSerializer


def _worker_shown(obj: Any, request: Request) -> str | None:
    """The worker's pseudonym for the requester who sees them; None for the worker."""
    requester_id = getattr(obj, "requester_id", None)
    if requester_id is None and getattr(obj, "bundle", None) is not None:
        requester_id = obj.bundle.requester_id
    if requester_id is None or request.user.pk == obj.worker_id:
        return None
    return worker_public_id(requester_id, obj.worker_id)


class AppealSerializer(serializers.ModelSerializer):
    """POST with `assignment_id` (a rejected answer of yours) or `block_id` (a block on you)
    and a `message`. `worker_id` is the worker's pseudonym, shown to the requester only."""

    assignment_id = serializers.IntegerField(required=False, min_value=1)
    block_id = serializers.IntegerField(required=False, min_value=1)
    bundle_id = serializers.SerializerMethodField()
    reject_reason = serializers.SerializerMethodField()
    worker_id = serializers.SerializerMethodField()
    message = serializers.CharField(max_length=4000)

    class Meta:
        model = Appeal
        fields = [
            "id", "kind", "status", "assignment_id", "block_id", "bundle_id", "reject_reason",
            "worker_id", "message", "answer", "created_at", "answer_due_at", "answered_at",
            "overturned_on_timeout",
        ]  # fmt: skip
        read_only_fields = [
            "id", "kind", "status", "answer", "created_at", "answer_due_at", "answered_at",
            "overturned_on_timeout",
        ]  # fmt: skip

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("assignment_id" in attrs) == ("block_id" in attrs):
            raise serializers.ValidationError("Name an assignment_id or a block_id, not both.")
        return attrs

    def get_bundle_id(self, appeal: Appeal) -> int | None:
        if appeal.assignment_id is not None:
            return appeal.assignment.bundle_id
        return appeal.block.bundle_id if appeal.block is not None else None

    def get_reject_reason(self, appeal: Appeal) -> str | None:
        return appeal.assignment.reject_reason if appeal.assignment_id is not None else None

    def get_worker_id(self, appeal: Appeal) -> str | None:
        return _worker_shown(appeal, self.context["request"])


class AppealAnswerSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["uphold", "overturn"])
    reason = serializers.CharField(required=False, allow_blank=True, max_length=4000)


class AppealViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Appeals you made (a worker) or must answer (a requester), newest first."""

    lookup_value_regex = "[0-9]+"  # an id that is no number is a 404, never a 500

    permission_classes = [IsAuthenticated]
    serializer_class = AppealSerializer

    def get_queryset(self) -> QuerySet[Appeal]:
        if getattr(self, "swagger_fake_view", False):
            return Appeal.objects.none()
        user = self.request.user
        return Appeal.objects.filter(Q(worker=user) | Q(requester=user)).select_related(
            "assignment", "block"
        )

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not request.user.is_worker:
            raise Forbidden("Only workers appeal.", code="not_a_worker")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if "assignment_id" in data:
            appeal = appeals.appeal_rejection(
                worker=request.user, assignment_id=data["assignment_id"], message=data["message"]
            )
        else:
            appeal = appeals.appeal_block(
                worker=request.user, block_id=data["block_id"], message=data["message"]
            )
        return Response(self.get_serializer(appeal).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=AppealAnswerSerializer, responses=AppealSerializer)
    @action(detail=True, methods=["post"], permission_classes=[IsRequester])
    def answer(self, request: Request, pk: str | None = None) -> Response:
        """Uphold (a reason is required) or overturn (the answer is paid, the block lifted)."""
        if not appeals.appeals_to_answer(request.user).filter(pk=int(pk or 0)).exists():
            raise appeals.AppealNotFound("No such appeal.")
        serializer = AppealAnswerSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        appeal = appeals.appeal_answer(
            appeal_id=int(pk or 0),
            by=request.user,
            overturn=serializer.validated_data["decision"] == "overturn",
            reason=serializer.validated_data.get("reason", ""),
        )
        return Response(self.get_serializer(appeal).data)


class BlockSerializer(serializers.ModelSerializer):
    """POST (requesters): `worker_id` (pseudonym), `scope` "bundle" (with `bundle_id`) or
    "requester" (all your bundles), and a `reason` the worker reads."""

    worker_id = serializers.CharField(write_only=True, max_length=64)
    worker = serializers.SerializerMethodField()
    bundle_id = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    scope = serializers.ChoiceField(choices=["bundle", "requester", "platform"])
    reason = serializers.CharField(max_length=2000)

    class Meta:
        model = WorkerBlock
        fields = [
            "id", "scope", "worker_id", "worker", "bundle_id", "reason", "created_at",
            "lifted_at", "lift_reason",
        ]  # fmt: skip
        read_only_fields = ["id", "created_at", "lifted_at", "lift_reason"]

    def get_worker(self, block: WorkerBlock) -> str | None:
        return _worker_shown(block, self.context["request"])

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["scope"] == "platform":
            raise serializers.ValidationError("Platform bans are for admins (the admin site).")
        if (attrs["scope"] == "bundle") != bool(attrs.get("bundle_id")):
            raise serializers.ValidationError("A bundle block names its bundle_id; others none.")
        return attrs


class LiftSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class BlockViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Blocks you made (a requester) or that are on you (a worker), active first."""

    lookup_value_regex = "[0-9]+"  # an id that is no number is a 404, never a 500

    permission_classes = [IsAuthenticated]
    serializer_class = BlockSerializer

    def get_queryset(self) -> QuerySet[WorkerBlock]:
        if getattr(self, "swagger_fake_view", False):
            return WorkerBlock.objects.none()
        user = self.request.user
        return WorkerBlock.objects.filter(Q(worker=user) | Q(requester=user)).order_by(
            F("lifted_at").asc(nulls_first=True), "-created_at", "-pk"
        )

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not request.user.is_requester:
            raise Forbidden("Only requesters block workers.", code="not_a_requester")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        worker = blocks.requester_worker(request.user, data["worker_id"])
        if data["scope"] == "bundle":
            block = blocks.block_in_bundle(
                requester=request.user, bundle_id=data["bundle_id"], worker=worker,
                reason=data["reason"],
            )  # fmt: skip
        else:
            block = blocks.block_across_requester(
                requester=request.user, worker=worker, reason=data["reason"]
            )
        return Response(self.get_serializer(block).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=LiftSerializer, responses=BlockSerializer)
    @action(detail=True, methods=["post"], permission_classes=[IsRequester])
    def lift(self, request: Request, pk: str | None = None) -> Response:
        """Lift one of your blocks; the row stays, with when and why."""
        serializer = LiftSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        block = blocks.block_lift(
            block_id=int(pk or 0),
            by=request.user,
            reason=serializer.validated_data.get("reason", ""),
        )
        return Response(self.get_serializer(block).data)


class ReportSerializer(serializers.ModelSerializer):
    bundle_id = serializers.IntegerField(min_value=1)
    reason = serializers.ChoiceField(choices=ReportReason.choices)
    message = serializers.CharField(required=False, allow_blank=True, max_length=4000)
    worker_id = serializers.SerializerMethodField()

    class Meta:
        model = BundleReport
        fields = ["id", "bundle_id", "reason", "message", "worker_id", "created_at"]
        read_only_fields = ["id", "created_at"]

    def get_worker_id(self, report: BundleReport) -> str | None:
        return _worker_shown(report, self.context["request"])


class ReportViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """A worker's reports about bundles; a requester reads the reports on their bundles."""

    permission_classes = [IsAuthenticated]
    serializer_class = ReportSerializer

    def get_queryset(self) -> QuerySet[BundleReport]:
        if getattr(self, "swagger_fake_view", False):
            return BundleReport.objects.none()
        user = self.request.user  # staff read every report in the admin, not here
        return BundleReport.objects.filter(Q(worker=user) | Q(bundle__requester=user))

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not request.user.is_worker:
            raise Forbidden("Only workers report bundles.", code="not_a_worker")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        report = reports.bundle_report(
            worker=request.user, bundle_id=data["bundle_id"], reason=data["reason"],
            message=data.get("message", ""),
        )  # fmt: skip
        return Response(self.get_serializer(report).data, status=status.HTTP_201_CREATED)


class PayFloorSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["raise_reward", "confirm_topup"])
    reward = serializers.IntegerField(required=False, min_value=1, max_value=2**31 - 1)


class PayFloorView(APIView):
    """A pilot paid below the floor and paused the bundle: `raise_reward` (to at least the
    floor at the pilot's median time) or `confirm_topup` (every worker is topped up to the
    floor at completion). Either reserves escrow first and resumes the bundle."""

    permission_classes = [IsRequester]

    @extend_schema(request=PayFloorSerializer, responses=BundleSerializer)
    def post(self, request: Request, pk: int) -> Response:
        if not Bundle.objects.filter(pk=pk, requester=request.user).exists():
            raise NotFound("No such bundle.", code="bundle_not_found")
        serializer = PayFloorSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data["action"] == "raise_reward":
            if "reward" not in data:
                raise serializers.ValidationError({"reward": "Give the new reward."})
            bundle = payfloor_actions.payfloor_raise_reward(
                requester=request.user, bundle_id=pk, reward_minor=data["reward"]
            )
        else:
            bundle = payfloor_actions.payfloor_confirm_topup(requester=request.user, bundle_id=pk)
        return Response(BundleSerializer(bundle, context={"request": request}).data)


class BundlePaySerializer(serializers.Serializer):
    bundle_id = serializers.IntegerField()
    title = serializers.CharField()
    currency = serializers.CharField()
    approved = serializers.IntegerField()
    seconds = serializers.FloatField()
    rewards = serializers.IntegerField(source="rewards_minor")
    topups = serializers.IntegerField(source="topups_minor")
    hourly = serializers.IntegerField(source="hourly_minor", allow_null=True)
    floor_hourly = serializers.IntegerField(source="floor_hourly_minor")


class WorkPayView(APIView):
    """Your effective hourly pay per bundle: (rewards + top-ups) / the time you worked."""

    permission_classes = [IsWorker]

    @extend_schema(responses=BundlePaySerializer(many=True))
    def get(self, request: Request) -> Response:
        rows = worker_pay_history(request.user)
        return Response(BundlePaySerializer(rows, many=True).data)
