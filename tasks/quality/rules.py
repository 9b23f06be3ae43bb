"""The quality engine's rules and constants: pure (no query), vectorised where it matters, so the
simulation in the tests runs the very functions the services use.

What a worker's evidence is made of is read elsewhere (`tasks.quality.blocking.worker_evidence`);
here it is only weighed against a bundle's settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from tasks.models import AssignmentStatus, Bundle, BundleStatus

from .aggregation import wilson_interval

#: Judgments that count towards an item (a rejected one does not; a claim is not a judgment).
COUNTED_STATUSES = (AssignmentStatus.SUBMITTED, AssignmentStatus.APPROVED)
LIVE_STATUSES = (BundleStatus.PUBLISHED, BundleStatus.PAUSED)
#: Target confidence of dynamic overlap when a bundle does not set one.
DEFAULT_TARGET_CONFIDENCE = 0.9
#: Two-sided 95% Wilson interval: a worker is blocked when even the optimistic end of it is
#: under the bundle's minimum (so bad luck rarely blocks a good worker; see the tests).
WILSON_Z = 1.96
#: The too-fast rule waits for at least this many answers (or min_gold_answers, if larger).
FAST_RULE_MIN_ANSWERS = 5
#: Prior of the per-item (one-coin) decision: an unknown worker is assumed this accurate, worth
#: this many gold answers; gold answers move each worker's estimate away from it.
PRIOR_WORKER_ACCURACY = 0.7
PRIOR_WORKER_WEIGHT = 4.0
#: The pooled accuracy of a bundle's crowd is kept inside this range before it becomes a prior.
POOLED_ACCURACY_RANGE = (0.55, 0.95)

#: The whole-bundle aggregation methods a caller may ask for (`bundle_aggregate`).
BundleMethod = Literal["dawid_skene", "majority_vote"]


def gold_rule_blocks(
    *,
    correct: Any,
    seen: Any,
    min_accuracy: float,
    min_answers: int,
    z: float = WILSON_Z,
) -> Any:
    """Whether the gold rule blocks (scalar or array): at least `min_answers` gold answers and
    the upper end of the Wilson interval of `correct / seen` under `min_accuracy`."""
    seen_arr = np.asarray(seen)
    _, high = wilson_interval(correct, seen_arr, z)
    blocks = (seen_arr >= max(min_answers, 1)) & (np.asarray(high) < min_accuracy)
    return bool(blocks) if np.ndim(blocks) == 0 else blocks


def fast_rule_blocks(*, fast: int, total: int, max_fraction: float, min_answers: int) -> bool:
    """Whether the too-fast rule blocks: enough answers, and more than `max_fraction` of them
    faster than the bundle's floor."""
    return total >= max(min_answers, FAST_RULE_MIN_ANSWERS) and fast > max_fraction * total


@dataclass(frozen=True)
class Evidence:
    """What the automatic rules weigh for one worker in one bundle."""

    gold_seen: int
    gold_correct: int
    answers: int
    fast_answers: int


def shorthand_rules(bundle: Bundle) -> list[dict[str, Any]]:
    """The rules the bundle's old quality fields stand for, in the rules engine's terms (what
    the API shows as `effective_rules` and a block by them writes to the history). They are
    weighed on the hot path's counters (`blocking.worker_quality_check`), not by the engine."""
    rules: list[dict[str, Any]] = []
    if bundle.min_gold_accuracy is not None:
        rules.append({
            "collector": "gold_accuracy", "threshold": float(bundle.min_gold_accuracy),
            "min_answers": max(bundle.min_gold_answers, 1), "action": "block",
            "from": "min_gold_accuracy",
        })  # fmt: skip
    if bundle.min_seconds_per_task is not None:
        rules.append({
            "collector": "answer_speed", "threshold": float(bundle.max_fast_fraction),
            "min_answers": max(bundle.min_gold_answers, FAST_RULE_MIN_ANSWERS),
            "floor_seconds": float(bundle.min_seconds_per_task), "action": "block",
            "from": "min_seconds_per_task",
        })  # fmt: skip
    return rules


@dataclass(frozen=True)
class Violation:
    """Which old field's rule blocks (`min_gold_accuracy` or `min_seconds_per_task`), why, and
    its figures (as a rules-engine history row carries them)."""

    field: str
    reason: str
    figures: dict[str, Any]


def rule_violation(*, evidence: Evidence, bundle: Bundle) -> str | None:
    """The reason the bundle's rules block this evidence, with its figures, or None."""
    found = rule_violation_of(evidence=evidence, bundle=bundle)
    return None if found is None else found.reason


def rule_violation_of(*, evidence: Evidence, bundle: Bundle) -> Violation | None:
    """The old fields' rule this evidence breaks, or None."""
    if bundle.min_gold_accuracy is not None and gold_rule_blocks(
        correct=evidence.gold_correct,
        seen=evidence.gold_seen,
        min_accuracy=bundle.min_gold_accuracy,
        min_answers=bundle.min_gold_answers,
    ):
        _, high = wilson_interval(evidence.gold_correct, evidence.gold_seen, WILSON_Z)
        reason = (
            f"Gold accuracy {evidence.gold_correct}/{evidence.gold_seen} "
            f"({evidence.gold_correct / evidence.gold_seen:.0%}): even the upper end of its 95% "
            f"interval ({high:.0%}) is under this bundle's minimum of "
            f"{bundle.min_gold_accuracy:.0%}."
        )
        figures = {"value": float(high), "n": evidence.gold_seen,
                   "correct": evidence.gold_correct, "seen": evidence.gold_seen}  # fmt: skip
        return Violation("min_gold_accuracy", reason, figures)
    if bundle.min_seconds_per_task is not None and fast_rule_blocks(
        fast=evidence.fast_answers,
        total=evidence.answers,
        max_fraction=bundle.max_fast_fraction,
        min_answers=bundle.min_gold_answers,
    ):
        reason = (
            f"{evidence.fast_answers} of {evidence.answers} answers "
            f"({evidence.fast_answers / evidence.answers:.0%}) took under "
            f"{bundle.min_seconds_per_task:g} s each; this bundle allows at most "
            f"{bundle.max_fast_fraction:.0%}."
        )
        figures = {"value": evidence.fast_answers / evidence.answers, "n": evidence.answers,
                   "fast": evidence.fast_answers, "answers": evidence.answers,
                   "floor_seconds": float(bundle.min_seconds_per_task)}  # fmt: skip
        return Violation("min_seconds_per_task", reason, figures)
    return None
