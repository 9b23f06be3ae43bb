"""The quality rules engine: rules `collector -> condition -> action` stored on the bundle,
validated by one function, evaluated by the follow-up of each committed submission; every firing
is a history row with the rule and its figures, reversible by the requester or an admin."""

from __future__ import annotations

import pytest
from django.core import mail

from marketplace.errors import DomainError, Forbidden
from tasks import work
from tasks.models import Assignment, AssignmentStatus, QualityRuleEvent, WorkerBundleStats
from tasks.quality.rules_engine import quality_rules_validate, rule_event_reverse
from tests.conftest import client_for
from tests.factories import BundleFactory, RequesterFactory, WorkerFactory

from .conftest import claim_submit, live_bundle_with

pytestmark = pytest.mark.django_db


def rules(*given):
    return quality_rules_validate(list(given))


def blocked(worker, bundle) -> bool:
    stats = WorkerBundleStats.objects.filter(worker=worker, bundle=bundle).first()
    return bool(stats and stats.blocked)


def test_validation_fills_defaults_and_names_the_fault():
    assert rules({"collector": "answer_speed"}) == [
        {"collector": "answer_speed", "threshold": 0.5, "min_answers": 5, "action": "block",
         "floor": 0.3}
    ]  # fmt: skip
    for bad, words in [
        ({"collector": "vibes"}, "collector must be one of"),
        ({"collector": "skips", "action": "fine"}, "action must be one of"),
        ({"collector": "skips", "threshold": 2}, "threshold"),
        ({"collector": "skips", "floor": 0.5}, "floor applies"),
        ({"collector": "skips", "when": 1}, "unknown field"),
    ]:
        with pytest.raises(DomainError, match=words) as caught:
            rules(bad)
        assert caught.value.code == "invalid_quality_rules"


def test_rules_are_editable_through_the_api(requester):
    api = client_for(requester)
    choices = [{"value": "a", "label": "A"}, {"value": "b", "label": "B"}]
    body = {"title": "t", "instructions": "i", "reward": 5, "overlap": 3,
            "question": {"type": "single_choice", "choices": choices}}  # fmt: skip
    bad = api.post(
        "/api/v1/bundles/", {**body, "quality_rules": [{"collector": "x"}]}, format="json"
    )
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_quality_rules", bad.json()
    created = api.post(
        "/api/v1/bundles/", {**body, "quality_rules": [{"collector": "skips"}]}, format="json"
    )
    assert created.status_code == 201, created.json()
    assert created.json()["quality_rules"][0]["threshold"] == 0.5
    bundle_id = created.json()["id"]
    updated = api.patch(
        f"/api/v1/bundles/{bundle_id}/",
        {"quality_rules": [{"collector": "agreement", "threshold": 0.6}]},
        format="json",
    )
    assert updated.status_code == 200, updated.json()
    assert updated.json()["quality_rules"][0]["collector"] == "agreement"


def test_speed_rule_blocks_the_instant_clicker_and_writes_its_history():
    bundle = live_bundle_with(
        items=8, min_overlap=3, max_overlap=3,
        quality_rules=rules({"collector": "answer_speed", "min_answers": 3, "threshold": 0.5}),
    )  # fmt: skip
    good = [WorkerFactory() for _ in range(2)]
    for worker in good:
        for _ in range(4):
            claim_submit(bundle, worker, "pos", seconds=30)
    spammer = WorkerFactory()
    for _ in range(3):
        claim_submit(bundle, spammer, "pos")  # well under a second each
    assert blocked(spammer, bundle)
    assert not any(blocked(w, bundle) for w in good)
    event = QualityRuleEvent.objects.get(worker=spammer)
    assert event.action == "block" and event.rule["collector"] == "answer_speed"
    assert event.figures["fast"] == 3 and event.figures["answers"] == 3
    reason = WorkerBundleStats.objects.get(worker=spammer, bundle=bundle).blocked_reason
    assert reason == event.reason and "answer speed" in reason  # what the worker sees


def test_distribution_rule_catches_the_constant_answerer():
    bundle = live_bundle_with(
        items=8, min_overlap=3, max_overlap=3,
        quality_rules=rules(
            {"collector": "answer_distribution", "min_answers": 4, "threshold": 0.4}
        ),
    )  # fmt: skip
    for worker in [WorkerFactory() for _ in range(2)]:
        for n in range(4):
            claim_submit(bundle, worker, "neg" if n % 4 else "pos", seconds=20)
    constant = WorkerFactory()
    for _ in range(4):
        claim_submit(bundle, constant, "pos", seconds=20)
    assert blocked(constant, bundle)
    figures = QualityRuleEvent.objects.get(worker=constant).figures
    assert figures["share"] == 1.0 and figures["crowd_share"] == 0.25


