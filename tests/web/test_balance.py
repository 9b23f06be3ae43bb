"""The requester's balance page: balance, statement, and the top-up form's honest states."""

from __future__ import annotations

import pytest

from tests.factories import RequesterFactory, WorkerFactory, fund

pytestmark = pytest.mark.django_db


def test_balance_shows_the_credit_in_the_statement(client):
    requester = RequesterFactory()
    fund(requester, amount_minor=12_345)
    client.force_login(requester)
    response = client.get("/balance/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<title>Balance" in html
    assert "$123.45" in html
    assert "ask an administrator to credit" in html.lower()  # Stripe is not configured here


def test_balance_is_for_requesters(client):
    client.force_login(WorkerFactory())
    assert client.get("/balance/").status_code == 403


def test_a_refused_topup_shows_the_error_next_to_the_amount(client, monkeypatch):
    from marketplace.errors import DomainError

    def refuse(**kwargs):
        raise DomainError("Stripe is not answering; try again.", code="stripe_unavailable")

    monkeypatch.setattr("payments.stripe_gateway.is_configured", lambda: True)
    monkeypatch.setattr("payments.services.topup_create", refuse)
    client.force_login(RequesterFactory())
    response = client.post(
        "/balance/", {"amount": "10.00", "currency": "usd", "client_token": "t-1"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'class="field has-error"' in html
    assert "Stripe is not answering; try again." in html


def test_a_requester_in_debt_sees_what_they_owe_and_why(client):
    """A card refund of money already spent: the page says how much is owed and why."""
    from payments import services
    from payments.models import TopUp

    requester = RequesterFactory()
    topup = TopUp.objects.create(
        requester=requester, amount_minor=2_000, currency="usd", client_token="c"
    )
    services.topup_complete(
        session={
            "id": "cs_1",
            "payment_status": "paid",
            "client_reference_id": str(topup.pk),
            "amount_total": 2_000,
            "currency": "usd",
            "payment_intent": "pi_1",
        }
    )
    services.bonus_pay(
        requester=requester,
        worker=WorkerFactory(),
        amount_minor=1_000,
        currency="usd",
        reason="x",
        client_token="b",
    )
    services.charge_refunded(
        charge={"id": "ch_1", "payment_intent": "pi_1", "amount_refunded": 2_000}
    )
    client.force_login(requester)
    html = client.get("/balance/").content.decode()
    assert "USD owed" in html
    assert "$12.00" in html  # 2,000 refunded - 800 left after the bonus and its fee
    assert "card refund of top-up" in html
    assert "Card refund" in html  # the statement line
