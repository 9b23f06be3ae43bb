"""`pairwise` (preference data): two texts or images side by side; pick the better one or a tie,
with a free-text reason when asked.

question: {"type": "pairwise", "left_field": "a", "right_field": "b", "allow_tie": true,
           "reason": "none" | "optional" | "required", "reason_max_length": 2000}
  answer: {"choice": "left" | "right" | "tie", "reason": "..."}    # "reason" when given

A bare "left" (a CSV cell, gold written by hand) stands for {"choice": "left"}. "tie" needs
`allow_tie`; a required reason must be non-empty; with reason "none" a reason is dropped.

The items are pairs drawn from a set of candidates: the payload carries their ids as "a_id"
(shown on the left) and "b_id" (on the right). Per item, the label is the one-coin skill-weighted
vote over the choices with its posterior as confidence (`voting`), like a choice question;
over the bundle, `bundle_ranking` orders the candidates with a noise-aware Bradley-Terry fit
(`ranking.rank`) from every judgment (`item_comparisons` turns an item's judgments into
comparisons).
Gold scores 1.0 for the same choice and 0.0 otherwise (the reason is not scored).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

from .base import Aggregate, ItemContext
from .errors import InvalidAnswer, InvalidQuestion
from .fields import field_name, flag
from .ranking import rank
from .shape_fields import bounded_int, skills_check
from .voting import posterior, winner

NAME = "pairwise"
METHOD = "pair_vote"
CHOICES = ("left", "right", "tie")
REASON_MODES = ("none", "optional", "required")
#: Payload keys naming the two candidates (left, right).
LEFT_ID, RIGHT_ID = "a_id", "b_id"

__all__ = ["TYPE", "bundle_ranking", "item_comparisons", "rank"]


class Pairwise:
    name = NAME

    def question(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(raw, Mapping):
            raise InvalidQuestion("question must be an object with a type.")
        left = field_name(raw, "left_field", "a")
        right = field_name(raw, "right_field", "b")
        if left == right:
            raise InvalidQuestion("question.left_field and right_field must differ.")
        reason = raw.get("reason", "optional")
        if reason not in REASON_MODES:
            raise InvalidQuestion(f"question.reason must be one of: {', '.join(REASON_MODES)}.")
        return {
            "type": NAME,
            "left_field": left,
            "right_field": right,
            "allow_tie": flag(raw, "allow_tie", True),
            "reason": reason,
            "reason_max_length": bounded_int(raw, "reason_max_length", 2000, 1, 10_000),
        }

    def context(self, question: Mapping[str, Any], payload: Mapping[str, Any]) -> ItemContext:
        return ItemContext(payload=payload)

    def answer(self, question: Mapping[str, Any], raw: Any, context: ItemContext) -> Any:
        if isinstance(raw, str):
            raw = {"choice": raw.strip()}
        if not isinstance(raw, Mapping):
            raise InvalidAnswer('answer must be an object {"choice": "left" | "right" | "tie"}.')
        allowed = CHOICES if question["allow_tie"] else CHOICES[:2]
        choice = raw.get("choice")
        if choice not in allowed:
            raise InvalidAnswer(f"choice must be one of: {', '.join(allowed)}.")
        out: dict[str, Any] = {"choice": choice}
        reason = raw.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise InvalidAnswer("reason must be text.")
        reason = (reason or "").strip()
        if question["reason"] == "required" and not reason:
            raise InvalidAnswer("reason is required: say why you chose this.")
        if len(reason) > question["reason_max_length"]:
            raise InvalidAnswer(
                f"reason is longer than {question['reason_max_length']} characters."
            )
        if reason and question["reason"] != "none":
            out["reason"] = reason
        return out

    def gold_score(self, question: Mapping[str, Any], answer: Any, gold: Any) -> float:
        return 1.0 if answer["choice"] == gold["choice"] else 0.0

    def gold_passes(self, question: Mapping[str, Any], score: float) -> bool:
        return score >= 1.0

    def aggregate(
        self,
        question: Mapping[str, Any],
        answers: Sequence[Any],
        weights: Sequence[float],
        context: ItemContext,
    ) -> Aggregate:
        skills = skills_check(answers, weights)
        if not answers:
            return Aggregate(label=None, confidence=0.0, method=METHOD)
        options = CHOICES if question["allow_tie"] else CHOICES[:2]
        codes = [options.index(a["choice"]) for a in answers]
        post = posterior(codes, skills, len(options))
        best = winner(post)
        agreement = tuple(1.0 if code == best else 0.0 for code in codes)
        return Aggregate(label={"choice": options[best]}, confidence=float(post[best]),
                         method=METHOD, agreement=agreement)  # fmt: skip


def item_comparisons(
    payload: Mapping[str, Any],
    answers: Sequence[Mapping[str, Any]],
    weights: Sequence[float],
    workers: Sequence[Hashable] | None = None,
) -> list[tuple[Any, ...]]:
    """One item's judgments as `rank`'s comparisons (a_id, b_id, outcome, weight[, worker]);
    empty when the payload does not name two different candidates (text or integer ids)."""
    a_id, b_id = payload.get(LEFT_ID), payload.get(RIGHT_ID)
    if not all(isinstance(v, str | int) and not isinstance(v, bool) for v in (a_id, b_id)):
        return []
    if a_id == b_id:
        return []
    rows: list[tuple[Any, ...]] = []
    for i, (answer, weight) in enumerate(zip(answers, weights, strict=True)):
        row: tuple[Any, ...] = (a_id, b_id, answer["choice"], float(weight))
        rows.append(row if workers is None else (*row, workers[i]))
    return rows


def bundle_ranking(
    items: Iterable[tuple[Mapping[str, Any], Sequence[Any], Sequence[float], Sequence[Hashable]]],
) -> list[dict[str, Any]]:
    """The bundle's `ranking` for results and exports: every item's counted judgments as
    (payload, normalised answers, their workers' skills, their workers' ids), ranked together
    (each worker with their own lapse rate); candidates best first with score and interval."""
    comparisons: list[tuple[Any, ...]] = []
    for payload, answers, weights, workers in items:
        comparisons += item_comparisons(payload, answers, weights, workers)
    return rank(comparisons)


TYPE = Pairwise()
