"""Preference data: `pairs` (JSONL as reward-model trainers read it) and `ranking` (the bundle's
candidates ranked from every judgment).

`pairs`: one line per pair whose label is left or right (a tie has no chosen side and is left
out): `{"prompt"?, "chosen", "rejected", "chosen_id", "rejected_id", "confidence", "item_id",
"external_id", "method", "judgments"}`. `prompt` is the payload's `prompt` field (or the field
the question names in `prompt_field`) when present; `chosen`/`rejected` are the candidate
fields' contents (an uploaded image as its signed URL).

`ranking`: one JSON object, `{"bundle_id", "method", "comparisons", "ranking": [{"id",
"score", "interval": [low, high], "comparisons"}]}`, best first: the pairwise type's
noise-aware Bradley-Terry fit (`tasks.annotation.pairwise.rank`) over every counted judgment
of workers not blocked in the bundle, each worker with their own lapse rate.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tasks.annotation import pairwise
from tasks.models import Bundle, WorkerBundleStats
from tasks.selectors import worker_public_id

from .common import dumps, judgments_of, public_row, result_rows

CHOICES = ("left", "right", "tie")


def _choice(value: Any) -> str | None:
    choice = value.get("choice") if isinstance(value, dict) else value
    return choice if choice in CHOICES else None


def pairs(bundle: Bundle, base_url: str = "") -> Iterator[str]:
    question = bundle.question
    left, right = question.get("left_field", "a"), question.get("right_field", "b")
    prompt_field = question.get("prompt_field", "prompt")
    for raw in result_rows(bundle):
        choice = _choice(raw["label"])
        if choice not in ("left", "right"):
            continue
        row = public_row(raw, base_url=base_url)
        payload = row["payload"] if isinstance(row["payload"], dict) else {}
        source = raw["payload"] if isinstance(raw["payload"], dict) else {}
        chosen, rejected = (left, right) if choice == "left" else (right, left)
        ids = {left: source.get("a_id"), right: source.get("b_id")}
        line: dict[str, Any] = {}
        if isinstance(payload.get(prompt_field), str):
            line["prompt"] = payload[prompt_field]
        line.update({
            "chosen": payload.get(chosen), "rejected": payload.get(rejected),
            "chosen_id": ids[chosen], "rejected_id": ids[rejected],
            "confidence": row["confidence"], "item_id": row["item_id"],
            "external_id": row["external_id"], "method": row["method"],
            "judgments": judgments_of(row),
        })  # fmt: skip
        yield dumps(line) + "\n"


def ranking(bundle: Bundle, base_url: str = "") -> Iterator[str]:
    """Computed when the stream is read."""
    return _ranking(bundle)


def _ranking(bundle: Bundle) -> Iterator[str]:
    blocked = {
        worker_public_id(bundle.requester_id, worker_id)
        for worker_id in WorkerBundleStats.objects.filter(bundle=bundle, blocked=True).values_list(
            "worker_id", flat=True
        )
    }
    comparisons: list[tuple[Any, ...]] = []
    for row in result_rows(bundle):
        counted = [
            j
            for j in row["judgments"]
            if j["worker_id"] not in blocked and _choice(j["answer"]) is not None
        ]
        answers = [
            j["answer"] if isinstance(j["answer"], dict) else {"choice": j["answer"]}
            for j in counted
        ]
        comparisons += pairwise.item_comparisons(
            row["payload"] if isinstance(row["payload"], dict) else {},
            answers,
            [1.0] * len(answers),
            [j["worker_id"] for j in counted],
        )
    ranked = pairwise.rank(comparisons) if comparisons else []
    yield dumps({"bundle_id": bundle.pk, "method": "noisy_bradley_terry",
                 "comparisons": len(comparisons), "ranking": ranked}) + "\n"  # fmt: skip
