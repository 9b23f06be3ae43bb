"""Bundles, items, assignments and their results.

State fields change only through `tasks.services` (a transition map, a conditional UPDATE of
exactly one row, a history row where audit matters). Money never lives here: the ledger in
`payments` is the only record of who owns what."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class BundleStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"


class PayFloorState(models.TextChoices):
    PILOT = "pilot", "Pilot: measuring the work time"
    OK = "ok", "At or above the pay floor"
    BELOW = "below", "Below the pay floor: paused for the requester"
    TOPUP = "topup", "Below the floor: the requester tops every worker up"


class Bundle(models.Model):
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bundles"
    )
    title = models.CharField(max_length=200)
    instructions = models.TextField(blank=True)
    question = models.JSONField(help_text="Question schema: see tasks.schema")
    # Integer minor units of `currency`; fixed once published (escrow was reserved at this rate).
    reward_minor = models.PositiveIntegerField()
    currency = models.CharField(max_length=3, default="usd")
    min_overlap = models.PositiveSmallIntegerField(default=1)
    max_overlap = models.PositiveSmallIntegerField(default=1)
    target_confidence = models.FloatField(null=True, blank=True)
    gold_rate = models.FloatField(default=0.0)
    min_gold_accuracy = models.FloatField(null=True, blank=True)
    time_limit_seconds = models.PositiveIntegerField(default=600)
    auto_approve_after_seconds = models.PositiveIntegerField(default=3 * 24 * 3600)
    expires_at = models.DateTimeField(null=True, blank=True)
    requirements = models.JSONField(default=list, blank=True)
    # Quality rules (Toloka-style): block a worker from the bundle once the upper bound of their
    # gold accuracy (Wilson interval) falls under min_gold_accuracy after min_gold_answers gold
    # answers, or when more than max_fast_fraction of their answers beat min_seconds_per_task.
    min_gold_answers = models.PositiveSmallIntegerField(default=4)
    min_seconds_per_task = models.FloatField(null=True, blank=True)
    max_fast_fraction = models.FloatField(default=0.5)
    reject_blocked_work = models.BooleanField(
        default=False, help_text="Reject a blocked worker's unreviewed work here and re-queue it."
    )
    gold_feedback = models.BooleanField(
        default=False,
        help_text="Tell workers whether their gold answer was right (never the answer).",
    )
    # The rules engine: a list of `collector -> condition -> action` rules, validated by
    # `tasks.quality.rules_engine.quality_rules_validate` (the fields above stay shorthands).
    quality_rules = models.JSONField(default=list, blank=True)
    # Annotation types only: after a gold answer the worker also sees the expected shapes (the
    # gold boxes, spans, text) and their score, so they learn. Safe because a worker never gets
    # the same item twice: what they see can only help on other items.
    gold_feedback_expected = models.BooleanField(
        default=False,
        help_text="Annotation types: after a gold answer, show the worker the expected answer.",
    )
    # Gold judgments still paid for by escrow (reserved at publish at the gold rate); a gold
    # claim takes one, a returned, expired or rejected gold claim gives it back. Never negative.
    gold_slots_open = models.PositiveIntegerField(default=0)
    # The closed loop (DESIGN.md): the requester's opt-in, as validated by
    # `tasks.assist.settings.assist_validate`; None means nothing about the bundle changes.
    assist = models.JSONField(null=True, blank=True, default=None)
    # What the loop found out by itself (auto-accept switched off by the audit, the last model
    # failure), kept apart from the requester's settings so their choice is never rewritten.
    assist_status = models.JSONField(default=dict, blank=True)
    # Fair pay (`tasks.payfloor`): the requester's estimate of one task's work time, the
    # pilot's measured median, and where the bundle stands against the platform's hourly floor.
    estimated_seconds = models.PositiveIntegerField(null=True, blank=True)
    pilot_median_seconds = models.FloatField(null=True, blank=True)
    pay_floor_state = models.CharField(
        max_length=12, choices=PayFloorState.choices, default=PayFloorState.PILOT
    )
    # An exam (#13): passing this bundle's gold grants the requester's qualification, validated
    # by `tasks.quality.exams.exam_validate`; None for ordinary bundles.
    exam = models.JSONField(null=True, blank=True, default=None)
    # Runs until its requester closes it (an MTurk HIT type): items complete, it stays live.
    open_ended = models.BooleanField(default=False, db_default=False)
    # A word the task asks automated agents (only) to include: hidden from people, in the DOM;
    # an answer containing it reveals an agent (the `agent_canary` collector). Blank: none.
    agent_canary = models.CharField(max_length=40, blank=True, default="", db_default="")
    # How many of its gold items are training (served first; `exams.training_items_set`).
    training_items = models.PositiveIntegerField(default=0, db_default=0)
    status = models.CharField(
        max_length=16, choices=BundleStatus.choices, default=BundleStatus.DRAFT, db_index=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(max_overlap__gte=models.F("min_overlap")) & Q(min_overlap__gte=0),
                name="bundle_overlap_range",
            ),
            models.CheckConstraint(
                condition=Q(gold_rate__gte=0) & Q(gold_rate__lte=1), name="bundle_gold_rate_range"
            ),
        ]
        indexes = [models.Index(fields=["requester", "status"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    @property
    def is_dynamic_overlap(self) -> bool:
        return self.max_overlap > self.min_overlap


class BundleEvent(models.Model):
    """Audit trail of a bundle's state changes (who, when, why)."""

    bundle = models.ForeignKey(Bundle, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=16)
    to_status = models.CharField(max_length=16)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.bundle_id}: {self.from_status or 'new'} -> {self.to_status}"


