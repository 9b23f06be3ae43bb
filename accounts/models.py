from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.db.models import Q


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra: object) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """Email is the login; there is no username."""

    # Removes AbstractUser's username field (Django's documented idiom; the stubs type it str).
    username = None  # type: ignore[assignment]
    email = models.EmailField("email address", unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    # Email-keyed manager: its create_user takes no username, so it cannot subclass (and the
    # stubs cannot see it as) django.contrib.auth's UserManager.
    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    def __str__(self) -> str:
        return self.email

    @property
    def is_requester(self) -> bool:
        return hasattr(self, "requester_profile")

    @property
    def is_worker(self) -> bool:
        return hasattr(self, "worker_profile")


class RequesterProfile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="requester_profile"
    )
    organization = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"requester {self.user}"

    @property
    def public_name(self) -> str:
        """How workers see the requester: the organisation they named, else a numbered label;
        never the email address."""
        return self.organization.strip() or f"Requester #{self.user_id}"


class WorkerStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    BANNED = "banned", "Banned"


class WorkerProfile(models.Model):
    """A worker's standing. The review counters feed the system qualifications and change only
    through `F()` updates inside the review transaction, never read-modify-write."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="worker_profile"
    )
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2")
    status = models.CharField(
        max_length=16, choices=WorkerStatus.choices, default=WorkerStatus.ACTIVE, db_index=True
    )
    status_reason = models.TextField(blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    approved_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"worker {self.user}"

    @property
    def approval_rate(self) -> int:
        """Percent approved of reviewed work; 100 for a worker with none reviewed (MTurk's rule)."""
        reviewed = self.approved_count + self.rejected_count
        return 100 if reviewed == 0 else (self.approved_count * 100) // reviewed

    @property
    def is_active_worker(self) -> bool:
        return self.status == WorkerStatus.ACTIVE


class Qualification(models.Model):
    """A named, integer-valued grant. System ones (owner null) are computed by the platform;
    requester-owned ones are granted by hand or by an exam bundle."""

    name = models.SlugField(max_length=64)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="owned_qualifications",
    )
    is_system = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="qualification_owner_name"),
            models.UniqueConstraint(
                fields=["name"], condition=Q(owner__isnull=True), name="qualification_system_name"
            ),
        ]

    def __str__(self) -> str:
        return self.name if self.owner_id is None else f"{self.name} ({self.owner})"


class WorkerQualification(models.Model):
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="qualifications"
    )
    qualification = models.ForeignKey(
        Qualification, on_delete=models.CASCADE, related_name="grants"
    )
    value = models.IntegerField(default=1)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["worker", "qualification"], name="worker_qualification_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.worker}: {self.qualification.name}={self.value}"
