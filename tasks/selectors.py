"""Reads on bundles, items and assignments, scoped to who is asking."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from accounts.models import User
from accounts.qualifications import (
    requirement_failures,
    requirements_parse,
    worker_qualification_values,
)
from payments import selectors as payment_selectors
from payments import services as payments
from payments.fees import fee_terms

from .models import (
    Assignment,
    AssignmentStatus,
    Bundle,
    BundleStatus,
    Item,
    ItemResult,
    ItemState,
    QualityRuleEvent,
    WorkerBundleStats,
)
from .schema import annotation_type

JUDGMENT_STATUSES = (AssignmentStatus.SUBMITTED, AssignmentStatus.APPROVED)


def bundles_of_requester(requester: User) -> QuerySet[Bundle]:
    return Bundle.objects.filter(requester=requester).order_by("-id")


def bundle_progress(bundle: Bundle) -> dict[str, int]:
    """Counts a requester watches: items by state and assignments by status (two queries)."""
    items = bundle.items.aggregate(
        total=Count("id", filter=Q(is_gold=False)),
        complete=Count("id", filter=Q(is_gold=False, state=ItemState.COMPLETE)),
        gold=Count("id", filter=Q(is_gold=True)),
    )
    by_status = dict(
        bundle.assignments.values_list("status").annotate(n=Count("id")).values_list("status", "n")
    )
    return {
        "items_total": items["total"],
        "items_complete": items["complete"],
        "gold_items": items["gold"],
        **{f"assignments_{status}": by_status.get(status, 0) for status in AssignmentStatus},
    }


def bundles_for_worker(worker: User) -> list[Bundle]:
    """Published bundles the worker may claim in now: qualified, not blocked, with work left.

    Requirements are evaluated in Python against the worker's values fetched once, which
    stays cheap for the few hundred live bundles a marketplace has at a time."""
    live = list(
        Bundle.objects.filter(status=BundleStatus.PUBLISHED)
        .exclude(requester=worker)
        .exclude(worker_stats__worker=worker, worker_stats__blocked=True)
        .exclude(worker_stats__worker=worker, worker_stats__paused=True)
        .annotate(tasks_left=Coalesce(_claimable_count(worker), 0))
        .filter(tasks_left__gt=0)
        .order_by("-published_at", "-id")
    )
    values = worker_qualification_values(worker, {b.requester_id for b in live})
    return [
        b
        for b in live
        if not requirement_failures(requirements_parse(b.requirements), values, b.requester_id)
    ]


def _claimable_items(worker: User, bundle: Any) -> QuerySet[Item]:
    """Tasks left *for this worker*: open items they have not worked on (a worker answers an
    item once), so a bundle they have exhausted is not listed with others' slots as "left".
    An exam's tasks are its gold items, while its gold budget lasts."""
    exam_task = Q(is_gold=True, bundle__exam__isnull=False, bundle__gold_slots_open__gt=0)
    return (
        Item.objects.filter(bundle=bundle, state=ItemState.OPEN)
        .filter(Q(is_gold=False, slots_open__gt=0) | exam_task)
        .exclude(Exists(Assignment.objects.filter(item=OuterRef("pk"), worker=worker)))
    )


def _claimable_count(worker: User) -> Subquery:
    """`_claimable_items` counted per outer bundle row, as a subquery."""
    counted = (
        _claimable_items(worker, OuterRef("pk"))
        .order_by()
        .values("bundle")
        .annotate(n=Sum(Value(1)))  # a count of the items
        .values("n")
    )
    return Subquery(counted)


def tasks_left_for_worker(worker: User, bundle: Bundle) -> int:
    return _claimable_items(worker, bundle.pk).count()


def bundle_sample_item(bundle: Bundle) -> Item | None:
    """The item a worker previews a bundle on: its first real item, never a gold one (a gold
    item shown ahead would be recognised, and answered from memory, when served)."""
    return bundle.items.filter(is_gold=False).only("id", "payload").order_by("id").first()


