"""`text_spans` (named entities): mark labelled character spans of a text.

question: {"type": "text_spans", "text_field": "text", "labels": [...],
           "allow_overlap": false, "gold_threshold": 0.8}
  answer: {"spans": [{"start": 0, "end": 5, "label": "PER"}]}    # [] = nothing to mark

Offsets are Python string indices into the payload's text, `end` exclusive: 0 <= start < end <=
len(text), integers, a known label; spans may not overlap unless `allow_overlap` (an exact
repeat is dropped). The normalised answer lists spans by (start, end, question's label order).

Gold: span-level F1, a true positive being a span with the same start, end and label.

Aggregation (`char_vote`): per label, each character is voted on by every worker (covered by one
of their spans of that label, or not), weighted by skill (`shape_votes`); the label's spans are
the maximal runs of characters whose support passes half the total weight, split where more
than half the weight put a boundary between two adjacent spans of that label (so "Paris"
"London" written back to back stay two spans). A span's `confidence` is its least sure decision:
the posterior of each of its characters being in, and of the characters just outside it being
out. The item's confidence is the least sure decision over every character and label.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .base import Aggregate, ItemContext
from .errors import InvalidAnswer, InvalidQuestion
from .fields import field_name, flag, gold_threshold_passes
from .shape_fields import (
    DEFAULT_GOLD_THRESHOLD,
    answer_list,
    entry_object,
    fraction,
    is_int,
    known_label,
    label_values,
    labels_parse,
    skills_check,
)
from .shape_votes import binary_weights, decision_confidence, posterior_yes

NAME = "text_spans"
METHOD = "char_vote"
MAX_SPANS = 1000


class TextSpans:
    name = NAME

    def question(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(raw, Mapping):
            raise InvalidQuestion("question must be an object with a type.")
        return {
            "type": NAME,
            "text_field": field_name(raw, "text_field", "text"),
            "labels": labels_parse(raw),
            "allow_overlap": flag(raw, "allow_overlap", False),
            "gold_threshold": fraction(raw, "gold_threshold", DEFAULT_GOLD_THRESHOLD),
        }

    def context(self, question: Mapping[str, Any], payload: Mapping[str, Any]) -> ItemContext:
        text = payload.get(question["text_field"])
        return ItemContext(payload=payload, text=text if isinstance(text, str) else None)

    def answer(self, question: Mapping[str, Any], raw: Any, context: ItemContext) -> Any:
        spans = answer_list(raw, "spans", MAX_SPANS)
        allowed = label_values(question)
        length = len(context.text) if context.text is not None else None
        seen: dict[tuple[int, int, str], int] = {}
        for i, entry in enumerate(spans):
            where = f"spans[{i}]"
            entry = entry_object(entry, where)
            label = known_label(entry.get("label"), where, allowed)
            start: Any = entry.get("start")
            end: Any = entry.get("end")
            if not is_int(start) or not is_int(end):
                raise InvalidAnswer(f"{where}.start and .end must be integers.")
            if not 0 <= start < end:
                raise InvalidAnswer(f"{where} ({start}-{end}) must have 0 <= start < end.")
            if length is not None and end > length:
                raise InvalidAnswer(
                    f"{where} ({start}-{end}) ends past the text ({length} characters)."
                )
            seen.setdefault((start, end, label), i)
        ordered = sorted(seen, key=lambda s: (s[0], s[1], allowed.index(s[2])))
        if not question["allow_overlap"]:
            for before, after in zip(ordered, ordered[1:], strict=False):
                if after[0] < before[1]:
                    raise InvalidAnswer(
                        f"spans[{seen[after]}] ({after[0]}-{after[1]}) overlaps "
                        f"spans[{seen[before]}] ({before[0]}-{before[1]}); this question does "
                        "not allow overlapping spans."
                    )
        return {"spans": [{"start": s, "end": e, "label": lab} for s, e, lab in ordered]}

    def gold_score(self, question: Mapping[str, Any], answer: Any, gold: Any) -> float:
        return span_f1(answer["spans"], gold["spans"])

    def gold_passes(self, question: Mapping[str, Any], score: float) -> bool:
        return gold_threshold_passes(question, score)

    def aggregate(
        self,
        question: Mapping[str, Any],
        answers: Sequence[Any],
        weights: Sequence[float],
        context: ItemContext,
    ) -> Aggregate:
        skills = np.array(skills_check(answers, weights))
        if not answers:
            return Aggregate(label={"spans": []}, confidence=0.0, method=METHOD)
        weight = binary_weights(skills)
        total = float(weight.sum())
        ends = [s["end"] for a in answers for s in a["spans"]]
        length = max(len(context.text or ""), max(ends, default=0))
        kept: list[dict[str, Any]] = []
        confidence = float(1.0 - posterior_yes(0.0, total))  # a character nobody marked
        for label in label_values(question):
            votes = np.zeros(length + 1)
            splits = np.zeros(length + 1)
            for w, answer in enumerate(answers):
                mine = [s for s in answer["spans"] if s["label"] == label]
                if not mine:
                    continue
                change = np.zeros(length + 1, dtype=np.int64)
                for s in mine:
                    change[s["start"]] += 1
                    change[s["end"]] -= 1
                votes += weight[w] * (np.cumsum(change) > 0)
                touching = {s["end"] for s in mine} & {s["start"] for s in mine}
                splits[list(touching)] += weight[w]
            votes, splits = votes[:length], splits[:length]
            if length and votes.any():
                confidence = min(confidence, float(decision_confidence(votes, total).min()))
            kept += _runs(label, 2.0 * votes > total, 2.0 * splits > total, votes, total)
        order = label_values(question)
        kept.sort(key=lambda s: (s["start"], s["end"], order.index(s["label"])))
        plain = [{k: s[k] for k in ("start", "end", "label")} for s in kept]
        agreement = tuple(span_f1(a["spans"], plain) for a in answers)
        return Aggregate(label={"spans": kept}, confidence=confidence, method=METHOD,
                         agreement=agreement)  # fmt: skip


def _runs(
    label: str, on: np.ndarray, split: np.ndarray, votes: np.ndarray, total: float
) -> list[dict[str, Any]]:
    """Maximal runs of `on` characters, cut where `split` says a boundary was voted."""
    n = on.size
    if not on.any():
        return []
    padded = np.concatenate([[False], on, [False]])
    starts = np.flatnonzero(~padded[:-1] & padded[1:])
    stops = np.flatnonzero(padded[:-1] & ~padded[1:])
    inside = posterior_yes(votes, total)
    out = []
    for run_start, run_stop in zip(starts.tolist(), stops.tolist(), strict=True):
        cuts = (np.flatnonzero(split[run_start + 1 : run_stop]) + run_start + 1).tolist()
        bounds = [run_start, *cuts, run_stop]
        for start, end in zip(bounds, bounds[1:], strict=False):
            certainty = [float(inside[start:end].min())]
            if start > 0 and not on[start - 1]:
                certainty.append(1.0 - float(inside[start - 1]))
            if end < n and not on[end]:
                certainty.append(1.0 - float(inside[end]))
            out.append({"start": start, "end": end, "label": label,
                        "confidence": round(min(certainty), 4)})  # fmt: skip
    return out


def span_f1(spans: Sequence[Mapping[str, Any]], truth: Sequence[Mapping[str, Any]]) -> float:
    """Span-level F1 with exact matching of (start, end, label); nothing vs nothing is 1.0."""
    a = {(s["start"], s["end"], s["label"]) for s in spans}
    b = {(s["start"], s["end"], s["label"]) for s in truth}
    if not a and not b:
        return 1.0
    return 2.0 * len(a & b) / (len(a) + len(b))


TYPE = TextSpans()
