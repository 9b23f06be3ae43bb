"""The per-item decision of dynamic overlap: aggregate one item's counted judgments with the
one-coin model, write its `ItemResult`, and decide whether it is complete or needs one more
judgment (opening slots only within what `max_overlap` leaves).

Runs after each counted submission (`tasks.quality.services.submission_recorded`), after a block
or an unblock (`tasks.quality.blocking`) and in the periodic sweep
(`tasks.quality.bundle_aggregation.live_bundles_reaggregate`). Invariants it keeps are listed in
`tasks.quality.services`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.db.models import Sum

from tasks.assist import prior as assist
from tasks.assist import routing
from tasks.assist.audit import audit_after_commit
from tasks.assist.predictions import retrain_after_commit
from tasks.assist.training import failure_after_commit
from tasks.models import (
    Assignment,
    AssignmentStatus,
    BundleQuality,
    Item,
    ItemResult,
    ItemState,
    WorkerBundleStats,
)
from tasks.schema import annotation_type, text_normalise

from .aggregation import accuracy_weights, item_needs_more_judgments
from .calibration import calibrate
from .posterior import (  # noqa: F401
    SKILL_RANGE,
    majority_kept,
    one_coin_posterior,
    skills_of,
    weighed_accuracy,
)
from .rules import (
    COUNTED_STATUSES,
    DEFAULT_TARGET_CONFIDENCE,
    LIVE_STATUSES,
    POOLED_ACCURACY_RANGE,
    PRIOR_WORKER_ACCURACY,
    PRIOR_WORKER_WEIGHT,
)
from .selectors import vote_weights

#: The fields of `ItemResult` a decision or a whole-bundle run (re)writes.
RESULT_FIELDS = ["label", "confidence", "method", "judgments", "updated_at"]
#: The provenance of a decision people alone made (`ItemResult`'s defaults).
HUMAN = {"provenance": "human", "audited": False, "model_version": None}


class ChoiceCodec:
    """Single choice and rating answers <-> class indices (choice order; rating min..max)."""

    def __init__(self, question: dict[str, Any]) -> None:
        if question["type"] == "single_choice":
            self.values: list[Any] = [c["value"] for c in question["choices"]]
        else:
            self.values = list(range(question["min"], question["max"] + 1))
        self.index = {v: i for i, v in enumerate(self.values)}
        self.n_classes = len(self.values)

    def encode(self, answers: Sequence[Any]) -> np.ndarray:
        return np.fromiter((self.index[a] for a in answers), dtype=np.int64, count=len(answers))

    def decode(self, index: int) -> Any:
        return self.values[index]


@dataclass(frozen=True)
class Decision:
    """One item's aggregated answer: the label in the schema's shape, its confidence, and how
    it was reached ("one_coin" or "median")."""

    label: Any
    confidence: float
    method: str


def pooled_accuracy(bundle_id: int) -> float:
    """The crowd's gold accuracy in the bundle (blocked workers left out), shrunk toward the
    prior and kept in a sane range: the starting belief about a worker with no gold yet."""
    pooled = WorkerBundleStats.objects.filter(bundle_id=bundle_id, blocked=False).aggregate(
        seen=Sum("gold_seen"), correct=Sum("gold_correct")
    )
    seen, correct = pooled["seen"] or 0, pooled["correct"] or 0
    estimate = (correct + PRIOR_WORKER_WEIGHT * PRIOR_WORKER_ACCURACY) / (
        seen + PRIOR_WORKER_WEIGHT
    )
    return float(np.clip(estimate, *POOLED_ACCURACY_RANGE))


def worker_accuracies(
    *, bundle_id: int, worker_ids: Iterable[int], question: dict[str, Any] | None = None
) -> dict[int, float]:
    """Accuracy per worker for the per-item decision: the last Dawid-Skene estimate when one is
    stored, else the worker's gold record shrunk toward the crowd's pooled accuracy (so three
    lucky gold answers do not make anyone an oracle). Blocked workers are left out. With the
    bundle's `question`, a weight a rule lowered (`vote_weights`) reads as a lower accuracy."""
    ids = list(worker_ids)
    prior = pooled_accuracy(bundle_id)
    rows = WorkerBundleStats.objects.filter(bundle_id=bundle_id, worker_id__in=ids).values(
        "worker_id", "gold_seen", "gold_correct", "blocked", "estimated_accuracy"
    )
    known = {row["worker_id"]: row for row in rows}
    out: dict[int, float] = {}
    for worker_id in ids:
        row = known.get(worker_id)
        if row is None:
            out[worker_id] = prior
            continue
        if row["blocked"]:
            continue
        estimated = row["estimated_accuracy"]
        if estimated is not None and np.isfinite(estimated):
            out[worker_id] = float(estimated)
        else:
            out[worker_id] = (row["gold_correct"] + PRIOR_WORKER_WEIGHT * prior) / (
                row["gold_seen"] + PRIOR_WORKER_WEIGHT
            )
    if question:  # a weight a rule lowered reads as a lower accuracy
        plain = question["type"] in ("single_choice", "rating")
        k = ChoiceCodec(question).n_classes if plain else 2
        for worker_id, weight in vote_weights(bundle_id=bundle_id, worker_ids=out).items():
            out[worker_id] = weighed_accuracy(out[worker_id], weight, k)
    return out