def bundle_for_worker(worker: User, bundle_id: int) -> Bundle | None:
    """A published bundle the worker may see (qualified, not theirs); None otherwise."""
    bundle = (
        Bundle.objects.filter(
            pk=bundle_id, status__in=(BundleStatus.PUBLISHED, BundleStatus.PAUSED)
        )
        .exclude(requester=worker)
        .first()
    )
    if bundle is None:
        return None
    requirements = requirements_parse(bundle.requirements)
    if requirements:
        values = worker_qualification_values(worker, [bundle.requester_id])
        if requirement_failures(requirements, values, bundle.requester_id):
            return None
    return bundle


def assignments_of_worker(worker: User) -> QuerySet[Assignment]:
    return (
        Assignment.objects.filter(worker=worker)
        .select_related("bundle", "item")
        .order_by("-claimed_at", "-id")
    )


def assignments_of_requester(requester: User) -> QuerySet[Assignment]:
    return (
        Assignment.objects.filter(bundle__requester=requester)
        .select_related("bundle", "item")
        .order_by("-id")
    )


@dataclass(frozen=True)
class GoldFeedback:
    """What a worker may learn from a gold answer they submitted: whether it passed, and, on
    an annotation bundle that shows it, the expected answer (the gold, in the answer's shape)
    and their score against it."""

    correct: bool
    expected: Any = None
    score: float | None = None
    shows_expected: bool = False
    # A training item's explanation (shown once answered, whatever the bundle's feedback).
    explanation: str = ""


def gold_feedback_for(assignment: Assignment, bundle: Bundle) -> GoldFeedback | None:
    """The feedback on one of the worker's own assignments, or None: only for a gold task
    already answered (never while claimed, so nothing helps the answer itself) on a bundle that
    gives feedback. A worker is never served the same item twice, so showing the expected
    answer afterwards teaches without leaking anything they could still use."""
    if (
        not assignment.is_gold
        or assignment.status == AssignmentStatus.CLAIMED
        or assignment.gold_correct is None
    ):
        return None
    shows_expected = bundle.gold_feedback_expected and annotation_type(bundle.question) is not None
    explanation = ""
    if bundle.training_items:
        item = assignment.item if Assignment.item.is_cached(assignment) else None
        is_training, explanation = (
            (item.is_training, item.explanation)
            if item is not None
            else Item.objects.values_list("is_training", "explanation").get(pk=assignment.item_id)
        )
        explanation = explanation if is_training else ""
    if not (bundle.gold_feedback or shows_expected or explanation):
        return None
    if not shows_expected:
        return GoldFeedback(correct=bool(assignment.gold_correct), explanation=explanation)
    expected = (
        assignment.item.gold
        if Assignment.item.is_cached(assignment)
        else Item.objects.values_list("gold", flat=True).get(pk=assignment.item_id)
    )
    return GoldFeedback(
        correct=bool(assignment.gold_correct),
        expected=expected,
        score=assignment.gold_score,
        shows_expected=True,
        explanation=explanation,
    )


def worker_public_id(requester_id: int, worker_id: int) -> str:
    """A worker's id as one requester sees it: stable for that requester, unlinkable across
    requesters, and not the user's primary key."""
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"{requester_id}:{worker_id}".encode(), hashlib.sha256
    ).hexdigest()
    return "w_" + digest[:12]


def bundle_worker_from_public_id(bundle: Bundle, public_id: str) -> int | None:
    """The user id behind a pseudonym, among the workers who worked on this bundle (one pass
    over the bundle's worker stats; pseudonyms cannot be inverted)."""
    for worker_id in WorkerBundleStats.objects.filter(bundle=bundle).values_list(
        "worker_id", flat=True
    ):
        if worker_public_id(bundle.requester_id, worker_id) == public_id:
            return worker_id
    return None


