"""Shapes of the v1 API (DESIGN.md is the contract). Workers' serializers never carry gold,
other workers' answers, or requester-only fields."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from marketplace.api.fields import INT32_MAX, CurrencyField
from tasks.api.question_schema import QuestionField
from tasks.assist.selectors import assignment_prelabel
from tasks.media import payload_for_viewer
from tasks.models import Assignment, Bundle, Item, WorkerBundleStats
from tasks.quality.machine_signals import answer_signals_validate
from tasks.quality.rules import shorthand_rules
from tasks.selectors import bundle_fees, gold_feedback_for, worker_public_id


class FeeSerializer(serializers.Serializer):
    """The platform fee a bundle is charged at: `percent` of each reward, at least `minimum`;
    frozen when the bundle is published (`frozen`), today's settings before that."""

    percent = serializers.IntegerField()
    minimum = serializers.IntegerField()
    per_judgment = serializers.IntegerField()
    cost_per_judgment = serializers.IntegerField()
    effective_percent = serializers.FloatField(allow_null=True)
    frozen = serializers.BooleanField()


class BundleSerializer(serializers.ModelSerializer):
    reward = serializers.IntegerField(source="reward_minor", min_value=0, max_value=INT32_MAX)
    overlap = serializers.IntegerField(write_only=True, required=False, min_value=1, max_value=100)
    currency = CurrencyField(required=False, play_money=True)
    question = QuestionField()
    requirements = serializers.JSONField(required=False)
    quality_rules = serializers.JSONField(required=False)
    assist = serializers.JSONField(required=False, allow_null=True)
    exam = serializers.JSONField(required=False, allow_null=True)
    effective_rules = serializers.SerializerMethodField()
    fee = serializers.SerializerMethodField()

    class Meta:
        model = Bundle
        fields = [
            "id", "title", "instructions", "question", "reward", "currency", "overlap",
            "min_overlap", "max_overlap", "target_confidence", "gold_rate", "min_gold_accuracy",
            "time_limit_seconds", "auto_approve_after_seconds", "expires_at", "requirements",
            "min_gold_answers", "min_seconds_per_task", "max_fast_fraction",
            "reject_blocked_work", "gold_feedback", "gold_feedback_expected", "quality_rules",
            "assist", "estimated_seconds", "pay_floor_state", "pilot_median_seconds",
            "exam", "agent_canary", "training_items", "effective_rules",
            "status", "created_at", "published_at", "finished_at", "fee",
        ]  # fmt: skip
        read_only_fields = [
            "id", "status", "created_at", "published_at", "finished_at", "pay_floor_state",
            "pilot_median_seconds", "training_items",
        ]  # fmt: skip
        extra_kwargs = {
            # Bounded as the service checks them (overlap) or as the columns hold them: a value
            # past a column's range is a 400 here, never a database error.
            "min_overlap": {"required": False, "min_value": 0, "max_value": 100},
            "max_overlap": {"required": False, "min_value": 1, "max_value": 100},
            "time_limit_seconds": {"min_value": 1, "max_value": 7 * 24 * 3600},
            "auto_approve_after_seconds": {"min_value": 0, "max_value": 365 * 24 * 3600},
            "min_gold_answers": {"min_value": 0, "max_value": 1000},
            "target_confidence": {"min_value": 0.5, "max_value": 1},
            "gold_rate": {"min_value": 0, "max_value": 1},
            "min_gold_accuracy": {"min_value": 0, "max_value": 1},
            "min_seconds_per_task": {"min_value": 0, "max_value": 24 * 3600},
            "max_fast_fraction": {"min_value": 0, "max_value": 1},
            "estimated_seconds": {"min_value": 1, "max_value": 24 * 3600},
        }

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_effective_rules(self, bundle: Bundle) -> list[dict]:
        """Every rule the bundle applies: the old quality fields as the rules they stand for
        (marked `from`), then `quality_rules`."""
        return [*shorthand_rules(bundle), *(bundle.quality_rules or [])]

    def to_service_data(self) -> dict:
        """validated_data with the API's names mapped onto the model's."""
        return dict(self.validated_data)

    @extend_schema_field(FeeSerializer)
    def get_fee(self, bundle: Bundle) -> dict:
        """Computed once for every bundle of the page being serialised (one query)."""
        holder = self.parent if isinstance(self.parent, serializers.ListSerializer) else self
        cache = getattr(holder, "_fees", None)
        if cache is None or bundle.pk not in cache:
            many = holder is self.parent and holder.instance is not None
            cache = bundle_fees([*holder.instance] if many else [bundle])
            holder._fees = cache
        return cache.get(bundle.pk) or bundle_fees([bundle])[bundle.pk]


