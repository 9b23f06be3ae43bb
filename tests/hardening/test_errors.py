"""Issue 16, findings 5 and 6: refused input is a JSON 4xx with a code, never a 500 or HTML."""

import pytest
from django.test import override_settings

from accounts.models import Qualification
from payments.models import LedgerAccount
from tests.conftest import client_for
from tests.factories import BundleFactory, WorkerFactory

pytestmark = pytest.mark.django_db

BUNDLE = {
    "title": "t",
    "instructions": "i",
    "question": {"type": "single_choice", "choices": ["a", "b"]},
    "reward": 5,
    "overlap": 1,
}


@pytest.mark.parametrize("reward", [2**31, 2**31 + 5, 10**20])
def test_a_huge_reward_is_a_400(requester, reward):
    response = client_for(requester).post("/api/v1/bundles/", {**BUNDLE, "reward": reward})
    assert response.status_code == 400 and response.json()["code"] == "invalid"


@pytest.mark.parametrize(
    "field", ["time_limit_seconds", "auto_approve_after_seconds", "min_overlap", "max_overlap",
              "min_gold_answers", "overlap"],
)  # fmt: skip
def test_every_integer_field_is_bounded(requester, field):
    response = client_for(requester).post("/api/v1/bundles/", {**BUNDLE, field: 2**40})
    assert response.status_code == 400 and response.json()["code"] == "invalid"


@pytest.mark.parametrize("value", ["2026-01-01T00:00:00+23:59", "2026-01-01T00:00:00 23:59",
                                   "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-10:00",
                                   "not-a-date", "9999-99-99"])  # fmt: skip
def test_a_bad_submitted_after_is_a_400_on_both_assignment_lists(requester, value):
    bundle = BundleFactory(requester=requester)
    client = client_for(requester)
    for url in (f"/api/v1/bundles/{bundle.pk}/assignments/", "/api/v1/assignments/"):
        response = client.get(url, {"submitted_after": value})
        assert response.status_code == 400, (url, response.status_code)
        assert response.json()["code"] == "invalid"
    worker_list = client_for(WorkerFactory()).get(
        "/api/v1/work/assignments/", {"submitted_after": value}
    )
    assert worker_list.status_code == 400 and worker_list.json()["code"] == "invalid"


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_a_body_over_the_limit_is_a_json_400(requester):
    client = client_for(requester)
    response = client.post(
        "/api/v1/bundles/", {**BUNDLE, "instructions": "x" * 5000}, format="json"
    )
    assert response.status_code in (400, 413)
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "request_too_large"


def test_an_unknown_currency_is_refused_and_leaves_no_ledger_account(requester):
    before = LedgerAccount.objects.count()
    response = client_for(requester).post("/api/v1/bundles/", {**BUNDLE, "currency": "zzz"})
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    assert "currency" in response.json()["errors"]
    assert LedgerAccount.objects.count() == before


@override_settings(ALLOWED_CURRENCIES=["usd", "eur"])
def test_a_configured_currency_is_accepted(requester):
    response = client_for(requester).post("/api/v1/bundles/", {**BUNDLE, "currency": "eur"})
    assert response.status_code == 201, response.json()


def test_requirements_naming_an_unknown_qualification_are_refused(requester):
    response = client_for(requester).post(
        "/api/v1/bundles/",
        {**BUNDLE, "requirements": [{"qualification": "no-such-thing", "comparator": "Exists"}]},
    )
    assert response.status_code == 400, response.json()
    assert response.json()["code"] in ("invalid", "unknown_qualification")


def test_requirements_naming_an_existing_qualification_are_accepted(requester):
    Qualification.objects.create(owner=requester, name="exam")
    response = client_for(requester).post(
        "/api/v1/bundles/",
        {**BUNDLE, "requirements": [{"qualification": "exam", "comparator": "Exists"}]},
    )
    assert response.status_code == 201, response.json()


@pytest.mark.parametrize(
    "path", ["/api/v1/bundles/0.5/", "/api/v1/bundles/1.5/cancel/", "/api/v1/no-such-thing/"]
)
def test_an_api_url_no_route_matches_is_a_json_404(requester, path):
    """Found by schemathesis: an id with a dot matches no router pattern, and Django answered
    with its HTML 404 where the schema promises JSON."""
    response = client_for(requester).post(path, {}, format="json")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"code": "not_found", "detail": "Not found."}


def test_a_page_no_route_matches_is_still_the_html_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    "body", [[None, None], [], "x", {"event_id": True}, {"event_id": 2**70}, {"event_id": -1}]
)
def test_reversing_a_rule_event_with_any_json_is_a_404_not_a_500(requester, body):
    """Found by schemathesis: a JSON list as the body was a 500 (`list` has no `.get`)."""
    bundle = BundleFactory(requester=requester)
    response = client_for(requester).post(
        f"/api/v1/bundles/{bundle.pk}/rule-events/", body, format="json"
    )
    assert response.status_code == 404
    assert response.json()["code"] == "unknown_event"
