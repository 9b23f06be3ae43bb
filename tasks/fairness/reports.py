"""Workers' reports about a bundle (unclear instructions, a broken task, underpaid), read by
the bundle's requester and by admins. One report per worker, bundle and reason."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from accounts.models import User
from marketplace.errors import Conflict, DomainError, NotFound
from tasks.models import Bundle, BundleReport, BundleStatus, ReportReason


def bundle_report(*, worker: User, bundle_id: int, reason: str, message: str = "") -> BundleReport:
    """Report a bundle the worker can see (published or paused) or has worked on."""
    if reason not in ReportReason.values:
        raise DomainError(
            f"reason must be one of: {', '.join(ReportReason.values)}.", code="invalid_reason"
        )
    if len(message or "") > 4000:
        raise DomainError("The message is at most 4000 characters.", code="invalid_message")
    bundle = (
        Bundle.objects.filter(pk=bundle_id)
        .exclude(status=BundleStatus.DRAFT)
        .exclude(requester=worker)
        .first()
    )
    visible = bundle is not None and (
        bundle.status in (BundleStatus.PUBLISHED, BundleStatus.PAUSED)
        or bundle.assignments.filter(worker=worker).exists()
    )
    if bundle is None or not visible:
        raise NotFound("No such bundle.", code="bundle_not_found")
    try:
        with transaction.atomic():
            return BundleReport.objects.create(
                bundle=bundle, worker=worker, reason=reason, message=(message or "").strip()
            )
    except IntegrityError as exc:
        raise Conflict("You reported this already.", code="already_reported") from exc


def reports_for(user: User) -> QuerySet[BundleReport]:
    """The reports `user` may read: their own and those on their bundles; staff: all."""
    reports = BundleReport.objects.select_related("bundle")
    if user.is_staff:
        return reports
    return reports.filter(Q(worker=user) | Q(bundle__requester=user))
