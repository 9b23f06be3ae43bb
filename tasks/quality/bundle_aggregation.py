"""Whole-bundle aggregation: every item's `ItemResult` from all the judgments that count, by
question type (Dawid-Skene with gold clamped, or majority vote, for choices and ratings; per
option for multiple choice; vote over normalised text; median for numbers; each annotation
type by its own aggregate, weighted by skills from gold and agreement, in
`annotation_aggregation`).

Runs when a bundle finishes (`tasks.tasks.aggregate_bundle_task`) and, for live bundles that
received judgments since their last run, in the periodic re-aggregation, which also decides
dynamic items left waiting. The numbers come from the pure-numpy engine
(`tasks.quality.aggregation`); this module codes the ORM's judgments as integer arrays and
writes the outcome. Blocked workers' answers are left out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.db.models import Max, Q

from tasks.locking import lock_bundle
from tasks.models import Assignment, Bundle, Item, ItemResult, WorkerBundleStats
from tasks.schema import annotation_type, text_normalise

from .aggregation import aggregate, aggregate_numbers, aggregate_text
from .annotation_aggregation import METHOD_SUFFIX, annotation_bundle_run
from .choice_aggregation import choice_run
from .decisions import RESULT_FIELDS, ChoiceCodec, items_decide_waiting, number_label
from .ring_records import dismissed_member_sets, quality_store
from .rules import COUNTED_STATUSES, LIVE_STATUSES, BundleMethod
from .selectors import counted_judgments, vote_weights

logger = logging.getLogger(__name__)

#: Methods written by a whole-bundle run (the per-item decision writes "one_coin" or "median").
BUNDLE_METHODS = ("dawid_skene", "majority_vote", "text_vote", "median", "gold")


@dataclass
class _BundleJudgments:
    item_ids: list[int]  # items with a result row to write (judged, or gold)
    gold: dict[int, Any]  # item id -> gold answer
    items: np.ndarray  # per judgment: index into item_ids
    workers: np.ndarray  # per judgment: dense worker index
    worker_ids: np.ndarray  # dense worker index -> worker id
    answers: list[Any]


def _bundle_judgments(bundle: Bundle) -> _BundleJudgments:
    rows = list(
        counted_judgments(bundle_id=bundle.pk)
        .order_by("item_id", "id")
        .values_list("item_id", "worker_id", "answer")
        .iterator(chunk_size=5000)
    )
    gold = dict(
        Item.objects.filter(bundle=bundle, is_gold=True, gold__isnull=False).values_list(
            "id", "gold"
        )
    )
    judged = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    item_ids = np.union1d(judged, np.fromiter(gold, dtype=np.int64, count=len(gold)))
    worker_col = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
    worker_ids, workers = np.unique(worker_col, return_inverse=True)
    return _BundleJudgments(
        item_ids=item_ids.tolist(),
        gold=gold,
        items=np.searchsorted(item_ids, judged),
        workers=workers.astype(np.int64),
        worker_ids=worker_ids,
        answers=[r[2] for r in rows],
    )


def bundle_aggregate(*, bundle_id: int, method: BundleMethod = "dawid_skene") -> int:
    """Aggregate a whole bundle and write every item's `ItemResult`; returns the rows written.

    By question type: choice and rating by `method` (Dawid-Skene by default, gold items clamped
    to their answer, so they teach the worker models); multiple choice per option the same way;
    text by exact vote over normalised answers; numbers by median. Labels are written as schema
    values (choice value, rating int, list of values, text as first spelled, number). Gold items
    get their gold answer with confidence 1 and method "gold". Blocked workers' answers are left
    out; items with nothing that counts lose their stale result. Idempotent: same judgments, same
    rows (one upsert batch and one delete, in one transaction). With Dawid-Skene the per-worker
    accuracies are stored (`WorkerBundleStats.estimated_accuracy`) for the per-item decision.
    Annotation types: their own aggregate per item, gold items as gold, the skills estimated
    from gold and agreement stored the same way (`annotation_aggregation`)."""
    bundle = Bundle.objects.get(pk=bundle_id)
    data = _bundle_judgments(bundle)
    kind = annotation_type(bundle.question)
    if kind is not None:
        run = annotation_bundle_run(
            bundle_id=bundle_id, kind=kind, question=bundle.question, item_ids=data.item_ids,
            gold=data.gold, items=data.items, workers=data.workers,
            worker_ids=data.worker_ids, answers=data.answers,
        )  # fmt: skip
        return _results_write(bundle_id, run.results, data.worker_ids, run.skills)
    qtype = bundle.question["type"]
    n_items = len(data.item_ids)
    quality: np.ndarray | None = None
    extra: dict[str, Any] | None = None
    if qtype in ("single_choice", "rating") and method == "dawid_skene":
        labels, confidence, used, quality, extra = _aggregate_choice_rings(bundle, data)
    elif qtype in ("single_choice", "rating"):
        labels, confidence, used, quality = _aggregate_choice(bundle, data, method)
    elif qtype == "multiple_choice":
        labels, confidence, used, quality = _aggregate_multiple(bundle, data, method)
    elif qtype == "text":
        text = aggregate_text(data.items, [str(a) for a in data.answers], n_items=n_items)
        labels = _first_spellings(data, text.texts)
        confidence, used = text.confidence, "text_vote"
    else:
        values = np.asarray(data.answers, dtype=np.float64)
        numbers = aggregate_numbers(data.items, values, n_items=n_items)
        labels = [None if np.isnan(v) else number_label(float(v)) for v in numbers.values]
        confidence, used = _median_agreement(data, values, numbers.values), "median"
    counts = np.bincount(data.items, minlength=n_items)
    results = []
    for i, item_id in enumerate(data.item_ids):
        if item_id in data.gold:
            results.append(ItemResult(item_id=item_id, label=data.gold[item_id], confidence=1.0,
                                      method="gold", judgments=int(counts[i])))  # fmt: skip
        elif labels[i] is not None:
            results.append(ItemResult(item_id=item_id, label=labels[i],
                                      confidence=float(confidence[i]), method=used,
                                      judgments=int(counts[i])))  # fmt: skip
    keep = _model_results(bundle) if bundle.assist else set()
    results = [r for r in results if r.item_id not in keep]
    return _results_write(bundle_id, results, data.worker_ids, quality, keep=keep, extra=extra)


def _model_results(bundle: Bundle) -> set[int]:
    """Items the closed loop decided with the model (provenance "model" or "model+human"):
    a whole-bundle run over people's answers alone must not overwrite or delete them."""
    return set(
        ItemResult.objects.filter(item__bundle_id=bundle.pk)
        .exclude(provenance="human")
        .values_list("item_id", flat=True)
    )


