"""Whole-bundle aggregation of the annotation types (boxes, spans, transcription, ...): the
workers' skills from gold and from agreement with the aggregate, and every item's label by
its type's own `aggregate`.

A worker's skill is their evidence shrunk toward the crowd's pooled gold accuracy (the prior of
the per-item decision, `decisions.pooled_accuracy`):

    skill = (sum of gold scores + AGREEMENT_WEIGHT * sum of agreements + W0 * prior)
            / (gold answers + AGREEMENT_WEIGHT * agreements + W0)

with W0 = PRIOR_WORKER_WEIGHT. Gold scores are the type's own measure (F1 of shapes, 1 - edit
distance), stored at submit time. Agreement is the type's per-judgment agreement with the item's
aggregate, counted on items with at least two judgments only (alone, a worker agrees with
themselves) and at half the weight of gold, since the worker's own answer helped make that
aggregate. The rounds alternate: skills from gold alone, aggregate, skills with agreement,
aggregate again (ROUNDS times), like the E and M steps of Dawid-Skene. The final skills are
stored as each worker's `estimated_accuracy`, which the per-item decision of dynamic overlap
then weighs answers by.

Pure over plain lists and arrays apart from three reads (gold scores, payloads, the prior).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tasks.annotation.base import AnnotationType, ItemContext
from tasks.models import Item, ItemResult

from .decisions import SKILL_RANGE, pooled_accuracy
from .rules import PRIOR_WORKER_WEIGHT
from .selectors import counted_judgments

#: Weight of one agreement with an aggregate, against one gold answer.
AGREEMENT_WEIGHT = 0.5
ROUNDS = 2
#: Appended to the type's method by a whole-bundle run (skills re-estimated from agreement),
#: so its results are told from the per-item decision's (`bundles_needing_aggregation`).
METHOD_SUFFIX = "+skills"
_METHOD_LENGTH = ItemResult._meta.get_field("method").max_length or 32


@dataclass(frozen=True)
class AnnotationRun:
    """What a run writes: one result per item (judged, or gold) and each worker's skill
    (by dense worker index, as in the judgments)."""

    results: list[ItemResult]
    skills: np.ndarray


def annotation_bundle_run(
    *,
    bundle_id: int,
    kind: AnnotationType,
    question: Mapping[str, Any],
    item_ids: Sequence[int],
    gold: Mapping[int, Any],
    items: np.ndarray,
    workers: np.ndarray,
    worker_ids: np.ndarray,
    answers: Sequence[Any],
) -> AnnotationRun:
    """Aggregate every item of an annotation bundle from its counted judgments (`items[j]`
    indexes `item_ids`, `workers[j]` indexes `worker_ids`). Gold items keep their gold answer
    (each shape with confidence 1) and method "gold"."""
    n_workers = len(worker_ids)
    prior = pooled_accuracy(bundle_id)
    gold_sum, gold_n = _gold_evidence(bundle_id, worker_ids)
    skills = _skills(gold_sum, gold_n, np.zeros(n_workers), np.zeros(n_workers), prior)
    by_item: dict[int, list[int]] = {}
    for j, i in enumerate(items.tolist()):
        if item_ids[i] not in gold:
            by_item.setdefault(i, []).append(j)
    contexts = _contexts(kind, question, [item_ids[i] for i in by_item])
    aggregates: dict[int, Any] = {}
    for _ in range(ROUNDS):
        agree_sum, agree_n = np.zeros(n_workers), np.zeros(n_workers)
        for i, js in by_item.items():
            who = workers[js]
            result = kind.aggregate(
                question, [answers[j] for j in js], skills[who].tolist(), contexts[item_ids[i]]
            )
            aggregates[i] = result
            if len(js) >= 2 and len(result.agreement) == len(js):
                np.add.at(agree_sum, who, np.asarray(result.agreement, dtype=np.float64))
                np.add.at(agree_n, who, 1.0)
        skills = _skills(gold_sum, gold_n, agree_sum, agree_n, prior)
    counts = np.bincount(items, minlength=len(item_ids))
    results = []
    for i, item_id in enumerate(item_ids):
        if item_id in gold:
            results.append(ItemResult(item_id=item_id, label=gold_label(gold[item_id]),
                                      confidence=1.0, method="gold",
                                      judgments=int(counts[i])))  # fmt: skip
        elif i in aggregates and aggregates[i].label is not None:
            result = aggregates[i]
            method = result.method[: _METHOD_LENGTH - len(METHOD_SUFFIX)] + METHOD_SUFFIX
            results.append(ItemResult(item_id=item_id, label=result.label,
                                      confidence=float(result.confidence), method=method,
                                      judgments=int(counts[i])))  # fmt: skip
    return AnnotationRun(results, skills)


def gold_label(gold: Any) -> Any:
    """A gold answer as a result label: every shape (an object in a list of the answer, such
    as a box or a span) with confidence 1."""
    if not isinstance(gold, dict):
        return gold
    return {
        key: [dict(s, confidence=1.0) if isinstance(s, dict) else s for s in value]
        if isinstance(value, list)
        else value
        for key, value in gold.items()
    }


def _skills(
    gold_sum: np.ndarray,
    gold_n: np.ndarray,
    agree_sum: np.ndarray,
    agree_n: np.ndarray,
    prior: float,
) -> np.ndarray:
    evidence = gold_sum + AGREEMENT_WEIGHT * agree_sum + PRIOR_WORKER_WEIGHT * prior
    weight = gold_n + AGREEMENT_WEIGHT * agree_n + PRIOR_WORKER_WEIGHT
    return np.clip(evidence / weight, *SKILL_RANGE)


def _gold_evidence(bundle_id: int, worker_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per worker (dense index): the sum of their gold scores and their number of scored gold
    answers (blocked workers are not in `worker_ids`' judgments and count for nothing). A
    gold answer without a stored score counts as 1 or 0 by whether it passed."""
    dense = {int(w): k for k, w in enumerate(worker_ids.tolist())}
    total, seen = np.zeros(len(dense)), np.zeros(len(dense))
    rows = (
        counted_judgments(bundle_id=bundle_id)
        .filter(is_gold=True, gold_correct__isnull=False)
        .values_list("worker_id", "gold_score", "gold_correct")
    )
    for worker_id, score, correct in rows.iterator(chunk_size=5000):
        k = dense.get(worker_id)
        if k is None:
            continue
        total[k] += float(score) if score is not None else float(bool(correct))
        seen[k] += 1
    return total, seen


def _contexts(
    kind: AnnotationType, question: Mapping[str, Any], item_ids: Sequence[int]
) -> dict[int, ItemContext]:
    """Each judged item's context, its payload read once in chunks."""
    contexts: dict[int, ItemContext] = {}
    ids = sorted(item_ids)
    for start in range(0, len(ids), 2000):
        chunk = ids[start : start + 2000]
        for item_id, payload in Item.objects.filter(pk__in=chunk).values_list("id", "payload"):
            contexts[item_id] = kind.context(question, payload or {})
    return contexts
