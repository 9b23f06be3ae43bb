"""What blocking a worker will do, computed before it is done (issue 15, bug 2).

A block reopens items and reserves more escrow (see `blocking.worker_block`); the requester is
shown these consequences and confirms, in the console and through the API's `dry_run`. This
module only reads: it mirrors the steps of `worker_block` without taking its locks, so the
figures are what a block would do now (a submission in between can change them by one)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from payments import services as payments
from tasks.models import Assignment, AssignmentStatus, Bundle, Item, ItemState

from .rules import LIVE_STATUSES


@dataclass(frozen=True)
class BlockPreview:
    live_claims: int  # claims the worker holds here, ended (their slots given back)
    answers_rejected: int  # unreviewed answers rejected (bundles with reject_blocked_work)
    items_redecided: int  # items the worker judged: their answers stop counting
    items_reopened: int  # of those, items now full or complete that go back to work
    replacements: int  # judgments bought to replace the worker's paid (or payable) work
    reserve_minor: int  # escrow reserved for them from the requester's balance
    currency: str
    funded: bool  # False: the balance is short, items are re-decided but not reopened

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def worker_block_preview(*, worker_id: int, bundle: Bundle) -> BlockPreview:
    """The consequences `worker_block` would have for this worker in this bundle now."""
    mine = Assignment.objects.filter(worker_id=worker_id, bundle_id=bundle.pk)
    live_claims = mine.filter(status=AssignmentStatus.CLAIMED).count()
    unreviewed = mine.filter(is_gold=False, status=AssignmentStatus.SUBMITTED).count()
    approved = mine.filter(is_gold=False, status=AssignmentStatus.APPROVED).count()
    rejected = unreviewed if bundle.reject_blocked_work else 0
    judged = mine.filter(is_gold=False, submitted_at__isnull=False).values("item_id")
    items_redecided = Item.objects.filter(pk__in=judged).count()
    live = bundle.status in LIVE_STATUSES
    replacements = (approved + unreviewed - rejected) if live else 0
    reserve = 0
    funded = True
    if replacements:
        per_judgment = payments.escrow_cost_per_judgment(
            bundle_id=bundle.pk, currency=bundle.currency, reward_minor=bundle.reward_minor
        )
        reserve = replacements * per_judgment
        available = payments.requester_available(
            requester_id=bundle.requester_id, currency=bundle.currency
        )
        funded = available >= reserve
    items_reopened = 0
    if live:
        closed = Item.objects.filter(pk__in=judged).exclude(state=ItemState.OPEN)
        if funded:
            items_reopened = closed.count()
        elif rejected:  # rejected work was never paid: its escrow buys the replacement
            items_reopened = closed.filter(
                assignments__worker_id=worker_id,
                assignments__status=AssignmentStatus.SUBMITTED,
                assignments__is_gold=False,
            ).count()
    return BlockPreview(
        live_claims=live_claims,
        answers_rejected=rejected,
        items_redecided=items_redecided,
        items_reopened=items_reopened,
        replacements=replacements if funded else 0,
        reserve_minor=reserve if funded else 0,
        currency=bundle.currency,
        funded=funded,
    )