def _results_write(
    bundle_id: int,
    results: list[ItemResult],
    worker_ids: np.ndarray,
    quality: np.ndarray | None,
    *,
    keep: set[int] | frozenset[int] = frozenset(),
    extra: dict[str, Any] | None = None,
) -> int:
    """Replace the bundle's results by `results` (and the rings and calibration in `extra`)
    in one transaction, leaving the items in `keep` alone, then store the workers' estimated
    quality in a transaction of its own; returns the rows written.

    The estimates are written apart, after the results commit: a transaction holding the
    workers' stats rows while it waits on items or results (its COMMIT checks the results'
    foreign keys on their items) can deadlock with a claim or submission that holds an item
    and waits for its worker's stats row. Alone, it locks stats rows only, in id order, as
    every other writer of several stats rows does (`worker_block` across bundles locks one per
    bundle); between the two commits a reader sees new results with the previous estimates,
    as it would have a moment earlier.

    The results are written under the bundle's row lock (`tasks.locking.lock_bundle`), taken
    first, as every other writer of several of a bundle's results takes it (a block or a rule
    action re-deciding a worker's items, the live update's batch): two such batches could
    otherwise lock the same result rows in opposite orders (this one's delete of stale rows
    comes before its upsert)."""
    with transaction.atomic():
        lock_bundle(bundle_id)
        if extra is not None:
            quality_store(bundle_id=bundle_id, worker_ids=worker_ids, **extra)
        ItemResult.objects.filter(item__bundle_id=bundle_id).exclude(
            item_id__in=[r.item_id for r in results] + list(keep)
        ).delete()
        ItemResult.objects.bulk_create(
            results,
            batch_size=2000,
            update_conflicts=True,
            unique_fields=["item"],
            update_fields=RESULT_FIELDS,
        )
    if quality is not None:
        _store_worker_quality(bundle_id, worker_ids, quality)
    return len(results)


