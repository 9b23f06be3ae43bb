"""The model as a calibrated prior in the per-item decision (`tasks.quality.decisions`).

For a single choice or rating item of a bundle with `assist`, the decision asks `item_prior`
for the newest prediction; the posterior is then the prior times each counted worker's
one-coin likelihood (their estimated accuracy), so a confident model plus one agreeing judgment
can reach the target where people alone needed three. Guarantees kept here:

- no prediction, an unsupported question type, or a model the audit switched off: None, and
  the decision falls back to the plain rule (people alone);
- an item never completes on the model's label against the people who judged it: while the
  counted humans' plurality is another label, the item asks for more (up to `max_overlap`,
  where people alone decide);
- an `audit_rate` share of the items the model would accept alone (its confidence reaches the
  target; chosen by a hash of the item id, so the choice is stable) gets full human overlap and
  is decided by people alone: they measure exactly the acceptances the audit vouches for, so a
  model right 85% of the time overall but 98% of the time where it is confident passes it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tasks.models import Bundle, Prediction

#: A model is never trusted beyond this (nor below its complement): one wrong certainty must
#: still be overturnable by people.
CONFIDENCE_RANGE = (0.02, 0.98)
#: The target an item completes at when the bundle sets none (`tasks.quality.rules` agrees).
DEFAULT_TARGET_CONFIDENCE = 0.9
#: Judgments an audited item gets at least (bounded by `max_overlap`): fixed overlap 3.
AUDIT_OVERLAP = 3


@dataclass(frozen=True)
class Prior:
    """The newest prediction of an item as a distribution over the question's classes."""

    label: Any
    index: int
    probs: np.ndarray
    model_version: int
    audited: bool


def assist_active(bundle: Bundle) -> bool:
    """Whether the loop acts on this bundle: an `assist` object, and the audit has not
    switched the model off."""
    return bool(bundle.assist) and not (bundle.assist_status or {}).get("model_off")


def auto_accept_on(bundle: Bundle, version: int | None = None) -> bool:
    """Whether an item may complete on the model alone (no judgment at all): the bundle allows
    it, and (given the `version` of the item's prediction) that version passed its audit
    (`tasks.assist.audit`), so a new, unproven model never labels items alone."""
    allowed = (
        assist_active(bundle)
        and bool((bundle.assist or {}).get("auto_accept"))
        and bundle.min_overlap == 0
    )
    if not allowed or version is None:
        return allowed
    return (bundle.assist_status or {}).get("vetted_version") == version


def is_audited(item_id: int, rate: float) -> bool:
    """A stable pseudo-random draw: the same item is always (or never) in the audit."""
    digest = hashlib.blake2b(str(item_id).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64 < rate


def item_prior(
    *, bundle: Bundle, item_id: int, values: Sequence[Any], target: float
) -> Prior | None:
    """The item's prior over `values` (the classes in order) from its newest prediction, or
    None when the loop does not apply (see the module's docstring). `target` is the confidence
    the item completes at: a prediction that reaches it alone may be drawn for the audit."""
    if not assist_active(bundle):
        return None
    row = (
        Prediction.objects.filter(item_id=item_id)
        .order_by("-model_version")
        .values("label", "confidence", "model_version")
        .first()
    )
    if row is None or row["label"] not in values:
        return None
    n = len(values)
    index = list(values).index(row["label"])
    confidence = float(np.clip(row["confidence"], *CONFIDENCE_RANGE))
    confidence = max(confidence, 1.0 / n)  # a prediction never argues against its own label
    probs = np.full(n, (1.0 - confidence) / max(n - 1, 1))
    probs[index] = confidence
    version = int(row["model_version"])
    audited = drawn_for_audit(bundle, item_id, confidence, target, version)
    return Prior(row["label"], index, probs, version, audited)


def drawn_for_audit(
    bundle: Bundle, item_id: int, confidence: float, target: float, version: int
) -> bool:
    """Whether people alone decide this item to measure the model: its prediction would accept
    it alone (`confidence` reaches `target`) and the item is in the stable `audit_rate` draw.
    A version not yet vetted (posted predictions, before their audit passed) has every such
    item audited: it is judged on its first AUDIT_MIN_ITEMS confident items, so a wrong one is
    caught within a few items (`tasks.assist.audit`), and a good one is vetted as soon."""
    rate = float((bundle.assist or {}).get("audit_rate", 0.05))
    if (bundle.assist_status or {}).get("vetted_version") != version:
        rate = 1.0
    return confidence >= target and is_audited(item_id, rate)


def posterior(prior: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Prior times the one-coin likelihood of the counted answers (log-odds `weights`, as
    `tasks.quality.aggregation.accuracy_weights` gives them), normalised."""
    scores = np.log(prior) + np.bincount(labels, weights=weights, minlength=len(prior))
    scores = scores - scores.max()
    post = np.exp(scores)
    return post / post.sum()


def humans_overrule(labels: np.ndarray, model_index: int, n_classes: int) -> bool:
    """Whether the people who judged the item lean (by plurality) to a label other than the
    model's: then the model's label must not complete the item."""
    if len(labels) == 0:
        return False
    counts = np.bincount(labels, minlength=n_classes)
    return bool(counts.max() > counts[model_index])


def effective_min_overlap(bundle: Bundle, prior: Prior | None) -> int:
    """The fewest judgments the item needs: audited items get full human overlap, items
    without a usable prior at least one, auto-accepted ones may need none."""
    if prior is not None and prior.audited:
        return min(bundle.max_overlap, max(bundle.min_overlap, AUDIT_OVERLAP))
    if prior is None or not auto_accept_on(bundle, prior.model_version):
        return max(bundle.min_overlap, 1)
    return bundle.min_overlap


def provenance(prior: Prior | None, judgments: int, label: Any) -> Mapping[str, Any]:
    """The result's provenance fields (`ItemResult.provenance`, `audited`, `model_version`)."""
    if prior is None:
        return {"provenance": "human", "audited": False, "model_version": None}
    if prior.audited:
        return {"provenance": "human", "audited": True, "model_version": prior.model_version}
    kind = "model" if judgments == 0 else "model+human"
    return {"provenance": kind, "audited": False, "model_version": prior.model_version}
