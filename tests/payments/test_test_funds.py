"""Local funding without Stripe (issue 11, "Also"): in development (DEBUG, Stripe not
configured) a requester adds test funds on the balance page; the entry is its own kind and
labelled test money everywhere; production settings refuse it in the service itself."""

from __future__ import annotations

import pytest

from marketplace.errors import DomainError
from payments import services
from payments.models import JournalEntry
from tests.conftest import client_for
from tests.factories import RequesterFactory, WorkerFactory
from tests.payments.helpers import assert_ledger_balanced

pytestmark = pytest.mark.django_db


@pytest.fixture
def dev(settings):
    settings.DEBUG = True
    settings.PRODUCTION = False
    settings.STRIPE_SECRET_KEY = ""
    return settings


def test_balance_page_offers_test_funds_in_development(dev, client):
    requester = RequesterFactory()
    client.force_login(requester)
    page = client.get("/balance/").content.decode()
    assert "Add test funds" in page
    assert "not real money" in page.lower()

    response = client.post(
        "/balance/test-funds/", {"amount": "50.00", "currency": "usd", "client_token": "tf-1"}
    )
    assert response.status_code == 302
    again = client.post(  # a double click is one credit
        "/balance/test-funds/", {"amount": "50.00", "currency": "usd", "client_token": "tf-1"}
    )
    assert again.status_code == 302
    assert services.requester_available(requester_id=requester.pk, currency="usd") == 5_000
    entry = JournalEntry.objects.get(kind="test_credit")
    assert "test money" in entry.get_kind_display().lower()
    assert "test money" in entry.memo.lower()
    kinds = dict(entry.postings.values_list("account__kind", "amount_minor"))
    assert kinds == {"test_funds_clearing": -5_000, "requester_available": 5_000}
    page = client.get("/balance/").content.decode()
    assert "Test money" in page  # the statement line says what it is
    statement = client_for(requester).get("/api/v1/balance/").json()
    assert statement["results"][0]["kind"] == "test_credit"
    assert_ledger_balanced()


@pytest.mark.parametrize(
    ("debug", "production", "stripe_key", "code"),
    [
        (False, False, "", "test_funds_unavailable"),
        (True, True, "", "test_funds_unavailable"),
        (True, False, "sk_test_x", "test_funds_unavailable"),
    ],
)
def test_the_service_refuses_test_funds_outside_development(
    settings, debug, production, stripe_key, code
):
    settings.DEBUG, settings.PRODUCTION, settings.STRIPE_SECRET_KEY = debug, production, stripe_key
    with pytest.raises(DomainError) as err:
        services.balance_add_test_funds(
            requester=RequesterFactory(), amount_minor=1_000, currency="usd", client_token="x"
        )
    assert err.value.code == code
    assert not JournalEntry.objects.exists()


def test_no_test_funds_button_or_endpoint_when_not_in_development(settings, client):
    settings.DEBUG = False
    requester = RequesterFactory()
    client.force_login(requester)
    assert "Add test funds" not in client.get("/balance/").content.decode()
    response = client.post(
        "/balance/test-funds/", {"amount": "50.00", "currency": "usd", "client_token": "tf-1"}
    )
    assert response.status_code == 404
    assert services.requester_available(requester_id=requester.pk, currency="usd") == 0


def test_test_funds_are_for_requesters(dev, client):
    client.force_login(WorkerFactory())
    response = client.post(
        "/balance/test-funds/", {"amount": "5.00", "currency": "usd", "client_token": "w"}
    )
    assert response.status_code == 403


def test_a_refused_amount_shows_next_to_the_test_funds_form(dev, client):
    requester = RequesterFactory()
    client.force_login(requester)
    response = client.post(
        "/balance/test-funds/", {"amount": "0", "currency": "usd", "client_token": "tf-2"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="test-funds"' in html
    assert 'class="field has-error"' in html
    assert services.requester_available(requester_id=requester.pk, currency="usd") == 0