class BundleDetailSerializer(BundleSerializer):
    progress = serializers.SerializerMethodField()

    class Meta(BundleSerializer.Meta):
        fields = [*BundleSerializer.Meta.fields, "progress"]

    def get_progress(self, bundle: Bundle) -> dict:
        from tasks.selectors import bundle_progress

        return bundle_progress(bundle)


def _base_url(serializer: serializers.Serializer) -> str:
    """The site's root as the request reached it, so media URLs are absolute ("" without one)."""
    request = serializer.context.get("request")
    return request.build_absolute_uri("/") if request is not None else ""


class RequesterItemSerializer(serializers.ModelSerializer):
    """Items as their owner sees them, gold included; uploaded media as signed URLs (the
    storage key never leaves the server)."""

    payload = serializers.SerializerMethodField()

    def get_payload(self, item: Item) -> Any:
        return payload_for_viewer(item_id=item.pk, payload=item.payload, base_url=_base_url(self))

    class Meta:
        model = Item
        fields = [
            "id", "external_id", "payload", "gold", "is_gold", "state", "judgments_submitted",
            "slots_open", "created_at",
        ]  # fmt: skip


class UploadSummarySerializer(serializers.Serializer):
    created = serializers.IntegerField()
    gold = serializers.IntegerField()


class RequesterAssignmentSerializer(serializers.ModelSerializer):
    worker_id = serializers.SerializerMethodField()
    item_external_id = serializers.CharField(source="item.external_id", read_only=True)

    class Meta:
        model = Assignment
        fields = [
            "id", "bundle", "item", "item_external_id", "worker_id", "status", "is_gold",
            "answer", "gold_correct", "gold_score", "claimed_at", "deadline", "submitted_at",
            "seconds_spent", "reviewed_at", "auto_approved", "reject_reason",
        ]  # fmt: skip

    def get_worker_id(self, assignment: Assignment) -> str:
        return worker_public_id(assignment.bundle.requester_id, assignment.worker_id)


class RejectSerializer(serializers.Serializer):
    reason = serializers.CharField(allow_blank=False, max_length=2000)


class BulkReviewSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(), min_length=1, max_length=1000)
    action = serializers.ChoiceField(choices=["approve", "reject"])
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class BulkReviewResultSerializer(serializers.Serializer):
    done = serializers.ListField(child=serializers.IntegerField())
    errors = serializers.DictField()