def _aggregate_choice(
    bundle: Bundle, data: _BundleJudgments, method: BundleMethod
) -> tuple[list[Any], np.ndarray, str, np.ndarray | None]:
    codec = ChoiceCodec(bundle.question)
    labels_idx = codec.encode(data.answers)
    position = {item_id: i for i, item_id in enumerate(data.item_ids)}
    gold: dict[int, int] | None = None
    if method == "dawid_skene":
        gold = {position[i]: codec.index[g] for i, g in data.gold.items() if g in codec.index}
    res = aggregate(
        data.items,
        data.workers,
        labels_idx,
        method,
        n_items=len(data.item_ids),
        n_workers=len(data.worker_ids),
        n_classes=codec.n_classes,
        gold=gold,
    )
    labels = [None if lab < 0 else codec.decode(int(lab)) for lab in res.labels]
    quality = res.worker_quality if method == "dawid_skene" else None
    return labels, res.confidence, res.method, quality


def _aggregate_choice_rings(
    bundle: Bundle, data: _BundleJudgments
) -> tuple[list[Any], np.ndarray, str, np.ndarray, dict[str, Any]]:
    """Dawid-Skene with rings down-weighted and confidence calibrated on gold
    (`choice_aggregation`); also what `quality_store` writes."""
    codec = ChoiceCodec(bundle.question)
    position = {item_id: i for i, item_id in enumerate(data.item_ids)}
    gold = {position[i]: codec.index[g] for i, g in data.gold.items() if g in codec.index}
    dense = {int(w): n for n, w in enumerate(data.worker_ids.tolist())}
    dismissed = [
        frozenset(dense[w] for w in members if w in dense)
        for members in dismissed_member_sets(bundle.pk)
    ]
    run = choice_run(
        data.items, data.workers, codec.encode(data.answers),
        n_items=len(data.item_ids), n_workers=len(data.worker_ids), n_classes=codec.n_classes,
        gold=gold, dismissed=dismissed, seed=bundle.pk,
        worker_weights=_rule_weights(bundle.pk, data.worker_ids),
    )  # fmt: skip
    labels = [None if lab < 0 else codec.decode(int(lab)) for lab in run.result.labels]
    extra = {
        "rings": run.rings,
        "calibration": run.calibration or None,
        "reliability": run.reliability or None,
        "judgments": len(data.answers),
    }
    return labels, run.confidence, "dawid_skene", run.result.worker_quality, extra


def _rule_weights(bundle_id: int, worker_ids: np.ndarray) -> np.ndarray | None:
    """Per dense worker, the weight a quality rule left their votes (`lower_weight`), or None
    when nobody's was lowered: the final labels must honour it as the live decision does."""
    lowered = vote_weights(bundle_id=bundle_id, worker_ids=worker_ids.tolist())
    if not lowered:
        return None
    position = {int(w): n for n, w in enumerate(worker_ids.tolist())}
    weights = np.ones(len(worker_ids))
    for worker_id, weight in lowered.items():
        weights[position[worker_id]] = float(weight)
    return weights


def _aggregate_multiple(
    bundle: Bundle, data: _BundleJudgments, method: BundleMethod
) -> tuple[list[Any], np.ndarray, str, np.ndarray | None]:
    """One binary aggregation per option (what `aggregate_multiple_choice` does), here with each
    option's own gold clamp. Confidence of the set: product of the per-option confidences."""
    values = [c["value"] for c in bundle.question["choices"]]
    n_items = len(data.item_ids)
    position = {item_id: i for i, item_id in enumerate(data.item_ids)}
    selected = np.zeros((n_items, len(values)), dtype=bool)
    confidence = np.ones(n_items)
    qualities = []
    for o, value in enumerate(values):
        ticks = np.fromiter(
            (value in a for a in data.answers), dtype=np.int64, count=len(data.answers)
        )
        gold: dict[int, int] | None = None
        if method == "dawid_skene":
            gold = {position[i]: int(value in g) for i, g in data.gold.items()}
        res = aggregate(
            data.items,
            data.workers,
            ticks,
            method,
            n_items=n_items,
            n_workers=len(data.worker_ids),
            n_classes=2,
            gold=gold,
        )
        selected[:, o] = res.labels == 1
        confidence *= res.confidence
        qualities.append(res.worker_quality)
    judged = np.bincount(data.items, minlength=n_items) > 0
    labels = [
        [v for v, on in zip(values, row, strict=True) if on] if judged[i] else None
        for i, row in enumerate(selected)
    ]
    quality = (
        np.nanmean(np.stack(qualities), axis=0) if qualities and method == "dawid_skene" else None
    )
    return labels, np.where(judged, confidence, 0.0), method, quality