def decide_answers(
    question: dict[str, Any],
    answers: Sequence[Any],
    accuracies: Sequence[float],
    *,
    payload: Mapping[str, Any] | None = None,
    scale: Sequence[float] | None = None,
    calibration: Mapping[str, Any] | None = None,
) -> Decision | None:
    """Aggregate one item's counted answers by question type; None without answers.

    Choice and rating: one-coin posterior (a probability). Multiple choice: per option, the
    label being the selected options and the confidence the product of the per-option
    posteriors (every option must be right). Text: one-coin over the distinct normalised
    answers, reported in the first spelling given. Number: the median, with the share of
    answers equal to it as confidence (agreement, not a probability). Annotation types: the
    type's own aggregate (`AnnotationType.aggregate`) over the item's context from `payload`,
    each answer weighted by its worker's skill; its label has the answer's shape.

    Choice and rating only: `scale` multiplies each vote (rings count as one voter) and
    `calibration` (the bundle's one-coin map fitted on gold, `tasks.quality.calibration`)
    turns the posterior into the accuracy such a decision had on gold."""
    if not answers:
        return None
    qtype = question["type"]
    kind = annotation_type(question)
    if kind is not None:
        context = kind.context(question, payload or {})
        result = kind.aggregate(question, list(answers), skills_of(accuracies), context)
        return Decision(result.label, float(result.confidence), result.method)
    acc = np.asarray(accuracies, dtype=np.float64)
    if qtype in ("single_choice", "rating"):
        codec = ChoiceCodec(question)
        coded = codec.encode(answers)
        post = one_coin_posterior(coded, acc, codec.n_classes, scale)
        best = majority_kept(coded, int(np.argmax(post)), codec.n_classes, scale)
        confidence = float(post[best])
        if calibration:
            split = len(set(coded.tolist())) > 1
            confidence = float(calibrate([confidence], [split], calibration)[0])
        return Decision(codec.decode(best), confidence, "one_coin")
    if qtype == "multiple_choice":
        values = [c["value"] for c in question["choices"]]
        chosen, confidence = [], 1.0
        for value in values:
            ticks = np.fromiter((value in a for a in answers), dtype=np.int64, count=len(answers))
            post = one_coin_posterior(ticks, acc, 2)
            selected = bool(post[1] > post[0])
            confidence *= float(post[int(selected)])
            if selected:
                chosen.append(value)
        return Decision(chosen, confidence, "one_coin")
    if qtype == "text":
        normalised = [text_normalise(a) for a in answers]
        vocab = sorted(set(normalised))
        codes = np.array([vocab.index(t) for t in normalised], dtype=np.int64)
        post = one_coin_posterior(codes, acc, max(len(vocab), 2))
        best = int(np.argmax(post[: len(vocab)]))
        spelling = answers[normalised.index(vocab[best])]
        return Decision(spelling, float(post[best]), "one_coin")
    numbers = np.asarray(answers, dtype=np.float64)
    median = float(np.median(numbers))
    share = float(np.mean(np.isclose(numbers, median)))
    return Decision(number_label(median), share, "median")


