"""Exams and training: an exam is a gold-only bundle whose score grants the requester's
qualification, which another bundle's requirement then asks for; training items are a worker's
first tasks, with their explanation shown once answered."""

from __future__ import annotations

import pytest

from accounts.models import Qualification, WorkerQualification
from marketplace.errors import DomainError
from payments.services import worker_available
from tasks import services, work
from tasks.models import Assignment, Bundle, BundleStatus
from tasks.quality.exams import exam_result, exam_validate
from tasks.review import assignment_approve
from tests.conftest import client_for
from tests.factories import BundleFactory, ItemFactory, RequesterFactory, WorkerFactory, fund
from tests.payments.helpers import assert_ledger_balanced

from .conftest import claim_submit, submit

pytestmark = pytest.mark.django_db

CHOICES = [{"value": "pos", "label": "Positive"}, {"value": "neg", "label": "Negative"}]
BODY = {
    "title": "Sentiment exam", "instructions": "Answer each.", "reward": 2, "overlap": 1,
    "question": {"type": "single_choice", "choices": CHOICES},
}  # fmt: skip
SERVICE_BODY = {k: v for k, v in BODY.items() if k != "reward"}
GOLD = ["pos", "neg", "pos"]


def exam_bundle(requester=None, *, reward=2, pass_score=80, funded=True):
    requester = requester or RequesterFactory()
    bundle = services.bundle_create(
        requester=requester,
        data={**SERVICE_BODY, "reward_minor": reward, "exam": {"qualification": "sentiment-exam",
              "pass_score": pass_score, "max_takers": 10}},
    )  # fmt: skip
    for n, answer in enumerate(GOLD):
        ItemFactory(bundle=bundle, gold=answer, external_id=f"g{n}")
    if funded:
        fund(requester)
    return services.bundle_publish(bundle=bundle, by=requester)


def take_exam(bundle, worker, answers):
    done = []
    for answer in answers:
        assignment = work.assignment_claim(bundle=bundle, worker=worker)
        assert assignment.is_gold  # every exam task is gold
        gold = Assignment.objects.get(pk=assignment.pk).item.gold
        given = gold if answer else ("neg" if gold == "pos" else "pos")
        done.append(submit(assignment_id=assignment.pk, worker=worker, answer=given))
    return done


def test_exam_settings_are_validated():
    assert exam_validate({"qualification": "q1"}) == {
        "qualification": "q1", "pass_score": 80, "max_takers": 100,
    }  # fmt: skip
    for bad in [{"qualification": "has space"}, {"qualification": "q", "pass_score": 0},
                {"qualification": "q", "grade": 1}, "q"]:  # fmt: skip
        with pytest.raises(DomainError) as caught:
            exam_validate(bad)
        assert caught.value.code == "invalid_exam"