def test_agreement_rule_waits_for_enough_judgments_then_fires():
    """Agreement is weighed against the labels as they stand before this answer's own
    decision, so it rests on the worker's earlier answers on items with 3 judgments."""
    bundle = live_bundle_with(
        items=4, min_overlap=3, max_overlap=3,
        quality_rules=rules({"collector": "agreement", "min_answers": 3, "threshold": 0.5}),
    )  # fmt: skip
    honest = [WorkerFactory() for _ in range(2)]
    for worker in honest:
        for _ in range(4):
            claim_submit(bundle, worker, "pos", seconds=20)
    contrarian = WorkerFactory()
    for n in range(4):
        claim_submit(bundle, contrarian, "neg", seconds=20)
        assert blocked(contrarian, bundle) == (n == 3)
    assert QualityRuleEvent.objects.get(worker=contrarian).figures["agree"] == 0


def test_gold_accuracy_rule_uses_the_wilson_bound(draw):
    bundle = live_bundle_with(
        items=2, gold=["pos"] * 6, gold_rate=0.5, min_overlap=1, max_overlap=1,
        quality_rules=rules({"collector": "gold_accuracy", "min_answers": 4, "threshold": 0.7}),
    )  # fmt: skip
    draw.gold()
    worker = WorkerFactory()
    for n in range(4):
        claim_submit(bundle, worker, "neg", seconds=20)
        assert blocked(worker, bundle) == (n == 3)  # not before 4 gold answers


def test_skips_rule_counts_expired_and_returned_claims():
    bundle = live_bundle_with(
        items=6, min_overlap=1, max_overlap=1,
        quality_rules=rules({"collector": "skips", "min_answers": 4, "threshold": 0.5}),
    )  # fmt: skip
    skipper = WorkerFactory()
    for _ in range(3):
        task = work.assignment_claim(bundle=bundle, worker=skipper)
        work.assignment_return(assignment_id=task.pk, worker=skipper)
    claim_submit(bundle, skipper, "pos", seconds=20)
    assert blocked(skipper, bundle)
    assert QualityRuleEvent.objects.get(worker=skipper).figures["skipped"] == 3


def test_block_across_the_requesters_bundles_and_its_reversal():
    requester = RequesterFactory()
    speed = rules({"collector": "answer_speed", "min_answers": 2, "action": "block_requester"})
    bundle = live_bundle_with(items=8, min_overlap=1, max_overlap=1, quality_rules=speed,
                              requester=requester)  # fmt: skip
    sibling = live_bundle_with(items=1, requester=requester)
    stranger = live_bundle_with(items=1)
    for _ in range(3):
        claim_submit(bundle, WorkerFactory(), "pos", seconds=30)
    spammer = WorkerFactory()
    claim_submit(bundle, spammer, "pos")
    claim_submit(bundle, spammer, "pos")
    assert blocked(spammer, bundle) and blocked(spammer, sibling)
    assert not blocked(spammer, stranger)

    event = QualityRuleEvent.objects.get(worker=spammer)
    with pytest.raises(Forbidden):
        rule_event_reverse(event_id=event.pk, by=stranger.requester)
    rule_event_reverse(event_id=event.pk, by=requester)
    assert not blocked(spammer, bundle) and not blocked(spammer, sibling)
    event.refresh_from_db()
    assert event.reversed_at is not None and event.reversed_by == requester
    # only new evidence counts after a reversal: the old fast answers do not re-block
    claim_submit(bundle, spammer, "pos", seconds=30)
    assert not blocked(spammer, bundle)


def test_notify_rule_emails_the_requester_once_and_blocks_nobody():
    bundle = live_bundle_with(
        items=8, min_overlap=1, max_overlap=1,
        quality_rules=rules({"collector": "answer_speed", "min_answers": 2, "action": "notify"}),
    )  # fmt: skip
    for _ in range(4):
        claim_submit(bundle, WorkerFactory(), "pos", seconds=30)
    fast = WorkerFactory()
    for _ in range(3):
        claim_submit(bundle, fast, "pos")
    assert not blocked(fast, bundle)
    assert len(mail.outbox) == 1 and bundle.requester.email in mail.outbox[0].to
    assert "answer speed" in mail.outbox[0].body
    assert QualityRuleEvent.objects.filter(worker=fast, action="notify").count() == 1


