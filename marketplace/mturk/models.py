"""What the MTurk-compatible requester API keeps beside the domain apps.

A HIT type is a bundle (its settings: reward, durations, requirements), a HIT an item of it
with its own question and `MaxAssignments`; these rows hold only what MTurk has and we do not
(its string ids, lifetimes, annotations, tokens) and point at the domain rows. Money never lives
here: escrow, pay and bonuses are the ledger's (`payments`).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class AccessKey(models.Model):
    """A requester's AWS-style key pair. SigV4 needs the secret itself to recompute a
    signature, so it is stored encrypted (Fernet, `marketplace.mturk.keys`), never hashed."""

    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mturk_access_keys"
    )
    access_key_id = models.CharField(max_length=32, unique=True)
    secret_encrypted = models.TextField()
    label = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.access_key_id} ({self.requester})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class HITType(models.Model):
    """MTurk's HIT type: the bundle its HITs go into. Creating the same properties again
    returns the same HIT type (MTurk's rule), found by `signature`. When the bundle finishes
    (every HIT done or expired), the next HIT of the type opens a new bundle here."""

    hit_type_id = models.CharField(max_length=40, unique=True)
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mturk_hit_types"
    )
    bundle = models.ForeignKey("tasks.Bundle", on_delete=models.PROTECT, related_name="+")
    signature = models.CharField(max_length=64)
    title = models.CharField(max_length=200)
    description = models.TextField()
    keywords = models.CharField(max_length=1000, blank=True)
    reward = models.CharField(max_length=16)
    assignment_duration_seconds = models.PositiveIntegerField()
    auto_approval_delay_seconds = models.PositiveIntegerField()
    qualification_requirements = models.JSONField(default=list, blank=True)
    # UpdateNotificationSettings: {"Destination", "Transport", "Version", "EventTypes"}.
    notification = models.JSONField(null=True, blank=True)
    notification_active = models.BooleanField(default=False)
    # Events up to this time have been delivered (the sweep's cursor; set when activated).
    notified_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["requester", "signature"], name="mturk_hit_type_signature"
            )
        ]

    def __str__(self) -> str:
        return f"{self.hit_type_id} {self.title}"


class HITReviewStatus(models.TextChoices):
    NOT_REVIEWED = "NotReviewed"
    MARKED_FOR_REVIEW = "MarkedForReview"
    REVIEWED_APPROPRIATE = "ReviewedAppropriate"
    REVIEWED_INAPPROPRIATE = "ReviewedInappropriate"


class HIT(models.Model):
    hit_id = models.CharField(max_length=40, unique=True)
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mturk_hits"
    )
    hit_type = models.ForeignKey(HITType, on_delete=models.PROTECT, related_name="hits")
    item = models.OneToOneField("tasks.Item", on_delete=models.PROTECT, related_name="mturk_hit")
    max_assignments = models.PositiveIntegerField()
    expires_at = models.DateTimeField()
    requester_annotation = models.CharField(max_length=255, blank=True)
    unique_request_token = models.CharField(max_length=64, null=True, blank=True)
    # "Reviewing" (UpdateHITReviewStatus without Revert) until reverted.
    reviewing = models.BooleanField(default=False)
    review_status = models.CharField(
        max_length=24, choices=HITReviewStatus.choices, default=HITReviewStatus.NOT_REVIEWED
    )
    # Slots given back to escrow when the HIT expired (or was deleted): the key of each release.
    slots_closed = models.PositiveIntegerField(default=0)
    closed_at = models.DateTimeField(null=True, blank=True)
    disposed_at = models.DateTimeField(null=True, blank=True)
    # The last UpdateExpirationForHIT that extended it or CreateAdditionalAssignmentsForHIT
    # (HITExtended); when the notification sweep saw it become Reviewable (HITReviewable,
    # announced once until it is open again).
    extended_at = models.DateTimeField(null=True, blank=True)
    reviewable_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["requester", "unique_request_token"],
                condition=Q(unique_request_token__isnull=False),
                name="mturk_hit_unique_request_token",
            )
        ]
        indexes = [models.Index(fields=["requester", "id"])]

    def __str__(self) -> str:
        return self.hit_id


class SentBonus(models.Model):
    """Which assignment a SendBonus named (the ledger's `Bonus` knows only the worker), so
    ListBonusPayments can answer by HIT or assignment."""

    bonus = models.OneToOneField(
        "payments.Bonus", on_delete=models.CASCADE, related_name="mturk_bonus"
    )
    assignment = models.ForeignKey(
        "tasks.Assignment", on_delete=models.CASCADE, related_name="mturk_bonuses"
    )
    hit = models.ForeignKey(HIT, on_delete=models.CASCADE, related_name="bonuses")

    def __str__(self) -> str:
        return f"bonus {self.bonus_id} for assignment {self.assignment_id}"


class WorkerBlock(models.Model):
    """CreateWorkerBlock: the worker may take none of the requester's work, now or later."""

    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mturk_blocks_made"
    )
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mturk_blocks"
    )
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["requester", "worker"], name="mturk_block_unique")
        ]

    def __str__(self) -> str:
        return f"{self.worker} blocked by {self.requester}"


