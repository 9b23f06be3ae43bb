"""`form`: a web form's fields, as MTurk HITs (HTMLQuestion, ExternalQuestion, QuestionForm)
submit them.

question: {"type": "form", "gold_threshold": 1.0}
  answer: {"field": "value", "tags": ["a", "b"]}   (field name -> text, or a list of texts for
          multi-select; at most MAX_FIELDS fields, each value at most MAX_VALUE_CHARS; {} is
          an answer too: an ExternalQuestion may keep its data on the requester's server and
          post only its assignmentId, as oTree does)

Each item names its own form: the payload's `mturk_question` is the HIT's Question XML. For a
QuestionForm the answer must fit that form (required questions, selection identifiers and
counts, numbers, lengths); HTML and external forms send what they send, as on MTurk.

Aggregation: per field, a skill-weighted vote (`voting`) over the distinct values (texts
compared trimmed, lists as sets). The label is the winning value of every field at least half
the answers filled; the confidence is the least sure field's posterior (every field must be
right). A field that differs in every answer (free-text comments) still gets a "label", with a
confidence that says how little it means. Each answer's agreement is its share of label fields
it matches. Gold: the share of the gold's fields matched; passes at `gold_threshold`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from marketplace.mturk.errors import MTurkRequestError
from marketplace.mturk.questions import form_answer_problem, parse_question

from .base import Aggregate, ItemContext
from .errors import InvalidAnswer, InvalidQuestion
from .fields import gold_threshold_passes
from .voting import posterior, winner

NAME = "form"
#: The payload key holding an item's MTurk Question XML.
QUESTION_KEY = "mturk_question"
MAX_FIELDS = 200
MAX_NAME_CHARS = 255
MAX_VALUE_CHARS = 65_536
MAX_LIST_VALUES = 200
#: The whole answer, as JSON (a crowd-form's `taskAnswers` can carry many shapes).
MAX_ANSWER_CHARS = 262_144
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class Form:
    name = NAME

    def question(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        threshold = raw.get("gold_threshold", 1.0)
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            raise InvalidQuestion("question.gold_threshold must be a number in (0, 1].")
        if not 0 < threshold <= 1:
            raise InvalidQuestion("question.gold_threshold must be a number in (0, 1].")
        return {"type": NAME, "gold_threshold": float(threshold)}

    def context(self, question: Mapping[str, Any], payload: Mapping[str, Any]) -> ItemContext:
        return ItemContext(payload=payload)

    def answer(self, question: Mapping[str, Any], raw: Any, context: ItemContext) -> Any:
        answer = _fields(raw)
        xml = context.payload.get(QUESTION_KEY)
        if isinstance(xml, str):
            try:
                parsed = parse_question(xml)
            except MTurkRequestError as exc:  # stored before it was checked: say so plainly
                raise InvalidAnswer(f"this task's form cannot be read: {exc.message}") from exc
            problem = form_answer_problem(parsed, answer)
            if problem:
                raise InvalidAnswer(problem)
        return answer

    def gold_score(self, question: Mapping[str, Any], answer: Any, gold: Any) -> float:
        if not isinstance(gold, Mapping) or not gold:
            return 0.0
        given = answer if isinstance(answer, Mapping) else {}
        matched = sum(1 for name, value in gold.items() if _same(given.get(name), value))
        return matched / len(gold)

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
            return Aggregate(label=None, confidence=0.0, method="per_field_majority")
        names = list(dict.fromkeys(name for answer in answers for name in answer))
        label: dict[str, Any] = {}
        confidence = 1.0
        for name in names:
            present = [j for j, answer in enumerate(answers) if name in answer]
            if 2 * len(present) < len(answers):
                continue
            keys = [_key(answers[j][name]) for j in present]
            classes = list(dict.fromkeys(keys))
            post = posterior(
                [classes.index(k) for k in keys], [weights[j] for j in present], len(classes)
            )
            best = winner(post)
            first = present[keys.index(classes[best])]
            label[name] = answers[first][name]
            confidence = min(confidence, float(post[best]))
        agreement = tuple(
            sum(1 for name, value in label.items() if _same(answer.get(name), value))
            / max(len(label), 1)
            for answer in answers
        )
        return Aggregate(label, confidence, "per_field_majority", agreement)


def _fields(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise InvalidAnswer('answer must be an object of form fields: {"field": "value"}.')
    if len(raw) > MAX_FIELDS:
        raise InvalidAnswer(f"answer has more than {MAX_FIELDS} fields.")
    answer: dict[str, Any] = {}
    for name, value in raw.items():
        if not name or len(name) > MAX_NAME_CHARS or _NOT_XML.search(name):
            raise InvalidAnswer(f"field names must be 1..{MAX_NAME_CHARS} printable characters.")
        if isinstance(value, list):
            if len(value) > MAX_LIST_VALUES or not all(isinstance(v, str) for v in value):
                raise InvalidAnswer(f"{name}: a list holds at most {MAX_LIST_VALUES} texts.")
            values = value
        elif isinstance(value, str):
            values = [value]
        else:
            raise InvalidAnswer(f"{name}: a value must be text or a list of texts.")
        for text in values:
            if len(text) > MAX_VALUE_CHARS:
                raise InvalidAnswer(f"{name}: a value is longer than {MAX_VALUE_CHARS} characters.")
            if _NOT_XML.search(text):
                raise InvalidAnswer(f"{name}: control characters are not allowed.")
        answer[name] = list(value) if isinstance(value, list) else value
    if len(json.dumps(answer)) > MAX_ANSWER_CHARS:
        raise InvalidAnswer(f"answer is larger than {MAX_ANSWER_CHARS} characters.")
    return answer


def _key(value: Any) -> Any:
    """What two values compare as: texts trimmed, lists as sets of trimmed texts."""
    if isinstance(value, list):
        return tuple(sorted({str(v).strip() for v in value}))
    return str(value).strip() if value is not None else None


def _same(a: Any, b: Any) -> bool:
    return a is not None and b is not None and _key(a) == _key(b)


TYPE = Form()
