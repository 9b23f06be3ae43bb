"""Machine-written answers: the signals the work page sends with a text answer (pastes, typing
time), and the collectors the rules act on: mostly pasted, faster than reading and typing
allow, near-identical to another worker's answer, and the hidden canary word."""

from __future__ import annotations

import json

import pytest

from marketplace.errors import DomainError
from tasks import services, work
from tasks.models import AnswerSignals, Assignment, QualityRuleEvent, WorkerBundleStats
from tasks.quality.machine_signals import (
    answer_signals_validate,
    canary_validate,
    jaccard,
    least_seconds,
    shingles,
)
from tasks.quality.rules_engine import quality_rules_validate
from tests.conftest import client_for
from tests.factories import WorkerFactory

from .conftest import claim_submit, live_bundle_with, submit

pytestmark = pytest.mark.django_db

TEXT = {"type": "text", "prompt": "Summarise the review in one sentence.", "max_length": 1000}
ESSAY = "The reviewer loved the battery life but found the screen far too dim outdoors."
OTHER = "Short delivery, broken box, and the seller never answered a single email at all."


def text_bundle(rule, *, items=6, **fields):
    return live_bundle_with(
        items=items, min_overlap=2, max_overlap=2, question=TEXT,
        quality_rules=quality_rules_validate([rule]), **fields,
    )  # fmt: skip


def blocked(worker, bundle) -> bool:
    stats = WorkerBundleStats.objects.filter(worker=worker, bundle=bundle).first()
    return bool(stats and stats.blocked)


def answer_with(bundle, worker, text, *, seconds, signals=None):
    """Claim, backdate the claim by `seconds`, submit `text` with `signals`."""
    from datetime import timedelta

    from django.db.models import F

    assignment = work.assignment_claim(bundle=bundle, worker=worker)
    Assignment.objects.filter(pk=assignment.pk).update(
        claimed_at=F("claimed_at") - timedelta(seconds=seconds)
    )
    return submit(assignment_id=assignment.pk, worker=worker, answer=text, signals=signals)


def typed(text, seconds):
    return {"paste_events": 0, "pasted_chars": 0, "typed_chars": len(text),
            "typing_seconds": seconds}  # fmt: skip


def pasted(text):
    return {"paste_events": 1, "pasted_chars": len(text), "typed_chars": 0, "typing_seconds": 0.4}


def test_signals_are_validated():
    assert answer_signals_validate(None) is None
    assert answer_signals_validate({"paste_events": 2})["paste_events"] == 2
    for bad in [[1], {"paste_events": -1}, {"pasted_chars": "many"}, {"mood": 1},
                {"typing_seconds": True}]:  # fmt: skip
        with pytest.raises(DomainError) as caught:
            answer_signals_validate(bad)
        assert caught.value.code == "invalid_signals"
    assert canary_validate(" zephyrine ") == "zephyrine" and canary_validate("") == ""
    with pytest.raises(DomainError):
        canary_validate("two words")


def test_the_api_stores_signals_of_text_answers_and_refuses_bad_ones():
    bundle = text_bundle({"collector": "pasted"})
    worker = WorkerFactory()
    api = client_for(worker)
    task = api.post(f"/api/v1/work/bundles/{bundle.pk}/claim/").json()
    url = f"/api/v1/work/assignments/{task['id']}/submit/"
    bad = api.post(url, {"answer": ESSAY, "signals": {"paste_events": -3}}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] in ("invalid_signals", "invalid")
    ok = api.post(url, {"answer": ESSAY, "signals": pasted(ESSAY)}, format="json")
    assert ok.status_code == 200, ok.json()
    row = AnswerSignals.objects.get(assignment_id=task["id"])
    assert (row.paste_events, row.pasted_chars, row.answer_chars) == (1, len(ESSAY), len(ESSAY))
    assert "signals" not in ok.json()  # never echoed to workers


def test_choice_answers_keep_no_signals():
    bundle = live_bundle_with(items=2, min_overlap=1, max_overlap=1)
    worker = WorkerFactory()
    task = work.assignment_claim(bundle=bundle, worker=worker)
    submit(assignment_id=task.pk, worker=worker, answer="pos", signals=pasted("pos"))
    assert not AnswerSignals.objects.exists()


def test_pasted_collector_blocks_the_paster_not_the_typist():
    bundle = text_bundle({"collector": "pasted", "min_answers": 2})
    typist, paster = WorkerFactory(), WorkerFactory()
    for text in (ESSAY, OTHER):
        answer_with(bundle, typist, text, seconds=60, signals=typed(text, 40))
        answer_with(bundle, paster, text + " Yes.", seconds=60, signals=pasted(text))
    assert blocked(paster, bundle) and not blocked(typist, bundle)
    event = QualityRuleEvent.objects.get(worker=paster)
    assert event.figures["pasted"] == 2 and event.figures["answers"] == 2