@dataclass(frozen=True)
class LiveModel:
    """What the last whole-bundle run left for the per-item decision: the rings in force
    (worker id -> ring id) and the one-coin calibration map."""

    ring_of_worker: Mapping[str, int]
    calibration: Mapping[str, Any] | None

    def scale(self, worker_ids: Sequence[int]) -> list[float] | None:
        """Per answer: 1/m for each of m members of one ring on the item, else 1."""
        if not self.ring_of_worker:
            return None
        rings = [self.ring_of_worker.get(str(w)) for w in worker_ids]
        counts = Counter(r for r in rings if r is not None)
        return [1.0 if r is None else 1.0 / counts[r] for r in rings]


def live_model(bundle_id: int) -> LiveModel:
    row = (
        BundleQuality.objects.filter(bundle_id=bundle_id)
        .values_list("ring_of_worker", "calibration")
        .first()
    )
    if row is None:
        return LiveModel({}, None)
    return LiveModel(row[0] or {}, (row[1] or {}).get("one_coin"))


@transaction.atomic
def item_decide(*, item_id: int, reopen: bool = True) -> str:
    """Aggregate an item's counted judgments and decide whether it needs another one.

    Under the item's row lock: recount `judgments_submitted` (blocked workers out), write the
    item's `ItemResult`, then, while the bundle is live: complete the item once it has at least
    min_overlap judgments and its confidence reaches the target (bundle's, or 0.9) or it has
    max_overlap; otherwise make sure one more judgment is on its way (or as many as it lacks
    to min_overlap), opening slots only within `max_overlap - counted - live claims`. Returns
    the item's state. Gold items are never decided (they are never complete). With
    `reopen=False` the result is rewritten but no judgment is bought (no money for it)."""
    locked = Item.objects.select_for_update(of=("self",), no_key=connection.vendor == "postgresql")
    item = locked.select_related("bundle").get(pk=item_id)  # no key: see `tasks.locking`
    bundle = item.bundle
    if item.is_gold:
        return item.state
    rows = list(
        Assignment.objects.filter(item_id=item_id, status__in=COUNTED_STATUSES)
        .order_by("submitted_at", "id")
        .values_list("worker_id", "answer")
    )
    accuracy = worker_accuracies(
        bundle_id=bundle.pk, worker_ids={w for w, _ in rows}, question=bundle.question
    )
    counted = [(w, answer) for w, answer in rows if w in accuracy]
    live = live_model(bundle.pk)
    decision = decide_answers(
        bundle.question,
        [a for _, a in counted],
        [accuracy[w] for w, _ in counted],
        payload=item.payload,
        scale=live.scale([w for w, _ in counted]),
        calibration=live.calibration,
    )
    n = len(counted)
    loop = _assisted_or_plain(
        bundle, item_id, [a for _, a in counted], [accuracy[w] for w, _ in counted]
    )
    if loop is not None and loop.decision is not None:
        decision = loop.decision
    _result_write(
        item_id=item_id,
        decision=decision,
        judgments=n,
        # On an assisted bundle a plain decision resets what an earlier model decision wrote.
        provenance=loop.provenance if loop is not None else (HUMAN if bundle.assist else None),
    )
    if bundle.status not in LIVE_STATUSES:
        Item.objects.filter(pk=item_id).update(judgments_submitted=n)
        return item.state
    claimed = Assignment.objects.filter(item_id=item_id, status=AssignmentStatus.CLAIMED).count()
    target = bundle.target_confidence or DEFAULT_TARGET_CONFIDENCE
    confidence = decision.confidence if decision is not None else float("nan")
    # min_overlap 0 (auto-accept) holds only for an item the model has a prediction for.
    least = max(bundle.min_overlap, 1) if loop is None else loop.min_overlap
    if loop is None:
        needs = item_needs_more_judgments(
            confidence, n, min_overlap=least, max_overlap=bundle.max_overlap, target=target
        )
    else:
        needs = loop.overruled or n < least or (n < bundle.max_overlap and not confidence >= target)
    if not needs:
        state, slots = ItemState.COMPLETE, 0
    elif not reopen:
        Item.objects.filter(pk=item_id).update(judgments_submitted=n)
        return item.state
    else:
        wanted = max(least - n, 1)
        room = max(bundle.max_overlap - n - claimed, 0)
        slots = min(max(wanted - claimed, 0), room)
        state = ItemState.OPEN if slots > 0 else ItemState.FULL
    belief = loop.belief if loop is not None and loop.belief is not None else confidence
    routed = _routed(bundle, item_id, n, belief) if state == ItemState.OPEN else {}
    Item.objects.filter(pk=item_id).update(
        judgments_submitted=n, slots_open=slots, state=state, **routed
    )
    if state == ItemState.COMPLETE and loop is not None and loop.provenance.get("audited"):
        audit_after_commit(bundle.pk)
    if state == ItemState.COMPLETE and bundle.assist and bundle.assist.get("model") != "external":
        retrain_after_commit(bundle.pk)
    return state


