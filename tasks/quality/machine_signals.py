"""Signals of machine-written answers, for free-text and transcription bundles: how an answer
was produced (pastes, typing time: `AnswerSignals`, sent by the work page with the answer) and
what it looks like (too fast to have been read and typed, near-identical to another worker's,
carrying the bundle's hidden canary word). Each is a collector of the rules engine
(`rules_engine`): a share of the worker's answers in [0, 1] that fires above a threshold.

The signals are the worker's own metadata: the requester sees the figures in the rule history,
other workers never see anything of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.db.models import QuerySet

from marketplace.errors import DomainError
from tasks.models import AnswerSignals, Assignment, Bundle

from .rules import COUNTED_STATUSES

#: collector -> (fires "above" the threshold, default threshold), as in `rules_engine`.
MACHINE_COLLECTORS: dict[str, tuple[str, float]] = {
    "pasted": ("above", 0.5),
    "too_fast_to_type": ("above", 0.3),
    "near_duplicate": ("above", 0.3),
    "agent_canary": ("above", 0.0),
}
#: A canary is proof on its own: one answer is enough by default.
MACHINE_MIN_ANSWERS = {"pasted": 3, "too_fast_to_type": 3, "near_duplicate": 3, "agent_canary": 1}
TEXT_TYPES = ("text", "transcription")
#: Answers shorter than this say nothing about pasting or typing speed.
MIN_CHARS = 20
#: Faster than anyone reads (900 words a minute, beyond skimming) and types (15 characters a
#: second, about 180 words a minute): an answer produced in less time was not read and typed.
READ_WORDS_PER_SECOND = 15.0
TYPE_CHARS_PER_SECOND = 15.0
#: An answer at least this share pasted counts as pasted.
PASTED_SHARE = 0.5
#: Near-identical: Jaccard similarity of word 3-shingles at least this, on answers of at least
#: NEAR_MIN_CHARS normalised characters (short answers coincide honestly).
NEAR_SIMILARITY = 0.8
NEAR_MIN_CHARS = 30
#: How many of the other workers' answers a near-duplicate check compares against (latest).
NEAR_COMPARE_LIMIT = 2000
_SIGNAL_FIELDS = ("paste_events", "pasted_chars", "typed_chars", "typing_seconds")
_MAX_SIGNAL = 10**7


def answer_signals_validate(raw: Any) -> dict[str, Any] | None:
    """The signals a client sent with an answer, checked: an object of non-negative numbers
    (`paste_events`, `pasted_chars`, `typed_chars`, `typing_seconds`); None when absent."""
    if raw in (None, "", {}):
        return None
    if not isinstance(raw, Mapping):
        raise DomainError("signals must be an object.", code="invalid_signals")
    unknown = set(raw) - set(_SIGNAL_FIELDS)
    if unknown:
        raise DomainError(
            f"signals: unknown field(s) {', '.join(sorted(map(str, unknown)))}.",
            code="invalid_signals",
        )
    clean: dict[str, Any] = {}
    for name in _SIGNAL_FIELDS:
        value = raw.get(name, 0)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not 0 <= value <= _MAX_SIGNAL or value != value:
            raise DomainError(
                f"signals.{name} must be a non-negative number.", code="invalid_signals"
            )
        clean[name] = float(value) if name == "typing_seconds" else int(value)
    return clean


def answer_signals_record(
    *, assignment: Assignment, question: Mapping[str, Any], signals: Any
) -> AnswerSignals | None:
    """Store the signals of a submitted text or transcription answer (other types have none to
    give; their signals are ignored). A resubmission cannot happen, so neither can a rewrite."""
    clean = answer_signals_validate(signals)
    if clean is None or question.get("type") not in TEXT_TYPES:
        return None
    answer = assignment.answer if isinstance(assignment.answer, str) else ""
    row, _ = AnswerSignals.objects.get_or_create(
        assignment=assignment, defaults={**clean, "answer_chars": len(answer)}
    )
    return row


def machine_collect(
    collector: str, *, answered: QuerySet[Assignment], bundle: Bundle
) -> tuple[float, int, dict[str, Any]]:
    """(share, observations, figures) of one machine collector over the worker's counted
    answers (`answered`, already limited to their evidence since the last unblock)."""
    if bundle.question.get("type") not in TEXT_TYPES:
        return 0.0, 0, {}
    if collector == "pasted":
        rows = list(
            AnswerSignals.objects.filter(
                assignment__in=answered.filter(is_gold=False), answer_chars__gte=MIN_CHARS
            ).values_list("pasted_chars", "answer_chars")
        )
        pasted = sum(1 for chars, total in rows if chars >= PASTED_SHARE * total)
        return _share(pasted, len(rows), "pasted")
    if collector == "too_fast_to_type":
        fast = seen = 0
        for answer, seconds, payload, typed, typing in answered.values_list(
            "answer", "seconds_spent", "item__payload", "signals__typed_chars",
            "signals__typing_seconds",
        ):  # fmt: skip
            if not isinstance(answer, str) or len(answer) < MIN_CHARS or seconds is None:
                continue
            seen += 1
            fast += seconds < least_seconds(answer, payload) or typed_too_fast(typed, typing)
        return _share(fast, seen, "too_fast")
    if collector == "near_duplicate":
        return _near_duplicates(answered, bundle)
    canary = bundle.agent_canary.strip().casefold()
    texts = [a for a in answered.values_list("answer", flat=True) if isinstance(a, str)]
    if not canary:
        return 0.0, 0, {}
    hits = sum(1 for text in texts if canary in text.casefold())
    return _share(hits, len(texts), "canary")


def _share(hits: int, total: int, name: str) -> tuple[float, int, dict[str, Any]]:
    return (hits / total if total else 0.0), total, {name: hits, "answers": total}


def least_seconds(answer: str, payload: Any) -> float:
    """The least time a person needs to read the item's text and type this answer."""
    words = sum(len(text.split()) for text in _strings(payload))
    return words / READ_WORDS_PER_SECOND + len(answer) / TYPE_CHARS_PER_SECOND


