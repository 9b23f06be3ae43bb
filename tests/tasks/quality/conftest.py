"""Helpers for the quality tests: claim and submit through the real hot path, steer the gold
draw, and write judgments directly when only aggregation is under test."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import F
from django.test import TestCase
from django.utils import timezone

from tasks import services, work
from tasks.models import Assignment, AssignmentStatus, Bundle, Item, WorkerBundleStats
from tasks.work import claim as claiming
from tests.factories import BundleFactory, ItemFactory, publish

FIVE = {"type": "single_choice", "choices": [{"value": v, "label": v.upper()} for v in "abcde"]}


class GoldDraw:
    """Whether the next claim draws gold (the claim path asks `random.random() < rate`)."""

    def __init__(self, monkeypatch):
        self.value = 1.0
        monkeypatch.setattr(claiming.random, "random", lambda: self.value)

    def gold(self):
        self.value = 0.0

    def real(self):
        self.value = 1.0


@pytest.fixture
def draw(monkeypatch):
    return GoldDraw(monkeypatch)


def submit(**kwargs):
    """`services.assignment_submit` as a worker's request runs it: committed, so the quality
    follow-up it schedules on commit has run when this returns (the test's own transaction
    never commits)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return services.assignment_submit(**kwargs)


def claim_submit(bundle, worker, answer, *, seconds=None):
    """Claim the next task and submit `answer` (a value, or a function of the claimed item).
    `seconds` backdates the claim so the submission took that long."""
    assignment = work.assignment_claim(bundle=bundle, worker=worker)
    if seconds is not None:
        Assignment.objects.filter(pk=assignment.pk).update(
            claimed_at=F("claimed_at") - timedelta(seconds=seconds)
        )
    item = Item.objects.get(pk=assignment.item_id)
    value = answer(item) if callable(answer) else answer
    return submit(assignment_id=assignment.pk, worker=worker, answer=value)


def live_bundle_with(*, items=3, gold=(), gold_slots=1000, **fields):
    """A funded, published bundle with `items` real items and one gold item per gold answer."""
    bundle = BundleFactory(**fields)
    for _ in range(items):
        ItemFactory(bundle=bundle)
    for answer in gold:
        ItemFactory(bundle=bundle, gold=answer)
    bundle = publish(bundle)
    if gold:
        Bundle.objects.filter(pk=bundle.pk).update(gold_slots_open=gold_slots)
        bundle.refresh_from_db()
    return bundle


def judged(item, worker, answer, *, status=AssignmentStatus.SUBMITTED, seconds=5.0):
    """A judgment written directly (no claim), for aggregation-only tests."""
    now = timezone.now()
    return Assignment.objects.create(
        bundle_id=item.bundle_id,
        item=item,
        worker=worker,
        status=status,
        is_gold=item.is_gold,
        answer=answer,
        gold_correct=(answer == item.gold) if item.is_gold else None,
        claimed_at=now - timedelta(seconds=seconds),
        deadline=now + timedelta(minutes=10),
        submitted_at=now,
        seconds_spent=seconds,
    )


def stats_of(worker, bundle):
    return WorkerBundleStats.objects.get(worker=worker, bundle=bundle)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """The tests here make dozens of workers; hashing their passwords slowly tests nothing."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