class ItemState(models.TextChoices):
    # open: claimable (slots_open > 0); full: every slot is claimed or answered, waiting on
    # workers; complete: has all the judgments it needs. Only `open` rows are in the claim index.
    OPEN = "open", "Open"
    FULL = "full", "Full"
    COMPLETE = "complete", "Complete"


class Item(models.Model):
    bundle = models.ForeignKey(Bundle, on_delete=models.CASCADE, related_name="items")
    external_id = models.CharField(max_length=200, blank=True, default="")
    payload = models.JSONField()
    # The gold answer is never serialised to a worker (see tasks.api.serializers).
    gold = models.JSONField(null=True, blank=True)
    is_gold = models.BooleanField(default=False)
    # Training (gold only): served to a worker before their other tasks here, and its
    # explanation shown once they have answered it.
    is_training = models.BooleanField(default=False, db_default=False)
    explanation = models.TextField(blank=True, default="", db_default="")
    state = models.CharField(max_length=8, choices=ItemState.choices, default=ItemState.OPEN)
    priority = models.IntegerField(default=0, help_text="Lower is served first.")
    # Judgment slots not yet handed out. Never negative: a claim takes one under a row lock
    # (or an atomic conditional UPDATE); return, expiry and rejection give one back.
    slots_open = models.PositiveSmallIntegerField(default=1)
    judgments_submitted = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["bundle", "external_id"],
                condition=~Q(external_id=""),
                name="item_external_id_unique",
            ),
        ]
        indexes = [
            # The claim path: open items of a bundle in serving order. Partial, so rows that
            # are full or complete (most of a busy bundle) are not in it at all.
            models.Index(
                fields=["bundle", "is_gold", "priority", "id"],
                condition=Q(state="open"),
                name="item_claim_open",
            ),
        ]

    def __str__(self) -> str:
        return f"item {self.pk} ({self.external_id or 'no external id'})"


class AssignmentStatus(models.TextChoices):
    CLAIMED = "claimed", "Claimed"
    SUBMITTED = "submitted", "Submitted"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    RETURNED = "returned", "Returned"
    EXPIRED = "expired", "Expired"


