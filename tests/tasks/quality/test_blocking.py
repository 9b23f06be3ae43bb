"""Blocking has one public service, `tasks.quality.blocking.worker_block`, and it always does
everything a block means, whoever calls it (the rules, the requester, staff)."""

from __future__ import annotations

import ast
import pathlib

import pytest

import tasks
from marketplace.errors import DomainError, Forbidden
from tasks import services, work
from tasks.models import Assignment, AssignmentStatus, Item, ItemResult, ItemState
from tasks.quality import blocking
from tests.factories import WorkerFactory

from .conftest import claim_submit, live_bundle_with, stats_of

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("reject_blocked_work", [False, True])
def test_a_block_by_hand_does_everything_a_block_means(draw, reject_blocked_work):
    # given: a dynamic bundle; the worker answered one item and holds a claim on the other
    bundle = live_bundle_with(
        items=2, min_overlap=2, max_overlap=3, target_confidence=0.9,
        reject_blocked_work=reject_blocked_work,
    )  # fmt: skip
    worker = WorkerFactory()
    draw.real()
    answered = claim_submit(bundle, worker, "pos")
    judged = Item.objects.get(pk=answered.item_id)
    assert judged.judgments_submitted == 1
    assert ItemResult.objects.get(item=judged).judgments == 1
    other = Item.objects.filter(bundle=bundle, is_gold=False).exclude(pk=judged.pk).get()
    slots_before_claim = other.slots_open
    held = work.assignment_claim(bundle=bundle, worker=worker)
    assert held.item_id == other.pk

    # when: the requester blocks them
    blocking.worker_block(
        worker_id=worker.pk, bundle_id=bundle.pk, reason="Copy-paste", by=bundle.requester
    )

    # then: blocked, with the reason, and refused at the next claim
    stats = stats_of(worker, bundle)
    assert (stats.blocked, stats.blocked_reason) == (True, "Copy-paste")
    assert stats.blocked_at is not None
    with pytest.raises(Forbidden):
        work.assignment_claim(bundle=bundle, worker=worker)
    # their live claim ended and its slot went back to the item
    held.refresh_from_db()
    assert held.status == AssignmentStatus.EXPIRED
    other.refresh_from_db()
    assert other.slots_open == slots_before_claim
    # their unreviewed work is rejected with the reason when the bundle says so
    answered.refresh_from_db()
    if reject_blocked_work:
        assert answered.status == AssignmentStatus.REJECTED
        assert answered.reject_reason == (
            "Not accepted: you were blocked from this bundle. Copy-paste"
        )
    else:
        assert (answered.status, answered.reject_reason) == (AssignmentStatus.SUBMITTED, "")
    # and the item they judged was re-decided without them: nothing counts, no stale result,
    # open again for the judgments it now lacks
    judged.refresh_from_db()
    assert (judged.judgments_submitted, judged.state) == (0, ItemState.OPEN)
    assert judged.slots_open >= 1
    assert not ItemResult.objects.filter(item=judged).exists()


def test_a_block_without_a_reason_is_refused_and_changes_nothing(draw):
    bundle = live_bundle_with(items=2, min_overlap=2, max_overlap=3)
    worker = WorkerFactory()
    draw.real()
    claim_submit(bundle, worker, "pos")
    held = work.assignment_claim(bundle=bundle, worker=worker)
    with pytest.raises(DomainError) as refused:
        blocking.worker_block(worker_id=worker.pk, bundle_id=bundle.pk, reason="   ")
    assert refused.value.code == "reason_required"
    assert not stats_of(worker, bundle).blocked
    assert Assignment.objects.get(pk=held.pk).status == AssignmentStatus.CLAIMED


def test_the_service_layer_offers_no_partial_block():
    """The stats-row flag alone is private to quality: no caller can block and skip the rest."""
    assert not hasattr(services, "worker_block_in_bundle")
    assert not hasattr(services, "worker_unblock_in_bundle")
    public = {name for name in vars(blocking) if name.startswith("worker_")}
    assert public == {"worker_block", "worker_unblock", "worker_quality_check", "worker_evidence"}


TASKS_DIR = pathlib.Path(tasks.__file__).parent


def _imports(path: pathlib.Path) -> set[str]:
    """Every module a file imports, at module level or inside functions, as absolute names."""
    package = ".".join(path.relative_to(TASKS_DIR.parent).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


@pytest.mark.parametrize(
    "path",
    [TASKS_DIR / "review.py", TASKS_DIR / "lifecycle.py", TASKS_DIR / "escrow.py"]
    + sorted((TASKS_DIR / "quality").glob("*.py")),
    ids=lambda p: str(p.relative_to(TASKS_DIR.parent)),
)
def test_review_and_quality_sit_below_the_service_layer(path):
    imported = _imports(path)
    assert "tasks.services" not in imported
    assert "tasks.claiming" not in imported
    if path.parent.name != "quality":  # quality may end claims through the hot path's primitives
        assert not any(m.startswith("tasks.work") for m in imported)