def test_too_fast_to_type_flags_answers_no_one_could_read_and_type_in_time():
    assert least_seconds(ESSAY, {"text": "one two three"}) == pytest.approx(
        3 / 15 + len(ESSAY) / 15
    )
    bundle = text_bundle({"collector": "too_fast_to_type", "min_answers": 2})
    human, bot = WorkerFactory(), WorkerFactory()
    for text in (ESSAY, OTHER):
        answer_with(bundle, human, text, seconds=45)
        answer_with(bundle, bot, text + " Indeed.", seconds=1)
    assert blocked(bot, bundle) and not blocked(human, bundle)
    assert QualityRuleEvent.objects.get(worker=bot).figures["too_fast"] == 2


def test_typing_faster_than_anyone_types_is_too_fast_even_with_time_to_spare():
    bundle = text_bundle({"collector": "too_fast_to_type", "min_answers": 2})
    human, bot = WorkerFactory(), WorkerFactory()
    for text in (ESSAY, OTHER):
        answer_with(bundle, human, text, seconds=45, signals=typed(text, 20))
        # a minute on the task, but 80 characters "typed" within 0.2 s: synthetic keystrokes
        answer_with(bundle, bot, text + " Sure.", seconds=60, signals=typed(text, 0.2))
    assert blocked(bot, bundle) and not blocked(human, bundle)


def test_near_duplicate_answers_across_workers_are_flagged():
    assert jaccard(shingles(ESSAY), shingles(ESSAY.upper() + "!")) == 1.0
    assert jaccard(shingles(ESSAY), shingles(OTHER)) == 0.0
    bundle = text_bundle({"collector": "near_duplicate", "min_answers": 2}, items=8)
    first, copier, original = WorkerFactory(), WorkerFactory(), WorkerFactory()
    for text in (ESSAY, OTHER):
        answer_with(bundle, first, text, seconds=60)
    answer_with(bundle, original, "Battery good, screen dim; overall a fair phone for the money.",
                seconds=60)  # fmt: skip
    answer_with(bundle, original, "Packaging was damaged and support stayed silent for weeks.",
                seconds=60)  # fmt: skip
    for text in (ESSAY, OTHER):
        answer_with(bundle, copier, "  " + text.lower() + "  ", seconds=60)
    assert blocked(copier, bundle)
    assert not blocked(original, bundle) and not blocked(first, bundle)


def test_the_hidden_canary_reveals_an_agent_on_one_answer(client):
    bundle = text_bundle({"collector": "agent_canary", "action": "block"}, agent_canary="zephyrine")
    assert bundle.quality_rules[0]["min_answers"] == 1 and bundle.quality_rules[0]["threshold"] == 0
    human, agent = WorkerFactory(), WorkerFactory()
    answer_with(bundle, human, ESSAY, seconds=60)
    answer_with(bundle, agent, ESSAY + " zephyrine", seconds=60)
    assert blocked(agent, bundle) and not blocked(human, bundle)
    assert QualityRuleEvent.objects.get(worker=agent).figures["canary"] == 1

    # the page carries it for agents: in the DOM, hidden from people and screen readers
    worker = WorkerFactory()
    client.force_login(worker)
    html = client.post(f"/work/{bundle.pk}/next/", HTTP_HX_REQUEST="true").content.decode()
    assert 'class="agent-note" aria-hidden="true"' in html and "zephyrine" in html
    assert 'name="signals"' in html  # and the signals field the script fills


def test_the_work_page_posts_its_signals_with_the_answer(client):
    bundle = text_bundle({"collector": "pasted"})
    worker = WorkerFactory()
    client.force_login(worker)
    client.post(f"/work/{bundle.pk}/next/", HTTP_HX_REQUEST="true")
    task = Assignment.objects.get(worker=worker)
    client.post(
        f"/work/tasks/{task.pk}/submit/",
        {"answer": ESSAY, "signals": json.dumps(typed(ESSAY, 31.5))},
        HTTP_HX_REQUEST="true",
    )
    row = AnswerSignals.objects.get(assignment=task)
    assert row.typed_chars == len(ESSAY) and row.typing_seconds == 31.5
    # garbage from a page never costs the worker the answer
    client.post(f"/work/{bundle.pk}/next/", HTTP_HX_REQUEST="true")
    second = Assignment.objects.filter(worker=worker).exclude(pk=task.pk).get()
    client.post(
        f"/work/tasks/{second.pk}/submit/", {"answer": OTHER, "signals": "{nope"},
        HTTP_HX_REQUEST="true",
    )  # fmt: skip
    second.refresh_from_db()
    assert second.status == "submitted"


def test_a_service_caller_gets_the_same_signals_stored():
    bundle = text_bundle({"collector": "pasted"})
    worker = WorkerFactory()
    task = work.assignment_claim(bundle=bundle, worker=worker)
    step = services.assignment_submit_and_claim_next(
        assignment_id=task.pk, worker=worker, answer=ESSAY, bundle=bundle, signals=pasted(ESSAY)
    )
    assert AnswerSignals.objects.get(assignment_id=step.submitted.pk).paste_events == 1
    assert claim_submit  # the shared helper stays importable for the suite