class Assignment(models.Model):
    """One worker's work on one item. Never deleted: expired and returned claims keep their
    history (who held what, when: `returned_at`, or an expired claim's `deadline`)."""

    # Single-column FK indexes are left out on purpose: (bundle, status), (worker, status) and
    # the unique (item, worker) serve those lookups, and every index costs on the claim path.
    # `bundle` repeats item.bundle (claims write it from the item row they take), so the
    # database does not check it against tasks_bundle: that check locks the bundle row on
    # every claim, one row that all of a bundle's workers share (FOR KEY SHARE piles up
    # multixacts under load). Deleting a bundle still cascades, through Django and item.
    bundle = models.ForeignKey(
        Bundle,
        on_delete=models.CASCADE,
        related_name="assignments",
        db_index=False,
        db_constraint=False,
    )
    item = models.ForeignKey(
        Item, on_delete=models.CASCADE, related_name="assignments", db_index=False
    )
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="assignments",
        db_index=False,
    )
    status = models.CharField(
        max_length=16, choices=AssignmentStatus.choices, default=AssignmentStatus.CLAIMED
    )
    is_gold = models.BooleanField(default=False)
    answer = models.JSONField(null=True, blank=True)
    gold_correct = models.BooleanField(null=True, blank=True)
    # Annotation types: how well a gold answer matched, in [0, 1] (F1 of shapes, 1 - edit
    # distance, ...); `gold_correct` says whether that passed. None for the plain types.
    gold_score = models.FloatField(null=True, blank=True)
    claimed_at = models.DateTimeField()
    deadline = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    seconds_spent = models.FloatField(null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    returned_at = models.DateTimeField(null=True, blank=True)
    auto_approved = models.BooleanField(default=False)
    reject_reason = models.TextField(blank=True)

    class Meta:
        constraints = [
            # A worker never gets the same item twice, whatever the concurrency.
            models.UniqueConstraint(fields=["item", "worker"], name="assignment_item_worker"),
            # At most one live claim per worker and bundle. The claim statement relies on it
            # instead of looking for a held claim first; expiry scans it for due deadlines.
            models.UniqueConstraint(
                fields=["worker", "bundle"],
                condition=Q(status="claimed"),
                name="assignment_one_live_claim",
            ),
        ]
        indexes = [
            # Also serves auto-approval (per bundle, status submitted): no separate index, since
            # every index on this table is paid for on each claim and submit.
            models.Index(fields=["bundle", "status"]),
            models.Index(fields=["worker", "status"]),
        ]

    def __str__(self) -> str:
        return f"assignment {self.pk} ({self.status})"


class ItemResult(models.Model):
    """The aggregated answer of an item (written by the quality engine)."""

    item = models.OneToOneField(Item, on_delete=models.CASCADE, related_name="result")
    label = models.JSONField(null=True)
    confidence = models.FloatField(null=True)
    method = models.CharField(max_length=32)
    judgments = models.PositiveIntegerField(default=0)
    # The closed loop's provenance: "human", "model+human" or "model"; audited items were
    # decided by people alone to check the model; the model version whose prediction counted.
    provenance = models.CharField(max_length=12, default="human")
    audited = models.BooleanField(default=False)
    model_version = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"result of item {self.item_id}: {self.label} ({self.confidence})"


class WorkerBundleStats(models.Model):
    """Per (worker, bundle) counters and standing. Counters change by `F()` updates inside the
    transaction that changes the assignment they count."""

    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bundle_stats"
    )
    bundle = models.ForeignKey(Bundle, on_delete=models.CASCADE, related_name="worker_stats")
    submitted = models.PositiveIntegerField(default=0)
    approved = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    gold_seen = models.PositiveIntegerField(default=0)
    gold_correct = models.PositiveIntegerField(default=0)
    blocked = models.BooleanField(default=False)
    blocked_reason = models.TextField(blank=True)
    blocked_at = models.DateTimeField(null=True, blank=True)
    # After an unblock the rules weigh only answers submitted since, so old evidence cannot
    # re-block a worker the requester chose to trust again.
    unblocked_at = models.DateTimeField(null=True, blank=True)
    # The worker's accuracy here as the last whole-bundle Dawid-Skene run estimated it.
    estimated_accuracy = models.FloatField(null=True, blank=True)
    # Rule actions short of a block: paused (cannot claim here until the requester resumes;
    # answers still count) and the weight of their votes in the live decision (1 = full).
    # Database defaults: the hot path inserts these rows with its own SQL.
    paused = models.BooleanField(default=False, db_default=False)
    paused_reason = models.TextField(blank=True, default="", db_default="")
    weight = models.FloatField(default=1.0, db_default=1.0)

    class Meta:
        verbose_name_plural = "worker bundle stats"
        constraints = [
            models.UniqueConstraint(fields=["worker", "bundle"], name="worker_bundle_stats_unique")
        ]

    def __str__(self) -> str:
        return f"worker {self.worker_id} in bundle {self.bundle_id}"


class QualityRuleEvent(models.Model):
    """One firing of a bundle's quality rule: which rule, on what figures, what it did. The
    history a requester or an admin reads, and reverses (the worker sees the reason)."""

    bundle = models.ForeignKey(Bundle, on_delete=models.CASCADE, related_name="rule_events")
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rule_events"
    )
    rule = models.JSONField()
    figures = models.JSONField()
    action = models.CharField(max_length=32)
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    reversed_at = models.DateTimeField(null=True, blank=True)
    reversed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} of worker {self.worker_id} in bundle {self.bundle_id}"


