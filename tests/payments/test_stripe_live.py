"""The same flows against Stripe's real test mode; skipped unless STRIPE_TEST_SECRET_KEY is set
(CI with network and a test key). Nothing here can move real money: test keys only."""

import os
import uuid

import pytest

from payments import payouts, services, stripe_gateway
from payments.models import ConnectedAccount, PayoutStatus
from tests.factories import RequesterFactory
from tests.payments.factories import funded_requester, worker

KEY = os.environ.get("STRIPE_TEST_SECRET_KEY", "")

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not KEY.startswith("sk_test_"), reason="needs STRIPE_TEST_SECRET_KEY"),
]


@pytest.fixture(autouse=True)
def _live_stripe(settings):
    settings.PAYOUT_MINIMUM_MINOR = 100
    stripe_gateway.configure(api_key=KEY, api_base=None, timeout=30, max_network_retries=2)
    yield
    stripe_gateway.reset_configuration()


def test_topup_checkout_session_is_created_and_not_credited():
    requester = RequesterFactory()
    topup = services.topup_create(
        requester=requester, amount_minor=500, currency="usd", client_token=uuid.uuid4().hex
    )
    assert topup.checkout_url.startswith("https://checkout.stripe.com/")
    assert services.requester_available(requester_id=requester.pk, currency="usd") == 0


def test_onboarding_link_and_unready_account_payout_is_refused_then_returned():
    w = worker()
    services.bonus_pay(
        requester=funded_requester(1_000),
        worker=w,
        amount_minor=200,
        currency="usd",
        reason="live test",
        client_token="live",
    )
    assert payouts.payout_account_onboard(worker=w).startswith("https://connect.stripe.com/")
    # force our side "ready" to see Stripe itself refuse a transfer to an unonboarded account
    ConnectedAccount.objects.filter(worker=w).update(transfers_active=True)
    payout = payouts.payout_request(worker=w, request_key=f"live-{uuid.uuid4().hex}")
    payout = payouts.payout_execute(payout_id=payout.pk)
    assert payout.status == PayoutStatus.RETURNED
    assert services.worker_available(worker_id=w.pk, currency="usd") == 200
