"""Fair pay and due process (issue 15): blocks with their history, appeals, workers' reports
about bundles, and the top-ups to the pay floor paid at completion.

Registered through `tasks.models` (which imports this module); the foreign keys name models
by string, so this module imports nothing of tasks. State changes go through
`tasks.fairness` (blocks, appeals, reports) and `tasks.payfloor` (top-ups).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.models import User


class BlockScope(models.TextChoices):
    BUNDLE = "bundle", "This bundle"
    REQUESTER = "requester", "All of a requester's bundles"
    PLATFORM = "platform", "The whole platform (an admin's ban)"


class WorkerBlock(models.Model):
    """One block of a worker, kept forever: who blocked, where, why, and when and why it was
    lifted. The active block is the row with no `lifted_at`; lifting writes the same row, so
    each row is the block's whole history. What a block does (the claim path refuses) lives
    on the flags it sets: `WorkerBundleStats.blocked` per bundle, the profile's status for a
    platform ban."""

    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="blocks"
    )
    scope = models.CharField(max_length=12, choices=BlockScope.choices)
    # The requester whose bundle(s) the block covers (null for a platform ban).
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="worker_blocks_given",
    )
    bundle = models.ForeignKey(
        "tasks.Bundle", on_delete=models.CASCADE, null=True, blank=True, related_name="blocks"
    )
    reason = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )  # fmt: skip
    lift_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(scope="bundle", bundle__isnull=False, requester__isnull=False)
                    | Q(scope="requester", bundle__isnull=True, requester__isnull=False)
                    | Q(scope="platform", bundle__isnull=True, requester__isnull=True)
                ),
                name="worker_block_scope_fields",
            ),
        ]
        indexes = [models.Index(fields=["worker", "lifted_at"])]

    def __str__(self) -> str:
        return f"{self.scope} block of worker {self.worker_id}"

    @property
    def is_active(self) -> bool:
        return self.lifted_at is None


class AppealKind(models.TextChoices):
    REJECTION = "rejection", "A rejected answer"
    BLOCK = "block", "A block"


class AppealStatus(models.TextChoices):
    OPEN = "open", "Open"
    UPHELD = "upheld", "Upheld (the decision stands)"
    OVERTURNED = "overturned", "Overturned"


class Appeal(models.Model):
    """A worker's appeal of a rejection or of a block, answered by the requester (an admin for
    a platform ban). A rejection appeal left unanswered past `answer_due_at` is overturned and
    paid by the beat (`tasks.fairness.appeals.appeals_overturn_due`)."""

    kind = models.CharField(max_length=12, choices=AppealKind.choices)
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="appeals"
    )
    # Who must answer: the bundle's requester; null for a platform ban (admins answer).
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True,
        related_name="appeals_received",
    )  # fmt: skip
    assignment = models.OneToOneField(
        "tasks.Assignment", on_delete=models.CASCADE, null=True, blank=True, related_name="appeal"
    )
    block = models.ForeignKey(
        WorkerBlock, on_delete=models.CASCADE, null=True, blank=True, related_name="appeals"
    )
    message = models.TextField()
    status = models.CharField(
        max_length=12, choices=AppealStatus.choices, default=AppealStatus.OPEN, db_index=True
    )
    answer = models.TextField(blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )  # fmt: skip
    answered_at = models.DateTimeField(null=True, blank=True)
    # Overturned by the beat because nobody answered in time.
    overturned_on_timeout = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    answer_due_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind="rejection", assignment__isnull=False, block__isnull=True)
                    | Q(kind="block", assignment__isnull=True, block__isnull=False)
                ),
                name="appeal_kind_fields",
            ),
            models.UniqueConstraint(
                fields=["block"], condition=Q(status="open"), name="appeal_one_open_per_block"
            ),
        ]
        indexes = [models.Index(fields=["status", "answer_due_at"])]

    def __str__(self) -> str:
        return f"appeal {self.pk} ({self.kind}, {self.status})"


class ReportReason(models.TextChoices):
    UNCLEAR = "unclear", "Unclear instructions"
    BROKEN = "broken", "Broken task"
    UNDERPAID = "underpaid", "Underpaid"
    OTHER = "other", "Something else"


class BundleReport(models.Model):
    """A worker's report about a bundle, read by its requester and by admins."""

    bundle = models.ForeignKey("tasks.Bundle", on_delete=models.CASCADE, related_name="reports")
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bundle_reports"
    )
    reason = models.CharField(max_length=12, choices=ReportReason.choices)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["bundle", "worker", "reason"], name="bundle_report_once_per_reason"
            )
        ]

    def __str__(self) -> str:
        return f"{self.reason} report on bundle {self.bundle_id}"


class FloorTopUp(models.Model):
    """What a worker was topped up to the pay floor in a finished bundle: the figures it was
    computed from and what was paid (cumulative: an overturned appeal later may add to it).
    Each payment is a ledger entry keyed `bundle-<id>-floor-<worker>-<approved>-<paid before>`."""

    bundle = models.ForeignKey("tasks.Bundle", on_delete=models.CASCADE, related_name="topups")
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="floor_topups"
    )
    approved = models.PositiveIntegerField()
    seconds = models.FloatField()
    earned_minor = models.PositiveBigIntegerField()
    floor_minor = models.PositiveBigIntegerField()
    paid_minor = models.PositiveBigIntegerField(default=0)
    fee_minor = models.PositiveBigIntegerField(default=0)
    # What the floor asked for that neither escrow nor the requester's balance could pay.
    unpaid_minor = models.PositiveBigIntegerField(default=0)
    currency = models.CharField(max_length=3)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["bundle", "worker"], name="floor_topup_once")
        ]

    def __str__(self) -> str:
        return f"floor top-up of worker {self.worker_id} in bundle {self.bundle_id}"


class RequesterManager(models.Manager["RequesterStanding"]):
    def get_queryset(self) -> models.QuerySet[RequesterStanding]:
        return super().get_queryset().filter(requester_profile__isnull=False)


class RequesterStanding(User):
    """Requesters as admins watch them (a proxy: no table): rejection and appeal-loss rates
    in the admin list (`tasks.admin_fairness`)."""

    objects = RequesterManager()  # type: ignore[assignment,misc]

    class Meta:
        proxy = True
        verbose_name = "requester standing"
        verbose_name_plural = "requester standings"
