"""Workers' Connect accounts after onboarding (issue 11, defect 7): deauthorization and
Stripe's requirements (KYC) pause payouts with a reason the worker sees, and Connect events,
signed with the Connect endpoint's own secret, are accepted.

Before the fix `account.application.deauthorized` was stored and ignored (the account stayed
ready and payouts kept going), `requirements` were parsed and dropped, and a Connect event
signed with the second secret was refused with a 400.
"""

import pytest
from django.utils import timezone

from payments import payouts, services
from payments.models import ConnectedAccount, Payout, PayoutStatus, StripeEvent
from tests.payments.factories import earning_worker
from tests.payments.helpers import assert_ledger_balanced

pytestmark = pytest.mark.django_db

URL = "/payments/stripe/webhook/"
CONNECT_SECRET = "whsec_connect_endpoint"


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.PAYOUT_MINIMUM_MINOR = 500
    settings.PAYOUT_RETRY_BASE_SECONDS = 0


@pytest.fixture
def connect_secret(fake_stripe, settings):
    """Stripe signs Connect events with the Connect endpoint's secret (a second one)."""
    fake_stripe.connect_webhook_secret = CONNECT_SECRET
    settings.STRIPE_CONNECT_WEBHOOK_SECRET = CONNECT_SECRET
    return CONNECT_SECRET


def onboarded(fake, amount=2_000):
    w = earning_worker(amount, funding=amount * 2)
    ConnectedAccount.objects.create(
        worker=w,
        stripe_account_id=fake.add_connected_account(),
        transfers_active=True,
        payouts_enabled=True,
        details_submitted=True,
    )
    return w


def deliver(client, fake, event):
    signed = fake.signed_event(event)
    return client.post(
        URL, data=signed.payload, content_type="application/json", headers=signed.headers
    )


def worker_api(api, w):
    api.force_authenticate(w)
    return api


def test_deauthorization_pauses_payouts(fake_stripe, connect_secret, client, api):
    # given: a worker with money, one payout reserved but not yet sent
    w = onboarded(fake_stripe)
    waiting = payouts.payout_request(worker=w, amount_minor=600)  # on-commit send not run
    account = ConnectedAccount.objects.get(worker=w)

    # when: they disconnect their Stripe account from our platform
    event = fake_stripe.deauthorize_account(account.stripe_account_id)
    response = deliver(client, fake_stripe, event)

    # then: the Connect-signed event is accepted and applied
    assert response.status_code == 200, response.content
    assert StripeEvent.objects.get(event_id=event["id"]).status == "processed"
    # no new payout, with the reason
    refused = worker_api(api, w).post("/api/v1/work/payouts/", {"amount": 500}, format="json")
    assert refused.status_code == 409
    assert refused.json()["code"] == "payouts_paused"
    assert "disconnected" in refused.json()["detail"]
    # the reserved payout is not sent: its money goes back to the worker's balance
    waiting = payouts.payout_execute(payout_id=waiting.pk)
    assert waiting.status == PayoutStatus.RETURNED
    assert waiting.failure_code == "payouts_paused"
    assert not fake_stripe.transfers
    assert services.worker_available(worker_id=w.pk, currency="usd") == 2_000
    # the weekly run skips them
    assert payouts.payouts_weekly() == []
    # the worker sees why on the payout-account endpoint
    status = api.get("/api/v1/work/payout-account/").json()
    assert status["ready"] is False
    assert status["deauthorized"] is True
    assert "disconnected" in status["pause_reason"]
    assert_ledger_balanced()