def test_a_bundle_without_rules_writes_no_history():
    bundle = BundleFactory()
    assert bundle.quality_rules == []
    assert not Assignment.objects.filter(status=AssignmentStatus.SUBMITTED).exists()
    assert not QualityRuleEvent.objects.exists()


def test_admin_lists_and_reverses_rule_actions_and_validates_rules(client):
    from django.contrib.auth import get_user_model

    staff = get_user_model().objects.create_user(
        email="staff@example.com", password="x", is_staff=True, is_superuser=True
    )
    bundle = live_bundle_with(
        items=8, min_overlap=1, max_overlap=1,
        quality_rules=rules({"collector": "answer_speed", "min_answers": 2}),
    )  # fmt: skip
    for _ in range(3):
        claim_submit(bundle, WorkerFactory(), "pos", seconds=30)
    spammer = WorkerFactory()
    for _ in range(2):
        claim_submit(bundle, spammer, "pos")
    event = QualityRuleEvent.objects.get(worker=spammer)
    client.force_login(staff)
    listing = client.get("/admin/tasks/qualityruleevent/")
    assert listing.status_code == 200 and "answer speed" in listing.content.decode()
    client.post(
        "/admin/tasks/qualityruleevent/",
        {"action": "reverse", "_selected_action": [event.pk]},
    )
    event.refresh_from_db()
    assert event.reversed_by == staff and not blocked(spammer, bundle)
    page = client.get(f"/admin/tasks/bundle/{bundle.pk}/change/")
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None}
    data["quality_rules"] = '[{"collector": "vibes"}]'
    response = client.post(f"/admin/tasks/bundle/{bundle.pk}/change/", data)
    assert "collector must be one of" in response.content.decode()


def test_requester_reads_and_reverses_rule_actions_through_the_api():
    bundle = live_bundle_with(
        items=8, min_overlap=1, max_overlap=1,
        quality_rules=rules({"collector": "answer_speed", "min_answers": 2}),
    )  # fmt: skip
    for _ in range(3):
        claim_submit(bundle, WorkerFactory(), "pos", seconds=30)
    spammer = WorkerFactory()
    for _ in range(2):
        claim_submit(bundle, spammer, "pos")
    api = client_for(bundle.requester)
    listed = api.get(f"/api/v1/bundles/{bundle.pk}/rule-events/").json()["results"]
    assert [(e["action"], e["rule"]["collector"]) for e in listed] == [("block", "answer_speed")]
    assert listed[0]["figures"]["fast"] == 2 and listed[0]["reversed_at"] is None
    assert str(spammer.pk) != listed[0]["worker_id"]  # the public id only
    stranger = client_for(RequesterFactory())
    denied = stranger.post(f"/api/v1/bundles/{bundle.pk}/rule-events/", {"event_id": 1})
    assert denied.status_code == 404
    reversed_ = api.post(
        f"/api/v1/bundles/{bundle.pk}/rule-events/", {"event_id": listed[0]["id"]}, format="json"
    )
    assert reversed_.status_code == 200, reversed_.json()
    assert reversed_.json()["results"][0]["reversed_at"] is not None
    assert not blocked(spammer, bundle)


def test_an_unblock_by_hand_marks_the_rules_block_reversed():
    from tasks.quality.blocking import worker_unblock

    bundle = live_bundle_with(
        items=8, min_overlap=1, max_overlap=1,
        quality_rules=rules({"collector": "answer_speed", "min_answers": 2}),
    )  # fmt: skip
    for _ in range(3):
        claim_submit(bundle, WorkerFactory(), "pos", seconds=30)
    spammer = WorkerFactory()
    for _ in range(2):
        claim_submit(bundle, spammer, "pos")
    worker_unblock(worker_id=spammer.pk, bundle_id=bundle.pk, by=bundle.requester)
    event = QualityRuleEvent.objects.get(worker=spammer)
    assert event.reversed_at is not None and event.reversed_by == bundle.requester


def test_bundle_page_shows_the_rule_history(client):
    bundle = live_bundle_with(
        items=8, min_overlap=1, max_overlap=1,
        quality_rules=rules({"collector": "answer_speed", "min_answers": 2}),
    )  # fmt: skip
    for _ in range(3):
        claim_submit(bundle, WorkerFactory(), "pos", seconds=30)
    spammer = WorkerFactory()
    for _ in range(2):
        claim_submit(bundle, spammer, "pos")
    client.force_login(bundle.requester)
    html = client.get(f"/bundles/{bundle.pk}/").content.decode()
    assert "Quality rule history" in html
    event = QualityRuleEvent.objects.get(worker=spammer)
    assert f'data-rule-event="{event.pk}"' in html and "answer speed" in html