def requester_worker_from_public_id(requester_id: int, public_id: str) -> int | None:
    """The user id behind a pseudonym, among the workers who submitted work in one of this
    requester's bundles; None for anyone else (unknown, never worked for them, only claimed).
    One pass over their workers' stats rows (pseudonyms cannot be inverted), then a check that
    the match really submitted something."""
    if not public_id.startswith("w_"):
        return None
    candidates = (
        WorkerBundleStats.objects.filter(bundle__requester_id=requester_id, submitted__gt=0)
        .values_list("worker_id", flat=True)
        .distinct()
    )
    for worker_id in candidates.iterator(chunk_size=2000):
        if hmac.compare_digest(worker_public_id(requester_id, worker_id), public_id):
            return worker_id if _submitted_for(requester_id, worker_id=worker_id) else None
    return None


def requester_worker_of_assignment(requester_id: int, assignment_id: int) -> int | None:
    """The worker of a submitted (or reviewed) assignment in one of this requester's bundles;
    None for a foreign, unknown or never-submitted assignment."""
    return _submitted_for(requester_id, pk=assignment_id)


def _submitted_for(requester_id: int, **which: int) -> int | None:
    return (
        Assignment.objects.filter(
            bundle__requester_id=requester_id, submitted_at__isnull=False, **which
        )
        .values_list("worker_id", flat=True)
        .first()
    )


def bundle_fees(bundles: Iterable[Bundle]) -> dict[int, dict[str, Any]]:
    """{bundle id: the fee terms it is charged at}, in one query for any number of bundles.

    A published bundle keeps the terms frozen on its escrow when it was published (`frozen`);
    a draft shows today's settings, which it will be frozen at. `per_judgment` is the fee on
    one reward, `effective_percent` that fee as a share of the reward (the minimum fee makes
    it exceed `percent` on small rewards: 1 cent on 3 is 33.3%)."""
    bundles = list(bundles)
    holdings = payments.escrow_holdings(bundle_ids=[b.pk for b in bundles])
    today = fee_terms()
    fees = {}
    for bundle in bundles:
        holding = holdings.get(bundle.pk)
        frozen = holding.terms if holding is not None else None
        terms = frozen or today
        reward = bundle.reward_minor
        fees[bundle.pk] = {
            "percent": terms.percent,
            "minimum": terms.minimum_minor,
            "per_judgment": terms.fee_for(reward),
            "cost_per_judgment": terms.cost_per_judgment(reward),
            "effective_percent": terms.effective_percent(reward),
            "frozen": frozen is not None,
        }
    return fees


#: Work a bundle's escrow must still be able to pay: claims that may be submitted, answers
#: that may be approved.
PENDING_STATUSES = (AssignmentStatus.CLAIMED, AssignmentStatus.SUBMITTED)


def escrow_problems() -> list[str]:
    """Bundles whose escrow cannot pay for their pending work; empty when every one can.

    The invariant: escrow >= pending judgments x the bundle's cost per judgment (reward plus
    the fee at the terms frozen on its escrow). It spans both apps (payments holds the money,
    tasks knows the work), so it lives here, and `books_problems` adds it to the ledger's
    own self-check. Three queries whatever the number of bundles."""
    pending = dict(
        Assignment.objects.filter(status__in=PENDING_STATUSES)
        .values_list("bundle_id")
        .annotate(n=Count("id"))
        .values_list("bundle_id", "n")
    )
    if not pending:
        return []
    holdings = payments.escrow_holdings(bundle_ids=pending)
    problems = []
    bundles = Bundle.objects.filter(pk__in=pending).values_list("id", "currency", "reward_minor")
    for bundle_id, currency, reward in bundles.order_by("id"):
        holding, n = holdings.get(bundle_id), pending[bundle_id]
        if holding is None or holding.terms is None or holding.currency != currency:
            problems.append(f"bundle {bundle_id}: {n} pending judgments and no {currency} escrow")
            continue
        cost = holding.terms.cost_per_judgment(reward)
        if holding.balance_minor < n * cost:
            problems.append(
                f"bundle {bundle_id}: escrow {holding.balance_minor} {currency} < "
                f"{n} pending judgments x {cost}"
            )
    return problems