class WorkerStatsSerializer(serializers.ModelSerializer):
    """A worker's standing and quality in one bundle, for its requester.

    The quality fields come from `tasks.quality.selectors.bundle_worker_report`, computed once
    for every worker of the list being serialised (two queries per page, not per worker)."""

    worker_id = serializers.SerializerMethodField()
    gold_accuracy = serializers.SerializerMethodField()
    gold_accuracy_low = serializers.SerializerMethodField()
    gold_accuracy_high = serializers.SerializerMethodField()
    consensus_agreement = serializers.SerializerMethodField()
    approval_rate = serializers.SerializerMethodField()
    median_seconds = serializers.SerializerMethodField()
    fast_fraction = serializers.SerializerMethodField()
    estimated_accuracy = serializers.SerializerMethodField()

    class Meta:
        model = WorkerBundleStats
        fields = [
            "worker_id", "submitted", "approved", "rejected", "gold_seen", "gold_correct",
            "gold_accuracy", "blocked", "blocked_reason", "blocked_at",
            "gold_accuracy_low", "gold_accuracy_high", "consensus_agreement", "approval_rate",
            "median_seconds", "fast_fraction", "estimated_accuracy",
        ]  # fmt: skip

    def get_worker_id(self, stats: WorkerBundleStats) -> str:
        return worker_public_id(stats.bundle.requester_id, stats.worker_id)

    def get_gold_accuracy(self, stats: WorkerBundleStats) -> float | None:
        return stats.gold_correct / stats.gold_seen if stats.gold_seen else None

    def get_gold_accuracy_low(self, stats: WorkerBundleStats) -> float | None:
        return self._quality(stats).get("gold_accuracy_low")

    def get_gold_accuracy_high(self, stats: WorkerBundleStats) -> float | None:
        return self._quality(stats).get("gold_accuracy_high")

    def get_consensus_agreement(self, stats: WorkerBundleStats) -> float | None:
        return self._quality(stats).get("consensus_agreement")

    def get_approval_rate(self, stats: WorkerBundleStats) -> float | None:
        return self._quality(stats).get("approval_rate")

    def get_median_seconds(self, stats: WorkerBundleStats) -> float | None:
        return self._quality(stats).get("median_seconds")

    def get_fast_fraction(self, stats: WorkerBundleStats) -> float | None:
        return self._quality(stats).get("fast_fraction")

    def get_estimated_accuracy(self, stats: WorkerBundleStats) -> float | None:
        return self._quality(stats).get("estimated_accuracy")

    def _quality(self, stats: WorkerBundleStats) -> dict:
        """This worker's report row. A view may pass `context["quality_report"]` ({(bundle id,
        worker id): row}); otherwise it is computed here once for every instance of the list
        being serialised (the parent ListSerializer's page), grouped by bundle."""
        from tasks.quality.selectors import bundle_worker_report

        given = self.context.get("quality_report")
        if given is not None:
            return given.get((stats.bundle_id, stats.worker_id), {})
        holder = self.parent if isinstance(self.parent, serializers.ListSerializer) else self
        cache = getattr(holder, "_quality_report", None)
        if cache is None or (stats.bundle_id, stats.worker_id) not in cache:
            instances = list(holder.instance) if holder is self.parent else [stats]
            if all(s.pk != stats.pk for s in instances):
                instances.append(stats)
            by_bundle: dict[int, tuple[Bundle, list[int]]] = {}
            for s in instances:
                by_bundle.setdefault(s.bundle_id, (s.bundle, []))[1].append(s.worker_id)
            cache = {}
            for bundle_id, (bundle, worker_ids) in by_bundle.items():
                for row in bundle_worker_report(bundle, worker_ids=worker_ids):
                    cache[(bundle_id, row["worker_id"])] = row
            holder._quality_report = cache
        return cache.get((stats.bundle_id, stats.worker_id), {})


class WorkerBlockSerializer(serializers.Serializer):
    worker_id = serializers.CharField()
    reason = serializers.CharField(required=False, allow_blank=True, default="")
    dry_run = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Block nothing: answer what a block would do (items reopened, money reserved).",
    )


class BlockPreviewSerializer(serializers.Serializer):
    """What a block would do (`tasks.quality.block_preview.BlockPreview`)."""

    worker_id = serializers.CharField()
    live_claims = serializers.IntegerField()
    answers_rejected = serializers.IntegerField()
    items_redecided = serializers.IntegerField()
    items_reopened = serializers.IntegerField()
    replacements = serializers.IntegerField()
    reserve_minor = serializers.IntegerField()
    currency = serializers.CharField()
    funded = serializers.BooleanField()


# --- worker side -------------------------------------------------------------------------------


class WorkBundleSerializer(serializers.ModelSerializer):
    reward = serializers.IntegerField(source="reward_minor")
    # null where the list was not annotated with the count (a single bundle's page).
    tasks_left = serializers.IntegerField(read_only=True, default=None, allow_null=True)

    class Meta:
        model = Bundle
        fields = [
            "id", "title", "instructions", "question", "reward", "currency",
            "time_limit_seconds", "tasks_left", "published_at",
        ]  # fmt: skip


class WorkItemSerializer(serializers.Serializer):
    """What a worker sees of an item: its id and payload, never gold or is_gold."""

    id = serializers.IntegerField()
    payload = serializers.JSONField()


