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
