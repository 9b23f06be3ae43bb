"""`image_classification`: one choice about an image, or several with `multiple`.

question: {"type": "image_classification", "image_field": "image",
           "choices": [{"value": "cat", "label": "Cat"}, ...], "multiple": false}
           (with `multiple`: also "min_selected", "max_selected"; defaults 1 and every choice)
  answer: "cat"                    (single; the same shape as `single_choice`)
          ["cat", "dog"]           (multiple; the same shape as `multiple_choice`, in the
                                    question's choice order, each value once)

Gold scores 1.0 for the exact answer (the exact set with `multiple`) and 0.0 otherwise. The
aggregate is the one-coin posterior weighted by skill (`voting`); with `multiple`, one binary
vote per choice, the label being the chosen set and the confidence the product of the per-choice
posteriors (every choice must be right)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .base import Aggregate, ItemContext
from .errors import InvalidAnswer, InvalidQuestion
from .fields import choices_parse, field_name, flag, image_size
from .voting import posterior, winner

NAME = "image_classification"


class ImageClassification:
    name = NAME

    def question(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        question: dict[str, Any] = {
            "type": NAME,
            "image_field": field_name(raw, "image_field", "image"),
            "choices": choices_parse(raw.get("choices")),
            "multiple": flag(raw, "multiple", False),
        }
        n = len(question["choices"])
        if question["multiple"]:
            low, high = raw.get("min_selected", 1), raw.get("max_selected", n)
            if not (_is_int(low) and _is_int(high) and 0 <= low <= high <= n):
                raise InvalidQuestion("min_selected / max_selected must fit the choices.")
            question["min_selected"], question["max_selected"] = low, high
        elif "min_selected" in raw or "max_selected" in raw:
            raise InvalidQuestion("min_selected / max_selected need multiple: true.")
        return question

    def context(self, question: Mapping[str, Any], payload: Mapping[str, Any]) -> ItemContext:
        return ItemContext(payload=payload, image_size=image_size(payload, question["image_field"]))

    def answer(self, question: Mapping[str, Any], raw: Any, context: ItemContext) -> Any:
        values = [c["value"] for c in question["choices"]]
        if not question["multiple"]:
            if not isinstance(raw, str) or raw not in values:
                raise InvalidAnswer(f"answer must be one of: {', '.join(values)}.")
            return raw
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list) or not all(isinstance(a, str) for a in raw):
            raise InvalidAnswer("answer must be a list of choice values.")
        unknown = [a for a in raw if a not in values]
        if unknown:
            raise InvalidAnswer(f"unknown choice value(s): {', '.join(unknown)}.")
        chosen = sorted(set(raw), key=values.index)
        if not question["min_selected"] <= len(chosen) <= question["max_selected"]:
            raise InvalidAnswer(
                f"choose between {question['min_selected']} and {question['max_selected']}."
            )
        return chosen

    def gold_score(self, question: Mapping[str, Any], answer: Any, gold: Any) -> float:
        if question["multiple"]:
            same = isinstance(answer, list) and isinstance(gold, list) and set(answer) == set(gold)
        else:
            same = answer == gold
        return 1.0 if same else 0.0

    def gold_passes(self, question: Mapping[str, Any], score: float) -> bool:
        return score >= 1.0

    def aggregate(
        self,
        question: Mapping[str, Any],
        answers: Sequence[Any],
        weights: Sequence[float],
        context: ItemContext,
    ) -> Aggregate:
        if not answers:
            return Aggregate(label=None, confidence=0.0, method="one_coin")
        values = [c["value"] for c in question["choices"]]
        if not question["multiple"]:
            index = {v: i for i, v in enumerate(values)}
            post = posterior([index[a] for a in answers], weights, len(values))
            best = winner(post)
            label = values[best]
            agreement = tuple(1.0 if a == label else 0.0 for a in answers)
            return Aggregate(label, float(post[best]), "one_coin", agreement)
        chosen, confidence = [], 1.0
        ticks = np.array([[v in a for v in values] for a in answers], dtype=bool)
        for o, value in enumerate(values):
            post = posterior(ticks[:, o].astype(np.int64), weights, 2)
            selected = bool(post[1] > post[0])
            confidence *= float(post[int(selected)])
            if selected:
                chosen.append(value)
        label_ticks = np.array([v in chosen for v in values], dtype=bool)
        # Per answer: the share of choices on which it agrees with the label.
        agreement = tuple(float(x) for x in (ticks == label_ticks).mean(axis=1))
        return Aggregate(chosen, confidence, "one_coin", agreement)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


TYPE = ImageClassification()