def items_decide(*, item_ids: Iterable[int], reopen: bool = True) -> dict[str, int]:
    """`item_decide` over several items (each in its own savepoint and lock); counts by state."""
    states: dict[str, int] = {}
    for item_id in item_ids:
        state = item_decide(item_id=item_id, reopen=reopen)
        states[state] = states.get(state, 0) + 1
    return states


def items_label(*, bundle: Any, item_ids: Sequence[int]) -> int:
    """Rewrite the live labels of a fixed-overlap bundle's items in one batch (the live update's
    pass over the items judged since the last one): one read of their counted judgments, one
    of the workers' accuracies, one upsert. Nothing is bought or completed here (the hot path
    counts slots on fixed overlap). Returns the results written."""
    if not item_ids:
        return 0
    blocked = WorkerBundleStats.objects.filter(bundle_id=bundle.pk, blocked=True).values(
        "worker_id"
    )
    rows = list(
        Assignment.objects.filter(item_id__in=list(item_ids), status__in=COUNTED_STATUSES)
        .exclude(worker_id__in=blocked)
        .order_by("item_id", "submitted_at", "id")
        .values_list("item_id", "worker_id", "answer")
    )
    accuracy = worker_accuracies(
        bundle_id=bundle.pk, worker_ids={w for _, w, _ in rows}, question=bundle.question
    )
    live = live_model(bundle.pk)
    payloads = dict(Item.objects.filter(pk__in=list(item_ids)).values_list("pk", "payload"))
    by_item: dict[int, list[tuple[int, Any]]] = {}
    for item_id, worker_id, answer in rows:
        if worker_id in accuracy:
            by_item.setdefault(item_id, []).append((worker_id, answer))
    results = []
    for item_id, counted in by_item.items():
        decision = decide_answers(
            bundle.question, [a for _, a in counted], [accuracy[w] for w, _ in counted],
            payload=payloads.get(item_id), scale=live.scale([w for w, _ in counted]),
            calibration=live.calibration,
        )  # fmt: skip
        if decision is not None:
            results.append(
                ItemResult(
                    item_id=item_id,
                    label=decision.label,
                    confidence=decision.confidence,
                    method=decision.method,
                    judgments=len(counted),
                )  # fmt: skip
            )
    ItemResult.objects.bulk_create(
        results, batch_size=2000, update_conflicts=True, unique_fields=["item"],
        update_fields=RESULT_FIELDS,
    )  # fmt: skip
    return len(results)


def items_decide_waiting(*, bundle_id: int) -> int:
    """Decide the items of a live dynamic bundle that wait with no open slot and no live claim:
    the safety net for a follow-up that failed after its submission committed."""
    waiting = (
        Item.objects.filter(bundle_id=bundle_id, is_gold=False, state=ItemState.FULL)
        .exclude(assignments__status=AssignmentStatus.CLAIMED)
        .values_list("id", flat=True)
    )
    return sum(items_decide(item_ids=list(waiting)).values())


def _routed(bundle: Any, item_id: int, judgments: int, confidence: float) -> dict[str, int]:
    """The claim priority of an open item of an assisted choice bundle (`tasks.assist.routing`:
    the worth of its next judgment, or a random place for a share of items); {} elsewhere."""
    if not bundle.assist or bundle.question["type"] not in ("single_choice", "rating"):
        return {}
    n_classes = ChoiceCodec(bundle.question).n_classes
    priority = routing.claim_priority(
        item_id=item_id, judgments=judgments, confidence=confidence, n_classes=n_classes,
        accuracy=pooled_accuracy(bundle.pk),
    )  # fmt: skip
    return {"priority": priority}


