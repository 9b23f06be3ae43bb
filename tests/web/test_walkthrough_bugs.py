"""Issue 15, "Bugs found": each was seen in a walk-through and each test failed before its fix.
Browser-only ones (the review queue's Enter key) are in tests/e2e."""

from __future__ import annotations

import re

import pytest

from tests.factories import BundleFactory, ItemFactory, fund

pytestmark = pytest.mark.django_db


def login(client, user):
    client.force_login(user)
    return client


# -- bug 5: an empty draft -------------------------------------------------------------------


def test_an_empty_draft_offers_no_publish_for_nothing(client, requester):
    bundle = BundleFactory(requester=requester)
    html = login(client, requester).get(f"/bundles/{bundle.pk}/").content.decode()
    assert "Publish and reserve" not in html
    assert "Upload items before publishing" in html


def test_publishing_an_empty_draft_says_why_without_a_balance_link(client, requester):
    bundle = BundleFactory(requester=requester)
    response = login(client, requester).post(f"/bundles/{bundle.pk}/publish/")
    assert response.status_code == 409
    error = re.search(r'id="publish-error">(.*?)</p>', response.content.decode(), re.S)
    assert error, "the error is shown"
    assert "Your balance" not in error.group(1)


def test_the_balance_link_stays_when_money_is_missing(client, requester):
    bundle = BundleFactory(requester=requester, min_overlap=1, max_overlap=1)
    ItemFactory(bundle=bundle)
    fund(requester, amount_minor=2)
    response = login(client, requester).post(f"/bundles/{bundle.pk}/publish/")
    assert response.status_code == 402
    error = re.search(r'id="publish-error">(.*?)</p>', response.content.decode(), re.S)
    assert "Your balance" in error.group(1)


# -- bug 8: copy -----------------------------------------------------------------------------


def test_first_sign_up_says_welcome_and_a_later_visit_welcome_back(client):
    response = client.post(
        "/accounts/signup/",
        {
            "email": "first@example.com",
            "password1": "a-long-pass-phrase-9",
            "password2": "a-long-pass-phrase-9",
            "roles": ["worker"],
            "country": "DE",
        },
        follow=True,
    )
    html = response.content.decode()
    assert "Welcome back" not in html
    assert "Welcome to crowdmarket" in html
    assert "Welcome back" in client.get("/").content.decode()


@pytest.mark.parametrize(
    ("requirement", "wording"),
    [
        ({"qualification": "country", "comparator": "In", "value": ["DE"]}, "country is DE"),
        (
            {"qualification": "country", "comparator": "In", "value": ["DE", "FR"]},
            "country is one of DE, FR",
        ),
        ({"qualification": "country", "comparator": "NotIn", "value": ["US"]}, "country is not US"),
        (
            {"qualification": "approval_rate", "comparator": "GreaterThanOrEqualTo", "value": 95},
            "approval rate at least 95",
        ),
        (
            {"qualification": "exam", "comparator": "Exists", "value": None},
            "the exam qualification",
        ),
    ],
)
def test_requirements_read_as_sentences(requirement, wording):
    """Issue 15, bug 8: a worker was told "Requires country In DE"."""
    from accounts.qualifications import requirement_failures, requirements_parse

    values = {"system": {"country": "US", "approval_rate": 50}}
    failures = requirement_failures(requirements_parse([requirement]), values, owner_id=1)
    assert failures == [wording]


def test_the_accuracy_chart_leaves_room_for_a_blocked_workers_label():
    """Issue 15, bug 8: "w_… (blocked)" was wider than the label column and was clipped."""
    from marketplace.web.charts import CHAR_WIDTH, accuracy_chart

    worker = {
        "public_id": "w_0123456789ab",
        "gold_accuracy": 0.4,
        "gold_accuracy_low": 0.2,
        "gold_accuracy_high": 0.6,
        "gold_correct": 2,
        "gold_seen": 5,
    }
    chart = accuracy_chart([{**worker, "blocked": True}])
    bar = chart["bars"][0]
    assert bar["label"] == "w_0123456789ab (blocked)"
    assert chart["label_x"] >= len(bar["label"]) * CHAR_WIDTH
    assert bar["x"] > chart["label_x"]
    assert bar["value_x"] + 5 * CHAR_WIDTH <= chart["width"]  # "100%" still fits on the right


