"""Writes on accounts: users, roles, worker standing, qualifications."""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from rest_framework.authtoken.models import Token

from marketplace.errors import DomainError

from .models import (
    Qualification,
    RequesterProfile,
    User,
    WorkerProfile,
    WorkerQualification,
    WorkerStatus,
)
from .qualifications import SYSTEM_QUALIFICATIONS


@transaction.atomic
def user_create(
    *,
    email: str,
    password: str | None,
    requester: bool = False,
    worker: bool = False,
    staff: bool = False,
    country: str = "",
) -> User:
    """Create a user with the roles asked for, in one transaction."""
    email = User.objects.normalize_email(email).lower()
    if User.objects.filter(email__iexact=email).exists():
        raise DomainError(f"A user with email {email} exists.", code="email_taken")
    if staff:
        user = User.objects.create_superuser(email=email, password=password)
    else:
        user = User.objects.create_user(email=email, password=password)
    user_set_roles(user=user, requester=requester, worker=worker, country=country)
    # Made by an operator (or a test), not signed up: the address is taken as confirmed, so the
    # account can sign in where verification is mandatory (allauth reads this row).
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def user_set_roles(
    *, user: User, requester: bool = False, worker: bool = False, country: str = ""
) -> None:
    """Give roles; never takes one away (a role's history stays with its profile)."""
    if requester:
        RequesterProfile.objects.get_or_create(user=user)
    if worker:
        WorkerProfile.objects.get_or_create(user=user, defaults={"country": country.upper()})


def user_api_token(*, user: User) -> str:
    token, _ = Token.objects.get_or_create(user=user)
    return token.key


def worker_set_status(
    *, worker: User, status: WorkerStatus | str, reason: str, by: User | None = None
) -> WorkerProfile:
    """Suspend, ban or reinstate a worker; a reason is required when taking work away."""
    status = WorkerStatus(status)
    if status != WorkerStatus.ACTIVE and not reason.strip():
        raise DomainError(
            "A reason is required to suspend or ban a worker.", code="reason_required"
        )
    profile = WorkerProfile.objects.get(user=worker)
    WorkerProfile.objects.filter(pk=profile.pk).update(
        status=status, status_reason=reason.strip(), status_changed_at=timezone.now()
    )
    profile.refresh_from_db()
    worker.worker_profile = profile  # keep a caller's cached relation truthful
    return profile


def worker_record_review(*, worker_id: int, approved: int = 0, rejected: int = 0) -> None:
    """Feed the approval-rate and approved-count system qualifications; runs inside the
    caller's review transaction so counters and assignment states never disagree."""
    if approved or rejected:
        WorkerProfile.objects.filter(user_id=worker_id).update(
            approved_count=F("approved_count") + approved,
            rejected_count=F("rejected_count") + rejected,
        )


def system_qualifications_ensure() -> None:
    for name, description in SYSTEM_QUALIFICATIONS.items():
        Qualification.objects.get_or_create(
            name=name, owner=None, defaults={"description": description, "is_system": True}
        )


def qualification_create(*, owner: User, name: str, description: str = "") -> Qualification:
    if name in SYSTEM_QUALIFICATIONS:
        raise DomainError(f"{name} is a system qualification.", code="reserved_name")
    qualification, created = Qualification.objects.get_or_create(
        owner=owner, name=name, defaults={"description": description}
    )
    if not created:
        raise DomainError(f"You already have a qualification named {name}.", code="duplicate")
    return qualification


def qualification_grant(
    *, qualification: Qualification, worker: User, value: int = 1, by: User | None = None
) -> WorkerQualification:
    """Grant (or re-value) a requester-owned qualification; system ones are computed."""
    if qualification.is_system or qualification.owner_id is None:
        raise DomainError(
            "System qualifications are computed, not granted.", code="system_qualification"
        )
    if not hasattr(worker, "worker_profile"):
        raise DomainError("That user is not a worker.", code="not_a_worker")
    grant, _ = WorkerQualification.objects.update_or_create(
        worker=worker, qualification=qualification, defaults={"value": value, "granted_by": by}
    )
    return grant


def qualification_revoke(*, qualification: Qualification, worker: User) -> None:
    WorkerQualification.objects.filter(worker=worker, qualification=qualification).delete()