def books_problems() -> list[str]:
    """The whole money check: the ledger's own (`payments.selectors.ledger_problems`) and the
    escrow-covers-pending-work invariant. What tests and `manage.py check_books` assert."""
    return payment_selectors.ledger_problems() + escrow_problems()


def bundle_result_rows(bundle: Bundle, *, chunk_size: int = 2000) -> Iterator[dict[str, Any]]:
    """One row per item with every judgment that counts (submitted or approved), streamed in
    chunks with two queries per chunk, so a million-item export runs in flat memory. A chunk's
    judgments and results are read by its id range within the bundle, not by a list of 2,000
    ids: preparing that list cost a third of a results download's time."""
    last_id = 0
    while True:
        items = list(
            Item.objects.filter(bundle=bundle, pk__gt=last_id)
            .order_by("pk")
            .values("id", "external_id", "payload", "is_gold")[:chunk_size]
        )
        if not items:
            return
        ids = [item["id"] for item in items]
        judgments: dict[int, list[dict[str, Any]]] = {}
        for row in (
            Assignment.objects.filter(
                bundle=bundle,
                item_id__gt=last_id,
                item_id__lte=ids[-1],
                status__in=JUDGMENT_STATUSES,
            )  # fmt: skip
            .order_by("item_id", "submitted_at", "id")
            .values_list("item_id", "worker_id", "answer", "seconds_spent", "status")
        ):
            item_id, worker_id, answer, seconds, status = row
            judgments.setdefault(item_id, []).append(
                {
                    "worker_id": worker_public_id(bundle.requester_id, worker_id),
                    "answer": answer,
                    "seconds": round(seconds, 3) if seconds is not None else None,
                    "status": status,
                }
            )
        results = {
            r.item_id: r
            for r in ItemResult.objects.filter(
                item__bundle=bundle, item_id__gt=last_id, item_id__lte=ids[-1]
            )
        }
        for item in items:
            result = results.get(item["id"])
            yield {
                "item_id": item["id"],
                "external_id": item["external_id"],
                "payload": item["payload"],
                "is_gold": item["is_gold"],
                "label": result.label if result else None,
                "confidence": result.confidence if result else None,
                "method": result.method if result else None,
                "provenance": result.provenance if result else None,
                "audited": result.audited if result else False,
                "model_version": result.model_version if result else None,
                "judgments": judgments.get(item["id"], []),
            }
        last_id = ids[-1]


def bundle_payload_keys(bundle: Bundle) -> list[str]:
    """Union of payload keys in first-seen order (by item id), for the CSV header. PostgreSQL
    lists them without sending every payload to Python (on a 20,000-item bundle that was a
    sixth of a results download's time)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                """SELECT k.key FROM tasks_item i
                     CROSS JOIN LATERAL jsonb_object_keys(
                         CASE WHEN jsonb_typeof(i.payload) = 'object' THEN i.payload
                              ELSE '{}'::jsonb END
                     ) WITH ORDINALITY AS k(key, n)
                    WHERE i.bundle_id = %s
                    GROUP BY k.key ORDER BY min(ARRAY[i.id::bigint, k.n])""",
                [bundle.pk],
            )
            return [key for (key,) in cursor.fetchall()]
    keys: dict[str, None] = {}
    for payload in (
        Item.objects.filter(bundle=bundle)
        .order_by("pk")
        .values_list("payload", flat=True)
        .iterator(chunk_size=5000)
    ):
        if isinstance(payload, dict):
            keys.update(dict.fromkeys(payload))
    return list(keys)


def bundle_worker_stats(bundle: Bundle) -> QuerySet[WorkerBundleStats]:
    return WorkerBundleStats.objects.filter(bundle=bundle).order_by("-submitted", "id")


def rule_events_of_worker(worker: User) -> QuerySet[QualityRuleEvent]:
    """What the quality rules did to this worker, in every bundle, newest first (their own
    rows only: the due-process view)."""
    return (
        QualityRuleEvent.objects.filter(worker=worker)
        .select_related("bundle")
        .order_by("-created_at", "-id")
    )