class AnswerSignals(models.Model):
    """How a free-text or transcription answer was produced, as the work page reported it:
    pastes and typing time. Read by the machine-answer collectors and the requester; never
    shown to other workers."""

    assignment = models.OneToOneField(
        Assignment, on_delete=models.CASCADE, related_name="signals", primary_key=True
    )
    paste_events = models.PositiveIntegerField(default=0)
    pasted_chars = models.PositiveIntegerField(default=0)
    typed_chars = models.PositiveIntegerField(default=0)
    typing_seconds = models.FloatField(default=0.0)
    answer_chars = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name_plural = "answer signals"

    def __str__(self) -> str:
        return f"signals of assignment {self.assignment_id}"


class Prediction(models.Model):
    """A model's guess for one item (the requester's own model posted through the API, or a
    built-in one): the label in the answer's shape, its confidence and the model version.
    The newest version of an item's predictions is the one the stopping rule uses."""

    bundle = models.ForeignKey(Bundle, on_delete=models.CASCADE, related_name="predictions")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="predictions")
    label = models.JSONField()
    confidence = models.FloatField()
    model_version = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["item", "model_version"], name="prediction_item_version_unique"
            )
        ]
        indexes = [models.Index(fields=["bundle", "model_version"])]

    def __str__(self) -> str:
        return f"prediction v{self.model_version} for item {self.item_id}: {self.label}"


class AssistModelVersion(models.Model):
    """One version of a bundle's assist model: where it came from ("external" for posted
    predictions), how many consensus labels it saw and its held-out accuracy (the learning
    curve is these rows in order)."""

    bundle = models.ForeignKey(Bundle, on_delete=models.CASCADE, related_name="model_versions")
    version = models.PositiveIntegerField()
    kind = models.CharField(max_length=200)
    trained_on = models.PositiveIntegerField(default=0)
    predictions = models.PositiveIntegerField(default=0)
    heldout_accuracy = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["bundle", "version"], name="assist_model_version_unique"
            )
        ]

    def __str__(self) -> str:
        return f"bundle {self.bundle_id} model v{self.version}"


# Message threads (issue 15), in their own module to keep this one short.
# Due process and reports (issue 15), in their own module to keep this one short.
from .fairness_models import (  # noqa: E402, F401
    Appeal,
    AppealKind,
    AppealStatus,
    BlockScope,
    BundleReport,
    FloorTopUp,
    ReportReason,
    RequesterStanding,
    WorkerBlock,
)
from .messaging_models import ClaimReminder, Message, MessageThread  # noqa: E402, F401


class WorkerRing(models.Model):
    """A group of workers whose mutual agreement on non-gold items is far above what their
    agreement with the rest of the crowd predicts (`tasks.quality.rings`): flagged for the
    requester and admin with the evidence, and counted as about one voter in aggregation.
    Written by the whole-bundle run; a requester or admin may dismiss it (then it no longer
    down-weights anyone, and the same members are not flagged again)."""

    bundle = models.ForeignKey(Bundle, on_delete=models.CASCADE, related_name="rings")
    # Sorted worker ids (internal); the API shows the requester's pseudonyms.
    members = models.JSONField()
    # The evidence: one row per flagged pair {"a", "b", "shared", "agreed", "expected", "p"}.
    pairs = models.JSONField()
    shared_items = models.PositiveIntegerField(default=0)
    observed_agreement = models.FloatField()
    expected_agreement = models.FloatField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    dismissed_at = models.DateTimeField(null=True, blank=True)
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"ring of {len(self.members)} workers in bundle {self.bundle_id}"


class BundleQuality(models.Model):
    """A bundle's live quality state: when the workers' Dawid-Skene estimates were last
    re-run (and over how many judgments, in how long: the debounce of `tasks.quality.live`
    reads it), and the confidence calibration fitted on held-out gold with its reliability
    diagram (`tasks.quality.calibration`)."""

    bundle = models.OneToOneField(Bundle, on_delete=models.CASCADE, related_name="quality")
    estimated_at = models.DateTimeField(null=True, blank=True)
    estimated_judgments = models.PositiveIntegerField(default=0)
    estimate_seconds = models.FloatField(default=0.0)
    # The last live-label pass (items judged since are labelled by the next one).
    labelled_at = models.DateTimeField(null=True, blank=True)
    # {"method": {"split": [[x...], [y...]], "unanimous": [[x...], [y...]]}, "samples": n}
    calibration = models.JSONField(default=dict, blank=True)
    # Reliability diagram: [{"low", "high", "n", "confidence", "accuracy"}] on gold.
    reliability = models.JSONField(default=list, blank=True)
    # {"<worker id>": ring id} of the rings in force (not dismissed): the per-item decision
    # counts each ring as about one voter.
    ring_of_worker = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name_plural = "bundle quality"

    def __str__(self) -> str:
        return f"quality of bundle {self.bundle_id}"