class WorkAssignmentSerializer(serializers.ModelSerializer):
    item = serializers.SerializerMethodField()
    question = QuestionField(source="bundle.question", read_only=True)
    instructions = serializers.CharField(source="bundle.instructions", read_only=True)
    reward = serializers.IntegerField(source="bundle.reward_minor", read_only=True)
    currency = serializers.CharField(source="bundle.currency", read_only=True)
    bundle_id = serializers.IntegerField(read_only=True)
    feedback = serializers.SerializerMethodField()
    feedback_expected = serializers.SerializerMethodField()
    explanation = serializers.SerializerMethodField()
    prelabel = serializers.SerializerMethodField()

    class Meta:
        model = Assignment
        fields = [
            "id", "bundle_id", "item", "question", "instructions", "deadline", "reward",
            "currency", "status", "answer", "submitted_at", "reviewed_at", "reject_reason",
            "feedback", "feedback_expected", "explanation", "prelabel",
        ]  # fmt: skip

    def get_prelabel(self, assignment: Assignment) -> dict | None:
        """The model's suggestion (`label`, `confidence`, `model_version`) on a claimed task of
        a bundle with `assist.show_prelabels`; None otherwise (`assignment_prelabel`)."""
        return assignment_prelabel(assignment)

    def get_feedback(self, assignment: Assignment) -> str | None:
        """Training feedback on gold: right or wrong, never the gold answer. Present (as None)
        on every assignment, so the field alone never tells a worker which task is gold."""
        feedback = gold_feedback_for(assignment, assignment.bundle)
        if feedback is None:
            return None
        return "correct" if feedback.correct else "incorrect"

    def get_explanation(self, assignment: Assignment) -> str | None:
        """A training task's explanation, once answered (None on every other assignment)."""
        feedback = gold_feedback_for(assignment, assignment.bundle)
        return feedback.explanation or None if feedback is not None else None

    def get_feedback_expected(self, assignment: Assignment) -> dict | None:
        """Annotation bundles with `gold_feedback_expected`: once a gold task is answered, the
        expected answer (`answer`, in the answer's shape) and the worker's `score` against it,
        so they learn. Present (as None) on every assignment, like `feedback`."""
        feedback = gold_feedback_for(assignment, assignment.bundle)
        if feedback is None or not feedback.shows_expected:
            return None
        return {"answer": feedback.expected, "score": feedback.score}

    def get_item(self, assignment: Assignment) -> dict:
        """The item's payload with uploaded media as signed URLs (served while the claim is
        live) and `_media` removed."""
        payload = payload_for_viewer(
            item_id=assignment.item_id, payload=assignment.item.payload, base_url=_base_url(self)
        )
        return WorkItemSerializer({"id": assignment.item_id, "payload": payload}).data


class AnswerSignalsSerializer(serializers.Serializer):
    """How a text or transcription answer was produced (all optional, non-negative)."""

    paste_events = serializers.IntegerField(min_value=0, required=False)
    pasted_chars = serializers.IntegerField(min_value=0, required=False)
    typed_chars = serializers.IntegerField(min_value=0, required=False)
    typing_seconds = serializers.FloatField(min_value=0, required=False)


class SubmitSerializer(serializers.Serializer):
    answer = serializers.JSONField(allow_null=True)
    signals = AnswerSignalsSerializer(required=False, allow_null=True)

    def validate_signals(self, value: Any) -> Any:
        return answer_signals_validate(self.initial_data.get("signals"))


class NoNextSerializer(serializers.Serializer):
    """Why a submission with `?next=1` came back without a next task."""

    code = serializers.CharField()
    detail = serializers.CharField()


class WorkSubmittedSerializer(WorkAssignmentSerializer):
    """The submitted assignment; with `?next=1` also the worker's next task in the bundle
    (`next`), or why there is none (`no_next`, e.g. `no_tasks_available`)."""

    next = WorkAssignmentSerializer(read_only=True, allow_null=True, required=False)
    no_next = NoNextSerializer(read_only=True, allow_null=True, required=False)

    class Meta(WorkAssignmentSerializer.Meta):
        fields = [*WorkAssignmentSerializer.Meta.fields, "next", "no_next"]
