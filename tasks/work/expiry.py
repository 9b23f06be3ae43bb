"""Claims that end without an answer: given back by the worker, or expired past their deadline.
Either way the slot goes back to the pool and nothing is paid. Workers hear of it by email:
a reminder before a long claim expires, and a note when claims expired.

A gold claim's slot goes back to its bundle row, so ending one locks the bundle first (the one
lock order, `tasks.locking`): cancel and expiry hold the bundle while they end its claims.

A claim that ends after its item closed (an MTurk HIT that expired while it was held) has no
slot to go back to. An ordinary bundle gives such money back when it finishes; an open-ended
one (a HIT type's) never finishes by itself, so that slot's escrow is released at once
(`closed_slot_release`), once per assignment.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from accounts.models import User
from accounts.notifications import notify
from tasks.closed_slots import closed_slot_release
from tasks.locking import lock_bundle, lock_claim_for_release
from tasks.models import Assignment, AssignmentStatus, Bundle, ClaimReminder
from tasks.states import assignment_transition, give_slot_back, release_claim_slot


def claim_expire(*, assignment_id: int, bundle_id: int, item_id: int, is_gold: bool) -> int:
    """Expire one claim and put its slot back; a claim that meanwhile became something else
    is left alone (the status UPDATE is conditional). Returns 1 if it expired it, else 0."""
    with transaction.atomic():
        if is_gold:
            lock_bundle(bundle_id)
        expired = Assignment.objects.filter(
            pk=assignment_id, status=AssignmentStatus.CLAIMED
        ).update(status=AssignmentStatus.EXPIRED)
        if expired and not release_claim_slot(
            bundle_id=bundle_id, item_id=item_id, is_gold=is_gold
        ):
            closed_slot_release(assignment_id=assignment_id, bundle_id=bundle_id)
    return expired


@transaction.atomic
def assignment_return(*, assignment_id: int, worker: User) -> Assignment:
    """The worker gives the task back; the slot goes back to the pool, nothing is paid."""
    assignment = lock_claim_for_release(assignment_id, worker=worker)
    assignment_transition(assignment, AssignmentStatus.RETURNED, returned_at=timezone.now())
    if not release_claim_slot(
        bundle_id=assignment.bundle_id, item_id=assignment.item_id, is_gold=assignment.is_gold
    ):
        closed_slot_release(assignment_id=assignment.pk, bundle_id=assignment.bundle_id)
    return assignment


def assignments_expire(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Expire claims past their deadline and put their slots back. Safe to run concurrently:
    each batch locks what it takes with SKIP LOCKED, and the status UPDATE is conditional.
    Gold claims (a few per bundle) go one by one after the batches, each taking its bundle
    first, since their slot goes back to the bundle row."""
    now = now or timezone.now()
    expired_of: dict[int, list[int]] = {}  # worker id -> bundle ids of their expired claims
    due_claims = Assignment.objects.filter(status=AssignmentStatus.CLAIMED, deadline__lte=now)
    while True:
        with transaction.atomic():
            query = due_claims.filter(is_gold=False)
            if connection.vendor == "postgresql":
                query = query.select_for_update(skip_locked=True)
            due = list(query.values_list("id", "item_id", "worker_id", "bundle_id")[:batch_size])
            for assignment_id, item_id, worker_id, bundle_id in due:
                expired = Assignment.objects.filter(
                    pk=assignment_id, status=AssignmentStatus.CLAIMED
                ).update(status=AssignmentStatus.EXPIRED)
                if expired:
                    if not give_slot_back(item_id):
                        closed_slot_release(assignment_id=assignment_id, bundle_id=bundle_id)
                    expired_of.setdefault(worker_id, []).append(bundle_id)
        if len(due) < batch_size:
            break
    gold = due_claims.filter(is_gold=True).values_list("id", "bundle_id", "item_id", "worker_id")
    for assignment_id, bundle_id, item_id, worker_id in list(gold):
        if claim_expire(
            assignment_id=assignment_id, bundle_id=bundle_id, item_id=item_id, is_gold=True
        ):
            expired_of.setdefault(worker_id, []).append(bundle_id)
    _notify_expired(expired_of)
    return sum(len(bundles) for bundles in expired_of.values())


def _notify_expired(expired_of: dict[int, list[int]]) -> None:
    """One email per worker and run, naming the bundles whose claims they let expire (the
    task went back to the pool unpaid: they should know, not wonder)."""
    if not expired_of:
        return
    bundle_ids = {b for bundles in expired_of.values() for b in bundles}
    titles = dict(Bundle.objects.filter(pk__in=bundle_ids).values_list("id", "title"))
    for worker in User.objects.filter(pk__in=expired_of):
        bundles = expired_of[worker.pk]
        names = sorted({titles.get(b, f"bundle {b}") for b in bundles})
        context = {"count": len(bundles), "titles": names}
        subject = f"{len(bundles)} claimed task{'s' if len(bundles) != 1 else ''} expired"
        notify(worker, subject, "claims_expired", context)


# Claims of at least this time limit get a reminder this long before their deadline; shorter
# ones are worked in one sitting (the task page counts down) and an email would only be noise.
REMIND_CLAIMS_FROM_SECONDS = 3600
REMIND_BEFORE = timedelta(minutes=15)


def claims_remind_expiring(*, now: datetime | None = None) -> int:
    """Email workers whose long claims expire within `REMIND_BEFORE`, once per claim (a
    `ClaimReminder` row taken in the same transaction as the mail is queued); one email per
    worker and run. Returns the number of claims reminded."""
    now = now or timezone.now()
    due = (
        Assignment.objects.filter(
            status=AssignmentStatus.CLAIMED,
            deadline__gt=now,
            deadline__lte=now + REMIND_BEFORE,
            bundle__time_limit_seconds__gte=REMIND_CLAIMS_FROM_SECONDS,
        )
        .exclude(Exists(ClaimReminder.objects.filter(assignment=OuterRef("pk"))))
        .values_list("id", "worker_id", "bundle__title", "deadline")
    )
    reminded = 0
    with transaction.atomic():
        by_worker: dict[int, list[tuple[str, datetime]]] = {}
        for assignment_id, worker_id, title, deadline in list(due[:1000]):
            # A concurrent sweep may take the same claim: only the one that creates the row
            # mails (get_or_create survives the race on the unique assignment).
            _, created = ClaimReminder.objects.get_or_create(assignment_id=assignment_id)
            if created:
                by_worker.setdefault(worker_id, []).append((title, deadline))
        for worker in User.objects.filter(pk__in=by_worker):
            claims = sorted(by_worker[worker.pk], key=lambda claim: claim[1])
            minutes = max(1, int((claims[0][1] - now).total_seconds() // 60))
            notify(
                worker,
                f"A claimed task expires in {minutes} min",
                "claims_expiring",
                {"claims": [{"title": t, "deadline": d} for t, d in claims], "minutes": minutes},
            )
            reminded += len(claims)
    return reminded