def _first_spellings(data: _BundleJudgments, winners: list[str | None]) -> list[Any]:
    """The winning normalised text of each item, as its first submitter spelled it."""
    spelling: dict[tuple[int, str], str] = {}
    for i, answer in zip(data.items.tolist(), data.answers, strict=True):
        spelling.setdefault((i, text_normalise(answer)), answer)
    return [
        None if w is None else spelling.get((i, text_normalise(w)), w)
        for i, w in enumerate(winners)
    ]


def _median_agreement(data: _BundleJudgments, values: np.ndarray, medians: np.ndarray) -> Any:
    n_items = len(medians)
    if not len(values):
        return np.zeros(n_items)
    equal = np.isclose(values, medians[data.items])
    counts = np.bincount(data.items, minlength=n_items)
    agree = np.bincount(data.items, weights=equal, minlength=n_items)
    return np.divide(agree, counts, out=np.zeros(n_items), where=counts > 0)


def _store_worker_quality(bundle_id: int, worker_ids: np.ndarray, quality: np.ndarray) -> None:
    by_worker = {
        int(w): float(q) for w, q in zip(worker_ids.tolist(), quality.tolist(), strict=True)
    }
    with transaction.atomic():
        # Locked in id order first: one UPDATE would lock them in whatever order its plan
        # visits them, and two runs of one bundle (the live update, the periodic one) could
        # then deadlock with each other.
        rows = list(
            WorkerBundleStats.objects.select_for_update(no_key=connection.vendor == "postgresql")
            .filter(bundle_id=bundle_id, worker_id__in=by_worker)
            .order_by("pk")
        )
        for row in rows:
            value = by_worker[row.worker_id]
            row.estimated_accuracy = value if np.isfinite(value) else None
        WorkerBundleStats.objects.bulk_update(rows, ["estimated_accuracy"], batch_size=2000)


def bundles_needing_aggregation() -> list[int]:
    """Live bundles with judgments submitted since their last whole-bundle run (or never run):
    the newest submission against the newest result a whole-bundle run wrote (the per-item
    decision writes other methods, so it does not hide a stale bundle)."""
    submitted = dict(
        Assignment.objects.filter(bundle__status__in=LIVE_STATUSES, status__in=COUNTED_STATUSES)
        .values("bundle_id")
        .annotate(latest=Max("submitted_at"))
        .values_list("bundle_id", "latest")
    )
    if not submitted:
        return []
    ran = dict(
        ItemResult.objects.filter(item__bundle_id__in=list(submitted))
        .filter(Q(method__in=BUNDLE_METHODS) | Q(method__endswith=METHOD_SUFFIX))
        .values("item__bundle_id")
        .annotate(latest=Max("updated_at"))
        .values_list("item__bundle_id", "latest")
    )
    return sorted(
        bundle_id
        for bundle_id, latest in submitted.items()
        if latest is not None and (ran.get(bundle_id) is None or ran[bundle_id] < latest)
    )


def live_bundles_reaggregate() -> int:
    """Re-run the whole-bundle aggregation where new judgments arrived, and decide any dynamic
    item left waiting; returns the bundles re-aggregated. Each bundle is independent: one that
    fails is logged and the others still run."""
    done = 0
    for bundle_id in bundles_needing_aggregation():
        try:
            bundle_aggregate(bundle_id=bundle_id)
            bundle = Bundle.objects.only("min_overlap", "max_overlap", "status").get(pk=bundle_id)
            if bundle.is_dynamic_overlap:
                items_decide_waiting(bundle_id=bundle_id)
        except Exception:
            logger.exception("re-aggregation of bundle %s failed", bundle_id)
            continue
        done += 1
    return done