def typed_too_fast(typed_chars: int | None, typing_seconds: float | None) -> bool:
    """Whether the page saw more characters typed than anyone types in the time between the
    first keystroke and the last (synthetic keystrokes; None: no signals sent)."""
    if not typed_chars or typed_chars < MIN_CHARS or typing_seconds is None:
        return False
    return typing_seconds * TYPE_CHARS_PER_SECOND < typed_chars


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, inner in value.items():
            if not str(key).startswith("_"):
                yield from _strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _strings(inner)


def shingles(text: str, size: int = 3) -> frozenset[str]:
    """Word `size`-shingles of the normalised text (letters and digits, case-folded)."""
    words = re.findall(r"\w+", text.casefold())
    if len(words) <= size:
        return frozenset([" ".join(words)]) if words else frozenset()
    return frozenset(" ".join(words[i : i + size]) for i in range(len(words) - size + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def _near_duplicates(
    answered: QuerySet[Assignment], bundle: Bundle
) -> tuple[float, int, dict[str, Any]]:
    """Share of the worker's free-text answers nearly identical to another worker's answer in
    the bundle (transcriptions of one line are meant to agree: free text only)."""
    if bundle.question.get("type") != "text":
        return 0.0, 0, {}
    mine = [
        shingles(str(a))
        for a in answered.filter(is_gold=False).values_list("answer", flat=True)
        if _long_text(a)
    ]
    if not mine:
        return 0.0, 0, {}
    worker_id = answered.values_list("worker_id", flat=True).first()
    others = (
        Assignment.objects.filter(bundle_id=bundle.pk, status__in=COUNTED_STATUSES, is_gold=False)
        .exclude(worker_id=worker_id)
        .order_by("-submitted_at")
        .values_list("answer", flat=True)[:NEAR_COMPARE_LIMIT]
    )
    pool = [shingles(str(a)) for a in others if _long_text(a)]
    near = sum(1 for own in mine if any(jaccard(own, other) >= NEAR_SIMILARITY for other in pool))
    return _share(near, len(mine), "near_duplicates")


def _long_text(answer: Any) -> bool:
    return isinstance(answer, str) and len(" ".join(answer.split())) >= NEAR_MIN_CHARS


def canary_validate(value: Any) -> str:
    """A bundle's hidden word for agents: one word of 4 to 40 letters or digits (so it cannot
    turn up in an honest answer by accident), or blank for none."""
    word = "" if value is None else str(value).strip()
    if word and not re.fullmatch(r"[A-Za-z0-9]{4,40}", word):
        raise DomainError(
            "agent_canary must be one word of 4 to 40 letters or digits.", code="invalid_canary"
        )
    return word