def test_setting_up_again_after_deauthorization_replaces_the_account(
    fake_stripe, connect_secret, client
):
    w = onboarded(fake_stripe)
    old = ConnectedAccount.objects.get(worker=w).stripe_account_id
    deliver(client, fake_stripe, fake_stripe.deauthorize_account(old))
    assert payouts.payout_account_onboard(worker=w).startswith("https://")
    assert payouts.payout_account_onboard(worker=w)  # a retry: the same new account
    account = ConnectedAccount.objects.get(worker=w)
    assert account.stripe_account_id != old
    assert account.deauthorized_at is None
    assert len(fake_stripe.accounts) == 2
    # a late event about the old account changes nothing
    deliver(client, fake_stripe, fake_stripe.deauthorize_account(old))
    assert ConnectedAccount.objects.get(worker=w).deauthorized_at is None
    ready = fake_stripe.set_account_status(
        account.stripe_account_id,
        charges_enabled=True,
        payouts_enabled=True,
        details_submitted=True,
    )
    deliver(client, fake_stripe, ready)
    payout = payouts.payout_execute(payout_id=payouts.payout_request(worker=w).pk)
    assert payout.status == PayoutStatus.PAID
    (transfer,) = fake_stripe.transfers.values()
    assert transfer["destination"] == account.stripe_account_id


def test_requirements_due_pause_payouts_until_stripe_has_them(
    fake_stripe, connect_secret, client, api
):
    w = onboarded(fake_stripe)
    account_id = ConnectedAccount.objects.get(worker=w).stripe_account_id
    fake_stripe.advance_clock(1)
    due = fake_stripe.set_account_requirements(account_id, currently_due=["individual.id_number"])
    assert deliver(client, fake_stripe, due).status_code == 200

    refused = worker_api(api, w).post("/api/v1/work/payouts/", {}, format="json")
    assert refused.status_code == 409
    assert refused.json()["code"] == "payouts_paused"
    assert "individual.id_number" in refused.json()["detail"]
    status = api.get("/api/v1/work/payout-account/").json()
    assert status["requirements_due"] == ["individual.id_number"]
    assert status["ready"] is False

    # Stripe disables the account: the reason shows too
    fake_stripe.advance_clock(1)
    disabled = fake_stripe.set_account_requirements(
        account_id, currently_due=["individual.id_number"], disabled_reason="requirements.past_due"
    )
    deliver(client, fake_stripe, disabled)
    status = api.get("/api/v1/work/payout-account/").json()
    assert status["disabled_reason"] == "requirements.past_due"
    assert "requirements.past_due" in status["pause_reason"]

    # the worker gives Stripe what it asked for: payouts resume
    fake_stripe.advance_clock(1)
    fixed = fake_stripe.set_account_status(
        account_id, charges_enabled=True, payouts_enabled=True, details_submitted=True
    )
    deliver(client, fake_stripe, fixed)
    ok = api.post("/api/v1/work/payouts/", {}, format="json")
    assert ok.status_code == 201, ok.json()
    assert payouts.payout_execute(payout_id=ok.json()["id"]).status == PayoutStatus.PAID
    assert Payout.objects.get(worker=w).amount_minor == 2_000
    assert_ledger_balanced()


def test_either_secret_verifies_and_forgeries_fail(fake_stripe, connect_secret, client):
    w = onboarded(fake_stripe)
    account_id = ConnectedAccount.objects.get(worker=w).stripe_account_id
    connect_event = fake_stripe.deauthorize_account(account_id)
    assert deliver(client, fake_stripe, connect_event).status_code == 200
    # a platform event is still signed with (and verified by) the platform secret
    session = fake_stripe.create_checkout_session(
        {
            "mode": "payment",
            "success_url": "https://x.test/ok",
            "line_items": [
                {"quantity": "1", "price_data": {"currency": "usd", "unit_amount": "700"}}
            ],
        },
        {},
    )
    platform_event = fake_stripe.expire_checkout_session(session["id"])
    assert "account" not in platform_event
    assert deliver(client, fake_stripe, platform_event).status_code == 200
    forged = fake_stripe.forged_event(connect_event)
    response = client.post(
        URL, data=forged.payload, content_type="application/json", headers=forged.headers
    )
    assert response.status_code == 400


def test_earnings_page_shows_why_payouts_are_paused(fake_stripe, connect_secret, client):
    w = onboarded(fake_stripe)
    account = ConnectedAccount.objects.get(worker=w)
    ConnectedAccount.objects.filter(pk=account.pk).update(deauthorized_at=timezone.now())
    client.force_login(w)
    html = client.get("/work/earnings/").content.decode()
    assert 'id="payouts-paused"' in html
    assert "disconnected" in html
    form = html[html.index('id="payout-form"') :]
    assert "disabled" in form[: form.index("</form>")]