class QualificationType(models.Model):
    """MTurk's qualification type over one of the requester's own qualifications (whose
    slug name is derived from the id: MTurk names are free text)."""

    qualification_type_id = models.CharField(max_length=40, unique=True)
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mturk_qual_types"
    )
    qualification = models.OneToOneField(
        "accounts.Qualification", on_delete=models.CASCADE, related_name="mturk_type"
    )
    name = models.CharField(max_length=200)
    description = models.TextField()
    keywords = models.CharField(max_length=1000, blank=True)
    status = models.CharField(max_length=16, default="Active")
    retry_delay_seconds = models.PositiveBigIntegerField(null=True, blank=True)
    test = models.TextField(blank=True)
    answer_key = models.TextField(blank=True)
    test_duration_seconds = models.PositiveBigIntegerField(null=True, blank=True)
    auto_granted = models.BooleanField(default=False)
    auto_granted_value = models.IntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    disposed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["requester", "name"],
                condition=Q(disposed_at__isnull=True),
                name="mturk_qual_type_name",
            )
        ]

    def __str__(self) -> str:
        return f"{self.qualification_type_id} {self.name}"


class QualificationRequestStatus(models.TextChoices):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class QualificationRequest(models.Model):
    """A worker asking for a qualification type (with the test's answers, if it has one)."""

    request_id = models.CharField(max_length=40, unique=True)
    qualification_type = models.ForeignKey(
        QualificationType, on_delete=models.CASCADE, related_name="requests"
    )
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mturk_qual_requests"
    )
    answer = models.TextField(blank=True)
    status = models.CharField(
        max_length=16,
        choices=QualificationRequestStatus.choices,
        default=QualificationRequestStatus.PENDING,
    )
    reason = models.TextField(blank=True)
    submitted_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.request_id} ({self.status})"


class RequestToken(models.Model):
    """A UniqueRequestToken already used by a requester for an operation (SendBonus,
    CreateAdditionalAssignmentsForHIT): a second call with it is refused, as MTurk does."""

    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mturk_tokens"
    )
    operation = models.CharField(max_length=64)
    token = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["requester", "operation", "token"], name="mturk_request_token_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.operation} {self.token}"


class AssignmentFeedback(models.Model):
    """The RequesterFeedback of an ApproveAssignment (a rejection keeps its reason on the
    assignment itself), returned in `Assignment.RequesterFeedback`."""

    assignment = models.OneToOneField(
        "tasks.Assignment", on_delete=models.CASCADE, related_name="mturk_feedback"
    )
    feedback = models.TextField()

    def __str__(self) -> str:
        return f"feedback on assignment {self.assignment_id}"