@dataclass(frozen=True)
class Assisted:
    """The closed loop's part in one item's decision (`tasks.assist.prior`): the decision with
    the model's prior (None: keep people's), the fewest judgments the item needs, whether the
    people who judged it overrule the model (then it needs more), and the provenance."""

    decision: Decision | None
    min_overlap: int
    overruled: bool
    provenance: Mapping[str, Any]
    #: The model's confidence where it may not decide yet (no judgment, no auto-accept): what
    #: routing weighs the item's next judgment by.
    belief: float | None = None


def _assisted_or_plain(
    bundle: Any, item_id: int, answers: Sequence[Any], accuracies: Sequence[float]
) -> Assisted | None:
    """`_assisted`, or None (the plain rule) when the loop fails: a broken prediction or model
    never blocks a decision, and so never the claims waiting on it. The failure is recorded for
    the requester (`failure_after_commit`)."""
    if not bundle.assist:
        return None
    try:
        with transaction.atomic():  # a savepoint: a failed read must not poison the decision
            return _assisted(bundle, item_id, answers, accuracies)
    except Exception as exc:  # noqa: BLE001 - any failure of the loop falls back to the rule
        failure_after_commit(bundle.pk, "the model's prior failed; people decided", exc)
        return None


def _assisted(
    bundle: Any, item_id: int, answers: Sequence[Any], accuracies: Sequence[float]
) -> Assisted | None:
    """None unless the bundle has `assist`, a choice or rating question and the item a usable
    prediction: the plain rule then decides exactly as without the loop."""
    if not bundle.assist or bundle.question["type"] not in ("single_choice", "rating"):
        return None
    codec = ChoiceCodec(bundle.question)
    target = bundle.target_confidence or DEFAULT_TARGET_CONFIDENCE
    prior = assist.item_prior(bundle=bundle, item_id=item_id, values=codec.values, target=target)
    if prior is None:
        return None
    least = assist.effective_min_overlap(bundle, prior)
    if prior.audited:
        return Assisted(None, least, False, assist.provenance(prior, len(answers), None))
    labels = codec.encode(answers)
    if not len(answers) and not assist.auto_accept_on(bundle, prior.model_version):
        belief = float(prior.probs[prior.index])
        return Assisted(None, least, False, assist.provenance(None, 0, None), belief)
    acc = np.asarray(accuracies, dtype=np.float64)
    weights = accuracy_weights(acc, codec.n_classes) if len(labels) else np.zeros(0)
    post = assist.posterior(prior.probs, labels, weights)
    best = int(np.argmax(post))
    if best == prior.index and assist.humans_overrule(labels, prior.index, codec.n_classes):
        # The model's label against the people who judged the item: it never completes on
        # that; it asks for more, and at max_overlap people alone decide. (People's label
        # winning against the model completes as usual: the prior only made it harder.)
        overruled = len(answers) < bundle.max_overlap
        return Assisted(None, least, overruled, assist.provenance(None, len(answers), None))
    decision = Decision(codec.decode(best), float(post[best]), "assisted")
    return Assisted(decision, least, False, assist.provenance(prior, len(answers), None))


def _result_write(
    *,
    item_id: int,
    decision: Decision | None,
    judgments: int,
    provenance: Mapping[str, Any] | None = None,
) -> None:
    """Upsert (one statement, so it never races a whole-bundle run into a duplicate) or, with
    nothing left that counts, delete the item's result. Provenance is written only by the
    closed loop (`provenance` given); a plain decision leaves the defaults."""
    if decision is None:
        ItemResult.objects.filter(item_id=item_id).delete()
        return
    extra = dict(provenance or {})
    ItemResult.objects.bulk_create(
        [
            ItemResult(
                item_id=item_id,
                label=decision.label,
                confidence=decision.confidence,
                method=decision.method,
                judgments=judgments,
                **extra,
            )
        ],
        update_conflicts=True,
        unique_fields=["item"],
        update_fields=[*RESULT_FIELDS, *extra],
    )


def number_label(value: float) -> int | float:
    """A numeric label as the schema spells it: an int when whole, else the float."""
    return int(value) if float(value).is_integer() else value
