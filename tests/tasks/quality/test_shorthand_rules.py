"""The old per-bundle quality fields (minimum gold accuracy, the too-fast floor) are rules like
any other: accepted as before, shown as the rules they stand for (`effective_rules`), and a
block by one is a history row with its figures, reversible, that the worker sees."""

from __future__ import annotations

import pytest

from tasks.models import QualityRuleEvent, WorkerBundleStats
from tasks.quality.rules import shorthand_rules
from tasks.quality.rules_engine import quality_rules_validate, rule_event_reverse
from tests.conftest import client_for
from tests.factories import WorkerFactory

from .conftest import FIVE, claim_submit, live_bundle_with

pytestmark = pytest.mark.django_db


def blocked(worker, bundle) -> bool:
    stats = WorkerBundleStats.objects.filter(worker=worker, bundle=bundle).first()
    return bool(stats and stats.blocked)


def test_the_old_fields_are_shown_as_their_rules(requester):
    api = client_for(requester)
    body = {
        "title": "t", "instructions": "i", "reward": 5, "overlap": 3,
        "question": {"type": "single_choice",
                     "choices": [{"value": "a", "label": "A"}, {"value": "b", "label": "B"}]},
        "min_gold_accuracy": 0.7, "min_gold_answers": 6, "min_seconds_per_task": 2.5,
        "quality_rules": [{"collector": "skips"}],
    }  # fmt: skip
    created = api.post("/api/v1/bundles/", body, format="json")
    assert created.status_code == 201, created.json()
    data = created.json()
    assert data["min_gold_accuracy"] == 0.7 and data["quality_rules"][0]["collector"] == "skips"
    assert data["effective_rules"] == [
        {"collector": "gold_accuracy", "threshold": 0.7, "min_answers": 6, "action": "block",
         "from": "min_gold_accuracy"},
        {"collector": "answer_speed", "threshold": 0.5, "min_answers": 6,
         "floor_seconds": 2.5, "action": "block", "from": "min_seconds_per_task"},
        data["quality_rules"][0],
    ]  # fmt: skip


def test_a_block_by_the_gold_field_is_a_reversible_history_row(draw):
    bundle = live_bundle_with(
        items=2, gold=["a"] * 8, question=FIVE, gold_rate=0.5, min_overlap=1, max_overlap=1,
        min_gold_accuracy=0.7, min_gold_answers=4,
    )  # fmt: skip
    draw.gold()
    spammer = WorkerFactory()
    for _ in range(4):
        claim_submit(bundle, spammer, "b", seconds=20)
    assert blocked(spammer, bundle)
    event = QualityRuleEvent.objects.get(worker=spammer)
    assert event.rule == shorthand_rules(bundle)[0] and event.rule["from"] == "min_gold_accuracy"
    assert (event.figures["correct"], event.figures["seen"]) == (0, 4)
    assert event.reason == WorkerBundleStats.objects.get(worker=spammer).blocked_reason
    rows = client_for(spammer).get("/api/v1/work/quality-events/").json()["results"]
    assert [r["id"] for r in rows] == [event.pk]
    rule_event_reverse(event_id=event.pk, by=bundle.requester)
    assert not blocked(spammer, bundle)


def test_a_rule_with_a_fixed_floor_acts_as_the_old_speed_field_does(draw):
    """The same crowd against `min_seconds_per_task=3` and against the rule it stands for:
    the same worker blocked, at the same answer."""
    draw.real()
    field = live_bundle_with(items=8, min_overlap=3, max_overlap=3, min_seconds_per_task=3.0,
                             max_fast_fraction=0.5, min_gold_answers=4)  # fmt: skip
    rule = quality_rules_validate([
        {"collector": "answer_speed", "floor_seconds": 3.0, "threshold": 0.5, "min_answers": 5}
    ])  # fmt: skip
    as_rule = live_bundle_with(items=8, min_overlap=3, max_overlap=3, quality_rules=rule)
    for bundle in (field, as_rule):
        fast, slow = WorkerFactory(), WorkerFactory()
        for _ in range(5):
            assert not blocked(fast, bundle)
            claim_submit(bundle, fast, "pos")
            claim_submit(bundle, slow, "pos", seconds=10)
        assert blocked(fast, bundle) and not blocked(slow, bundle)
        event = QualityRuleEvent.objects.get(bundle=bundle)
        assert (event.figures["fast"], event.figures["answers"]) == (5, 5)
        assert event.figures["floor_seconds"] == 3.0


def test_floor_and_floor_seconds_are_validated():
    from marketplace.errors import DomainError

    for bad, words in [
        ({"collector": "answer_speed", "floor": 0.3, "floor_seconds": 2}, "not both"),
        ({"collector": "answer_speed", "floor_seconds": 0}, "floor_seconds must be"),
        ({"collector": "skips", "floor_seconds": 2}, "answer_speed collector only"),
    ]:
        with pytest.raises(DomainError, match=words):
            quality_rules_validate([bad])
