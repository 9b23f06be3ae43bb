"""Exams and training.

An exam is a small gold-only bundle (`Bundle.exam`): every task is a gold item, paid or unpaid
(reward 0), and a worker who has answered all of them gets a score, the share right in
percent. A score at or above the pass mark grants the requester's qualification with the score
as its value, so another bundle's requirement (`sentiment-exam >= 80`) opens it only to those
who passed. The exam runs until the requester closes it (or `max_takers` have taken it: that
many times its gold items is what a paid exam reserves).

Training: gold items marked `is_training` (with an `explanation`) are a worker's first tasks in
their bundle (`tasks.work.claim`), and once answered the worker sees whether they were right
and the explanation (`tasks.selectors.gold_feedback_for`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Count, Q

from accounts.models import Qualification, User, WorkerQualification
from accounts.services import qualification_grant
from marketplace.errors import DomainError
from tasks.models import Assignment, Bundle, Item

DEFAULT_PASS_SCORE = 80
DEFAULT_MAX_TAKERS = 100
_KEYS = {"qualification", "pass_score", "max_takers"}
_NAME = re.compile(r"^[-a-zA-Z0-9_]{1,64}$")


def _invalid(message: str) -> DomainError:
    return DomainError(message, code="invalid_exam")


def exam_validate(value: Any) -> dict[str, Any] | None:
    """The canonical exam settings (defaults filled in), or None for an ordinary bundle:
    ``{"qualification": "sentiment-exam", "pass_score": 80, "max_takers": 100}``."""
    if value in (None, {}, ""):
        return None
    if not isinstance(value, dict):
        raise _invalid("exam must be an object with a qualification name.")
    unknown = set(value) - _KEYS
    if unknown:
        raise _invalid(f"exam: unknown field(s) {', '.join(sorted(unknown))}.")
    name = value.get("qualification")
    if not isinstance(name, str) or not _NAME.match(name.strip()):
        raise _invalid("exam.qualification must be a name (letters, digits, - and _).")
    clean: dict[str, Any] = {"qualification": name.strip()}
    for key, default, low, high in (
        ("pass_score", DEFAULT_PASS_SCORE, 1, 100),
        ("max_takers", DEFAULT_MAX_TAKERS, 1, 100_000),
    ):
        number = value.get(key, default)
        if isinstance(number, bool) or not isinstance(number, int) or not low <= number <= high:
            raise _invalid(f"exam.{key} must be a whole number from {low} to {high}.")
        clean[key] = number
    return clean


def exam_qualification_ensure(*, requester: User, exam: dict[str, Any] | None) -> None:
    """The qualification an exam grants, created for the requester if they have none of that
    name yet (a system qualification's name is refused: those are computed)."""
    if not exam:
        return
    name = exam["qualification"]
    if Qualification.objects.filter(owner__isnull=True, name=name).exists():
        raise _invalid(f"{name} is a system qualification; an exam grants one of your own.")
    Qualification.objects.get_or_create(
        owner=requester, name=name, defaults={"description": "Granted by passing an exam."}
    )


def exam_gold_judgments(bundle: Bundle) -> int:
    """What an exam's escrow pays for: each of its gold items once per possible taker."""
    if not bundle.exam:
        return 0
    gold = Item.objects.filter(bundle=bundle, is_gold=True).count()
    return gold * int(bundle.exam.get("max_takers", DEFAULT_MAX_TAKERS))


@dataclass(frozen=True)
class ExamResult:
    """A worker's standing in an exam: answered of total, right, score, pass mark."""

    answered: int
    total: int
    correct: int
    pass_score: int

    @property
    def finished(self) -> bool:
        return self.total > 0 and self.answered >= self.total

    @property
    def score(self) -> int:
        return (100 * self.correct) // self.answered if self.answered else 0

    @property
    def passed(self) -> bool:
        return self.finished and self.score >= self.pass_score


def exam_result(*, worker_id: int, bundle: Bundle) -> ExamResult | None:
    """The worker's result in an exam bundle (None for an ordinary bundle)."""
    if not bundle.exam:
        return None
    counts = Assignment.objects.filter(
        worker_id=worker_id, bundle_id=bundle.pk, is_gold=True, submitted_at__isnull=False
    ).aggregate(answered=Count("id"), correct=Count("id", filter=Q(gold_correct=True)))
    total = Item.objects.filter(bundle=bundle, is_gold=True).count()
    return ExamResult(counts["answered"], total, counts["correct"], bundle.exam["pass_score"])


@transaction.atomic
def exam_grade(*, worker_id: int, bundle_id: int) -> WorkerQualification | None:
    """After a worker's exam answer: once they have answered every exam item, grant the
    qualification at their score if it passes (never lowering a higher value they hold).
    Idempotent: grading again grants the same value."""
    bundle = Bundle.objects.get(pk=bundle_id)
    result = exam_result(worker_id=worker_id, bundle=bundle)
    if result is None or not result.passed:
        return None
    assert bundle.exam is not None
    qualification = Qualification.objects.get(
        owner_id=bundle.requester_id, name=bundle.exam["qualification"]
    )
    held = WorkerQualification.objects.filter(worker_id=worker_id, qualification=qualification)
    current = held.values_list("value", flat=True).first()
    if current is not None and current >= result.score:
        return held.get()
    worker = User.objects.get(pk=worker_id)
    return qualification_grant(qualification=qualification, worker=worker, value=result.score)


@transaction.atomic
def training_items_set(*, bundle: Bundle, explanations: dict[str, str]) -> int:
    """Mark gold items (by external id) as training, with the explanation workers see after
    answering; an empty explanation unmarks one. Every id must name a gold item of the bundle
    (`not_gold` otherwise, nothing changed). Returns how many training items the bundle has."""
    gold = dict(
        Item.objects.filter(
            bundle=bundle, is_gold=True, external_id__in=list(explanations)
        ).values_list("external_id", "pk")
    )
    if bundle.gold_rate <= 0:
        raise DomainError(
            "Training tasks are paid from the gold budget: set a gold rate first.",
            code="no_gold_budget",
        )
    missing = sorted(set(explanations) - set(gold))
    if missing:
        raise DomainError(
            f"Not gold items of this bundle: {', '.join(missing[:20])}.", code="not_gold"
        )
    for external_id, text in explanations.items():
        text = (text or "").strip()
        Item.objects.filter(pk=gold[external_id]).update(is_training=bool(text), explanation=text)
    count = Item.objects.filter(bundle=bundle, is_training=True).count()
    Bundle.objects.filter(pk=bundle.pk).update(training_items=count)
    bundle.training_items = count
    return count
