"""Money in the web product: the worker's payout request and payout-account setup on the
earnings page, and the requester's statement CSV on the balance page."""

from __future__ import annotations

import csv
import io

import pytest

from payments import services
from payments.models import ConnectedAccount, Payout, PayoutMethod
from tests.factories import RequesterFactory, WorkerFactory, fund

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _minimum(settings):
    settings.PAYOUT_MINIMUM_MINOR = 500


@pytest.fixture
def earner():
    """A worker with $20.00 available (paid as a bonus)."""
    worker = WorkerFactory()
    requester = RequesterFactory()
    fund(requester, amount_minor=10_000)
    services.bonus_pay(
        requester=requester,
        worker=worker,
        amount_minor=2_000,
        currency="usd",
        reason="earned",
        client_token=f"earn-{worker.pk}",
    )
    return worker


def test_earnings_page_shows_the_payout_form_with_the_minimum(client, earner):
    client.force_login(earner)
    html = client.get("/work/earnings/").content.decode()
    assert 'action="/work/earnings/payout/"' in html
    assert "Minimum payout: <strong>$5.00</strong>" in html
    assert "manual bank-transfer batch" in html  # Stripe is not configured here
    assert "Set up payouts" not in html


def test_requesting_a_payout_joins_the_manual_batch(client, earner):
    client.force_login(earner)
    response = client.post(
        "/work/earnings/payout/", {"amount": "12.50", "currency": "usd", "request_key": "k1"}
    )
    assert response.status_code == 302
    payout = Payout.objects.get(worker=earner)
    assert payout.amount_minor == 1250
    assert payout.method == PayoutMethod.MANUAL
    assert services.worker_available(worker_id=earner.pk, currency="usd") == 750
    # the same form posted twice (double click) is one payout
    client.post(
        "/work/earnings/payout/", {"amount": "12.50", "currency": "usd", "request_key": "k1"}
    )
    assert Payout.objects.filter(worker=earner).count() == 1
    html = client.get("/work/earnings/").content.decode()
    assert "$12.50" in html


@pytest.mark.parametrize("amount", ["25.00", "2.00"])
def test_payout_errors_show_next_to_the_amount(client, earner, amount):
    client.force_login(earner)
    response = client.post(
        "/work/earnings/payout/", {"amount": amount, "currency": "usd", "request_key": "k2"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    field = html[html.index('id="payout-form"') :]
    field = field[: field.index("</form>")]
    assert 'class="field has-error"' in field
    assert "Enter between $5.00 (the minimum) and $20.00 (your available balance)." in field
    assert not Payout.objects.filter(worker=earner).exists()


def test_payout_form_needs_an_amount(client, earner):
    client.force_login(earner)
    response = client.post("/work/earnings/payout/", {"currency": "usd", "request_key": "k3"})
    assert response.status_code == 400
    assert 'class="field has-error"' in response.content.decode()


def test_with_stripe_the_setup_button_redirects_to_the_onboarding_link(client, earner, monkeypatch):
    monkeypatch.setattr("payments.stripe_gateway.is_configured", lambda: True)
    called = {}

    def onboard(*, worker):
        called["worker"] = worker.pk
        return "https://connect.stripe.test/setup/abc"

    monkeypatch.setattr("payments.payouts.payout_account_onboard", onboard)
    client.force_login(earner)
    html = client.get("/work/earnings/").content.decode()
    assert "Set up payouts" in html
    assert "disabled" in html[html.index('id="payout-form"') :]  # no account yet
    response = client.post("/work/earnings/payout-account/")
    assert response.status_code == 302
    assert response["Location"] == "https://connect.stripe.test/setup/abc"
    assert called["worker"] == earner.pk


def test_with_stripe_and_a_ready_account_the_payout_is_a_transfer(client, earner, monkeypatch):
    monkeypatch.setattr("payments.stripe_gateway.is_configured", lambda: True)
    ConnectedAccount.objects.create(
        worker=earner, stripe_account_id="acct_x", transfers_active=True
    )
    client.force_login(earner)
    assert "Update payout details" in client.get("/work/earnings/").content.decode()
    response = client.post(
        "/work/earnings/payout/", {"amount": "10.00", "currency": "usd", "request_key": "k4"}
    )
    assert response.status_code == 302
    assert Payout.objects.get(worker=earner).method == PayoutMethod.STRIPE


def test_without_stripe_setup_explains_bank_transfer(client, earner):
    client.force_login(earner)
    response = client.post("/work/earnings/payout-account/", follow=True)
    assert b"bank transfer" in response.content


def test_a_requester_cannot_request_payouts(client):
    client.force_login(RequesterFactory())
    response = client.post(
        "/work/earnings/payout/", {"amount": "10.00", "currency": "usd", "request_key": "k5"}
    )
    assert response.status_code == 403
    assert client.post("/work/earnings/payout-account/").status_code == 403


def test_balance_page_links_the_statement_csv_which_serves_the_session(client):
    requester = RequesterFactory()
    fund(requester, amount_minor=12_345)
    client.force_login(requester)
    html = client.get("/balance/").content.decode()
    assert 'href="/api/v1/balance/?format=csv"' in html
    response = client.get("/api/v1/balance/?format=csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [int(r["amount"]) for r in rows] == [12_345]


def test_the_statement_csv_is_not_for_workers(client):
    client.force_login(WorkerFactory())
    assert client.get("/api/v1/balance/?format=csv").status_code == 403
