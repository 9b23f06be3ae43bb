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
