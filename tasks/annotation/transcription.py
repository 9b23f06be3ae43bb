"""`transcription`: free text about an image (or audio), compared after per-question
normalisation.

question: {"type": "transcription", "media_field": "image",
           "normalize": ["case", "whitespace", "punctuation"],
           "gold_threshold": 0.9, "max_length": 2000}
  answer: "the text"   (stored as written, trimmed; normalisation applies when comparing)

Normalisation rules, in this order: `case` folds case, `punctuation` removes punctuation
characters (Unicode category P*), `whitespace` collapses runs of whitespace to one space.
Default: case and whitespace (what the plain text question compares on).

Gold: 1 - the Levenshtein distance between the normalised texts over the longer one's length;
an answer passes at `gold_threshold` (default 0.9).

Aggregation: when one normalised text has more than half of the skill-weighted posterior (the
one-coin model over the distinct normalised texts, `voting`), it is the label ("normalised
majority"), spelled as its most skilled worker wrote it, with that posterior as confidence.
Otherwise the answers are combined word by word (`text_align.rover`), with the product of the
contested words' posteriors as confidence. Each answer's agreement is its similarity to the
label (the gold score against it)."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .base import Aggregate, ItemContext
from .errors import InvalidAnswer, InvalidQuestion
from .fields import field_name, gold_threshold_passes, image_size
from .text_align import rover, text_similarity
from .voting import posterior, winner

NAME = "transcription"
RULES = ("case", "punctuation", "whitespace")
DEFAULT_RULES = ("case", "whitespace")
DEFAULT_THRESHOLD = 0.9
DEFAULT_MAX_LENGTH = 2000
#: Word alignment keeps a table of words x words, so answers stay below this.
MAX_LENGTH_LIMIT = 5000


class Transcription:
    name = NAME

    def question(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        rules = raw.get("normalize", list(DEFAULT_RULES))
        if not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
            raise InvalidQuestion(f"question.normalize must be a list of: {', '.join(RULES)}.")
        unknown = sorted(set(rules) - set(RULES))
        if unknown:
            raise InvalidQuestion(
                f"question.normalize: unknown rule(s) {', '.join(unknown)}; use {', '.join(RULES)}."
            )
        threshold = raw.get("gold_threshold", DEFAULT_THRESHOLD)
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            raise InvalidQuestion("question.gold_threshold must be a number in (0, 1].")
        if not 0 < threshold <= 1:
            raise InvalidQuestion("question.gold_threshold must be a number in (0, 1].")
        max_length = raw.get("max_length", DEFAULT_MAX_LENGTH)
        if isinstance(max_length, bool) or not isinstance(max_length, int):
            raise InvalidQuestion(f"question.max_length must be 1..{MAX_LENGTH_LIMIT}.")
        if not 1 <= max_length <= MAX_LENGTH_LIMIT:
            raise InvalidQuestion(f"question.max_length must be 1..{MAX_LENGTH_LIMIT}.")
        return {
            "type": NAME,
            "media_field": field_name(raw, "media_field", "image"),
            "normalize": [r for r in RULES if r in rules],
            "gold_threshold": float(threshold),
            "max_length": max_length,
        }

    def context(self, question: Mapping[str, Any], payload: Mapping[str, Any]) -> ItemContext:
        return ItemContext(payload=payload, image_size=image_size(payload, question["media_field"]))

    def answer(self, question: Mapping[str, Any], raw: Any, context: ItemContext) -> Any:
        if not isinstance(raw, str) or not raw.strip():
            raise InvalidAnswer("answer must be non-empty text.")
        text = raw.strip()
        if len(text) > question["max_length"]:
            raise InvalidAnswer(f"answer is longer than {question['max_length']} characters.")
        if "\x00" in text:
            raise InvalidAnswer("answer contains a NUL character.")
        return text

    def gold_score(self, question: Mapping[str, Any], answer: Any, gold: Any) -> float:
        return text_similarity(normalise(question, str(answer)), normalise(question, str(gold)))

    def gold_passes(self, question: Mapping[str, Any], score: float) -> bool:
        return gold_threshold_passes(question, score)

    def aggregate(
        self,
        question: Mapping[str, Any],
        answers: Sequence[Any],
        weights: Sequence[float],
        context: ItemContext,
    ) -> Aggregate:
        if not answers:
            return Aggregate(label=None, confidence=0.0, method="normalised_majority")
        texts = [str(a) for a in answers]
        skills = np.asarray(weights, dtype=np.float64)
        normalised = [normalise(question, t) for t in texts]
        classes = list(dict.fromkeys(normalised))
        # At least two classes: one answer alone is as sure as its worker's skill.
        post = posterior([classes.index(t) for t in normalised], skills, max(len(classes), 2))
        best = winner(post)
        if post[best] > 0.5:
            members = [j for j, t in enumerate(normalised) if t == classes[best]]
            spelling = texts[max(members, key=lambda j: (skills[j], -j))]
            label, confidence, method = spelling, float(post[best]), "normalised_majority"
        else:
            label, confidence = _rover_text(question, texts, skills)
            method = "rover"
        target = normalise(question, label)
        agreement = tuple(text_similarity(t, target) for t in normalised)
        return Aggregate(label, confidence, method, agreement)


def normalise(question: Mapping[str, Any], text: str) -> str:
    """A text as the question's rules compare it."""
    rules = question.get("normalize", DEFAULT_RULES)
    if "case" in rules:
        text = text.casefold()
    if "punctuation" in rules:
        text = "".join(c for c in text if not unicodedata.category(c).startswith("P"))
    if "whitespace" in rules:
        text = " ".join(text.split())
    return text


def _rover_text(
    question: Mapping[str, Any], texts: Sequence[str], skills: np.ndarray
) -> tuple[str, float]:
    """Word-level combination: words are compared normalised (words that normalise to nothing,
    such as a lone dash under `punctuation`, take no part) and written as the most skilled
    worker who chose that word spelled it."""
    vocabulary: dict[str, int] = {}
    spelled: dict[int, tuple[float, str]] = {}
    sequences: list[list[int]] = []
    for text, skill in zip(texts, skills.tolist(), strict=True):
        sequence = []
        for word in text.split():
            key = normalise(question, word)
            if not key:
                continue
            code = vocabulary.setdefault(key, len(vocabulary))
            if code not in spelled or skill > spelled[code][0]:
                spelled[code] = (skill, word)
            sequence.append(code)
        sequences.append(sequence)
    combined = rover(sequences, skills.tolist())
    words = [spelled[code][1] for code in combined.tokens]
    if not words:  # every answer normalised to nothing: keep the backbone as written
        return texts[combined.backbone], combined.confidence
    return " ".join(words), combined.confidence


TYPE = Transcription()