# -- bug 3: find work ------------------------------------------------------------------------


def _answered(bundle, seconds: list[float], *, approve: bool = True) -> None:
    from tasks import review, services, work
    from tasks.models import Assignment
    from tests.factories import WorkerFactory

    for spent in seconds:
        worker = WorkerFactory()
        claimed = work.assignment_claim(bundle=bundle, worker=worker)
        services.assignment_submit(assignment_id=claimed.pk, worker=worker, answer="pos")
        Assignment.objects.filter(pk=claimed.pk).update(seconds_spent=spent)
        if approve:
            review.assignments_review(
                requester=bundle.requester, assignment_ids=[claimed.pk], approve=True
            )


def _live(requester, items: int, overlap: int):
    from tests.factories import publish

    bundle = BundleFactory(requester=requester, min_overlap=overlap, max_overlap=overlap)
    for n in range(items):
        ItemFactory(bundle=bundle, payload={"text": f"item {n}"})
    return publish(bundle)


def test_find_work_hides_a_bundle_the_worker_has_exhausted(client, requester):
    from tasks import services, work
    from tests.factories import WorkerFactory

    bundle = _live(requester, items=2, overlap=3)
    worker = WorkerFactory()
    for _ in range(2):
        claimed = work.assignment_claim(bundle=bundle, worker=worker)
        services.assignment_submit(assignment_id=claimed.pk, worker=worker, answer="pos")
    html = login(client, worker).get("/work/").content.decode()
    assert bundle.title not in html  # 2 answers by others still wanted, none by this worker
    other = login(client, WorkerFactory()).get("/work/").content.decode()
    assert bundle.title in other
    assert "<dd>2</dd>" in other  # tasks left for this worker: one per item


def test_find_work_says_not_enough_data_for_one_zero_second_answer(client, requester):
    from tests.factories import WorkerFactory

    bundle = _live(requester, items=10, overlap=1)
    _answered(bundle, [0.4])  # one answer in 0.4 s once read as $180/h
    html = login(client, WorkerFactory()).get("/work/").content.decode()
    assert re.search(r"\$[\d.,]+/h", html) is None
    assert "not enough data" in html


def test_find_work_estimates_pay_from_approved_work_trimmed(client, requester):
    from tests.factories import WorkerFactory

    bundle = _live(requester, items=12, overlap=1)
    # ten approved answers: one absurdly fast, one absurdly slow, eight at 18 s
    _answered(bundle, [0.0, *([18.0] * 8), 3600.0])
    _answered(bundle, [1.0], approve=False)  # not reviewed yet: not counted
    html = login(client, WorkerFactory()).get("/work/").content.decode()
    assert "$10.00/h" in html  # 5 cents every 18 s
    assert "18 s" in html


# -- bug 4: the fee actually charged per answer ------------------------------------------------


def _create_form(**overrides):
    data = {
        "title": "Sentiment",
        "instructions": "Is it positive?",
        "question_type": "single_choice",
        "choices": "pos | Positive\nneg | Negative",
        "currency": "usd",
        "reward": "0.04",
        "overlap": "2",
        "gold_rate": "0",
        "time_limit_minutes": "10",
    }
    data.update(overrides)
    return data


def test_the_bundle_page_shows_the_fee_charged_per_answer(client, requester, settings):
    settings.PLATFORM_FEE_PERCENT = 20
    settings.PLATFORM_MIN_FEE_MINOR = 1
    bundle = BundleFactory(requester=requester, reward_minor=4)
    html = login(client, requester).get(f"/bundles/{bundle.pk}/").content.decode()
    assert re.search(r"<dd[^>]*data-fee-per-answer>\$0\.01 per answer = 25% of the reward", html)


def test_the_create_form_shows_the_fee_per_answer_without_javascript(client, requester, settings):
    settings.PLATFORM_FEE_PERCENT = 20
    settings.PLATFORM_MIN_FEE_MINOR = 1
    response = login(client, requester).post("/bundles/new/", _create_form(title=""))
    assert response.status_code == 400  # re-rendered with the typed reward
    html = response.content.decode()
    assert "$0.01 fee = 25% of the reward" in html
    assert "Each answer costs $0.05" in html