def test_creating_an_exam_through_the_api_makes_its_qualification(requester):
    api = client_for(requester)
    response = api.post(
        "/api/v1/bundles/", {**BODY, "exam": {"qualification": "sentiment-exam"}}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["exam"]["pass_score"] == 80 and response.json()["gold_rate"] == 1.0
    assert Qualification.objects.filter(owner=requester, name="sentiment-exam").exists()
    refused = api.post("/api/v1/bundles/", {**BODY, "reward": 0}, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_amount"
    system = api.post(
        "/api/v1/bundles/", {**BODY, "exam": {"qualification": "approval_rate"}}, format="json"
    )
    assert system.status_code == 400 and system.json()["code"] == "invalid_exam"


def test_passing_the_exam_grants_the_qualification_that_opens_another_bundle():
    requester = RequesterFactory()
    exam = exam_bundle(requester)
    passer, failer = WorkerFactory(), WorkerFactory()
    take_exam(exam, passer, [True, True, True])
    take_exam(exam, failer, [True, False, False])
    with pytest.raises(work.NoTasksAvailable):  # each exam item once
        work.assignment_claim(bundle=exam, worker=passer)
    grant = WorkerQualification.objects.get(worker=passer, qualification__name="sentiment-exam")
    assert grant.value == 100
    assert not WorkerQualification.objects.filter(worker=failer).exists()
    result = exam_result(worker_id=failer.pk, bundle=exam)
    assert result.finished and result.score == 33 and not result.passed
    assert Bundle.objects.get(pk=exam.pk).status == BundleStatus.PUBLISHED  # runs on

    gated = BundleFactory(
        requester=requester, min_overlap=1, max_overlap=1,
        requirements=[{"qualification": "sentiment-exam", "comparator": "GreaterThanOrEqualTo",
                       "value": 80}],
    )  # fmt: skip
    ItemFactory(bundle=gated)
    fund(requester)
    gated = services.bundle_publish(bundle=gated, by=requester)
    with pytest.raises(DomainError) as refused:
        work.assignment_claim(bundle=gated, worker=failer)
    assert refused.value.code == "not_qualified"
    assert work.assignment_claim(bundle=gated, worker=passer).item.bundle_id == gated.pk


def test_find_work_lists_an_exam_until_the_worker_has_taken_it():
    exam = exam_bundle()
    worker = WorkerFactory()
    api = client_for(worker)
    listed = [b["id"] for b in api.get("/api/v1/work/bundles/").json()["results"]]
    assert exam.pk in listed
    take_exam(exam, worker, [True, True, True])
    listed = [b["id"] for b in api.get("/api/v1/work/bundles/").json()["results"]]
    assert exam.pk not in listed


def test_a_paid_exam_pays_its_answers_and_refuses_real_items():
    requester = RequesterFactory()
    exam = exam_bundle(requester)
    worker = WorkerFactory()
    answers = take_exam(exam, worker, [True, True, False])
    for answer in answers:
        assignment_approve(assignment_id=answer.pk, by=requester)
    assert worker_available(worker_id=worker.pk, currency="usd") == 3 * exam.reward_minor
    assert_ledger_balanced()
    mixed = services.bundle_create(
        requester=requester,
        data={**SERVICE_BODY, "reward_minor": 2, "exam": {"qualification": "sentiment-exam"}},
    )
    ItemFactory(bundle=mixed, gold="pos")
    ItemFactory(bundle=mixed)  # a real item: not an exam
    with pytest.raises(DomainError) as refused:
        services.bundle_publish(bundle=mixed, by=requester)
    assert refused.value.code == "invalid_exam"


def test_an_unpaid_exam_needs_no_money_and_pays_nothing():
    exam = exam_bundle(reward=0, funded=False)
    worker = WorkerFactory()
    for answer in take_exam(exam, worker, [True, True, True]):
        assignment_approve(assignment_id=answer.pk, by=exam.requester)
    assert worker_available(worker_id=worker.pk, currency="usd") == 0
    assert WorkerQualification.objects.get(worker=worker).value == 100
    assert_ledger_balanced()


def test_the_exam_result_shows_on_the_work_page(client):
    exam = exam_bundle()
    worker = WorkerFactory()
    take_exam(exam, worker, [True, True, True])
    client.force_login(worker)
    html = client.get(f"/work/{exam.pk}/").content.decode()
    assert 'data-exam-result="passed"' in html and "100%" in html


def training_bundle():
    """Training is paid from the gold budget: 20 real items at a gold rate of 0.2 reserve 5
    gold judgments."""
    bundle = BundleFactory(min_overlap=1, max_overlap=1, gold_rate=0.2)
    for n in range(20):
        ItemFactory(bundle=bundle, external_id=f"real{n}")
    for n, answer in enumerate(["pos", "neg", "pos"]):
        ItemFactory(bundle=bundle, external_id=f"g{n}", gold=answer)
    fund(bundle.requester)
    return services.bundle_publish(bundle=bundle, by=bundle.requester)


def test_training_items_come_first_with_their_explanation():
    bundle = training_bundle()
    api = client_for(bundle.requester)
    url = f"/api/v1/bundles/{bundle.pk}/training/"
    bad = api.post(url, {"items": {"real0": "not gold"}}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "not_gold"
    stranger = client_for(RequesterFactory())
    assert stranger.post(url, {"items": {"g0": "x"}}, format="json").status_code == 404
    set_ = api.post(
        url, {"items": {"g1": "Sarcasm reads as negative.", "g0": "Praise is positive."}},
        format="json",
    )  # fmt: skip
    assert set_.status_code == 200, set_.json()
    assert [r["external_id"] for r in set_.json()["training_items"]] == ["g0", "g1"]

    worker = WorkerFactory()
    worker_api = client_for(worker)
    served = []
    for _ in range(2):
        claimed = worker_api.post(f"/api/v1/work/bundles/{bundle.pk}/claim/").json()
        assert claimed["explanation"] is None  # nothing before the answer
        served.append(claimed["item"]["id"])
        done = worker_api.post(
            f"/api/v1/work/assignments/{claimed['id']}/submit/", {"answer": "pos"}, format="json"
        ).json()
        assert done["explanation"] in ("Praise is positive.", "Sarcasm reads as negative.")
    assert served == sorted(served)  # in upload order: g0 then g1
    third = work.assignment_claim(bundle=bundle, worker=worker)
    assert third.item.external_id not in ("g0", "g1")


def test_the_work_page_shows_the_explanation_after_a_training_answer(client):
    bundle = training_bundle()
    client_for(bundle.requester).post(
        f"/api/v1/bundles/{bundle.pk}/training/", {"items": {"g0": "Praise is positive."}},
        format="json",
    )  # fmt: skip
    worker = WorkerFactory()
    client.force_login(worker)
    client.post(f"/work/{bundle.pk}/next/", HTTP_HX_REQUEST="true")
    assignment = Assignment.objects.get(worker=worker)
    assert assignment.item.external_id == "g0"
    html = client.post(
        f"/work/tasks/{assignment.pk}/submit/", {"answer": "neg"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "data-explanation" in html and "Praise is positive." in html


def test_training_needs_a_gold_budget():
    bundle = BundleFactory(min_overlap=1, max_overlap=1)
    ItemFactory(bundle=bundle, external_id="g0", gold="pos")
    response = client_for(bundle.requester).post(
        f"/api/v1/bundles/{bundle.pk}/training/", {"items": {"g0": "why"}}, format="json"
    )
    assert response.status_code == 400 and response.json()["code"] == "no_gold_budget"


def test_claim_submit_helper_still_serves_real_work_after_training():
    bundle = training_bundle()
    worker = WorkerFactory()
    done = claim_submit(bundle, worker, "pos", seconds=10)
    assert done.status == "submitted"


def test_the_admin_checks_exam_and_canary_with_the_same_validators(client):
    from django.contrib.auth import get_user_model

    staff = get_user_model().objects.create_user(
        email="staff@example.com", password="x", is_staff=True, is_superuser=True
    )
    bundle = BundleFactory()
    client.force_login(staff)
    page = client.get(f"/admin/tasks/bundle/{bundle.pk}/change/")
    data = {k: v for k, v in page.context["adminform"].form.initial.items() if v is not None}
    data.update(exam='{"qualification": "has space"}', agent_canary="two words")
    html = client.post(f"/admin/tasks/bundle/{bundle.pk}/change/", data).content.decode()
    assert "exam.qualification must be a name" in html
    assert "agent_canary must be one word" in html


def test_the_requester_sets_training_items_on_the_bundle_page(client):
    bundle = training_bundle()
    url = f"/bundles/{bundle.pk}/training/"
    client.force_login(RequesterFactory())
    assert client.post(url, {"training": "g0: why"}).status_code == 404
    client.force_login(bundle.requester)
    page = client.get(f"/bundles/{bundle.pk}/").content.decode()
    assert 'id="training"' in page
    client.post(url, {"training": "g0: Praise is positive.\ng2: Irony reads as negative."})
    bundle.refresh_from_db()
    assert bundle.training_items == 2
    page = client.get(f"/bundles/{bundle.pk}/").content.decode()
    assert "g0: Praise is positive." in page
    client.post(url, {"training": "real1: not gold"})
    bundle.refresh_from_db()
    assert bundle.training_items == 2  # refused as a whole: real1 is not a gold item


def test_an_exam_bundle_page_shows_its_cost(client):
    exam = exam_bundle()
    client.force_login(exam.requester)
    response = client.get(f"/bundles/{exam.pk}/")
    assert response.status_code == 200
    assert response.context["gold_judgments"] == len(GOLD) * 10  # each item once per taker
