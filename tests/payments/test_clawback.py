"""Clawback (issue 11, defect 8): a transfer reversal after fraud must not become withdrawable
again. An admin holds the worker's money (payouts stop, what is available and what reversals
bring back lands in `worker_held`), then releases it or writes it off; each action is a
ledger entry and an audit row.

Before the fix a reversal always credited the worker's available balance and the worker could
ask for the same money again at once.
"""

import pytest
from django.urls import reverse

from marketplace.errors import DomainError
from payments import payouts, services
from payments.models import (
    AccountKind,
    ConnectedAccount,
    HoldAction,
    Payout,
    PayoutStatus,
    WorkerHold,
    WorkerHoldEvent,
)
from tests.factories import UserFactory
from tests.payments.factories import earning_worker
from tests.payments.helpers import assert_ledger_balanced

pytestmark = pytest.mark.django_db

URL = "/payments/stripe/webhook/"


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.PAYOUT_MINIMUM_MINOR = 500
    settings.PAYOUT_RETRY_BASE_SECONDS = 0


@pytest.fixture
def admin_user(db):
    return UserFactory(is_staff=True, is_superuser=True)


def onboarded(fake, amount=2_000):
    w = earning_worker(amount, funding=amount * 2)
    ConnectedAccount.objects.create(
        worker=w, stripe_account_id=fake.add_connected_account(), transfers_active=True
    )
    return w


def held(w):
    account = services.account_get(kind=AccountKind.WORKER_HELD, currency="usd", owner_id=w.pk)
    return services.account_balance(account)


def clawbacks():
    account = services.account_get(kind=AccountKind.PLATFORM_CLAWBACK, currency="usd")
    return services.account_balance(account)


def available(w):
    return services.worker_available(worker_id=w.pk, currency="usd")


def deliver(client, fake, event):
    signed = fake.signed_event(event)
    response = client.post(
        URL, data=signed.payload, content_type="application/json", headers=signed.headers
    )
    assert response.status_code == 200, response.content
    return response


def test_reversal_after_fraud_is_held_then_written_off(fake_stripe, client, admin_user):
    # given: a worker paid out 2,000 that turns out to come from a stolen card
    w = onboarded(fake_stripe)
    paid = payouts.payout_execute(payout_id=payouts.payout_request(worker=w).pk)
    assert paid.status == PayoutStatus.PAID

    # when: an admin holds the worker's money and Stripe reverses the transfer
    payouts.worker_hold(worker=w, reason="bonus paid from a stolen card", by=admin_user)
    deliver(client, fake_stripe, fake_stripe.reverse_transfer(paid.transfer_id))

    # then: the money is back on our side, the worker's but not withdrawable
    assert (available(w), held(w)) == (0, 2_000)
    with pytest.raises(DomainError) as refused:
        payouts.payout_request(worker=w, amount_minor=500)
    assert refused.value.code == "payouts_on_hold"
    assert_ledger_balanced()

    # and: the admin writes it off: the platform keeps it against the fraud loss
    payouts.worker_hold_write_off(worker=w, reason="chargeback lost", by=admin_user)
    assert (available(w), held(w), clawbacks()) == (0, 0, 2_000)
    assert WorkerHold.objects.get(worker=w).active  # still held: release is explicit
    trail = list(
        WorkerHoldEvent.objects.filter(worker=w)
        .order_by("pk")
        .values_list("action", "amount_minor", "created_by_id")
    )
    assert trail == [
        (HoldAction.HOLD, 0, admin_user.pk),
        (HoldAction.REVERSAL_HELD, 2_000, None),
        (HoldAction.WRITE_OFF, 2_000, admin_user.pk),
    ]
    assert_ledger_balanced()


def test_reversal_without_a_hold_still_credits_available(fake_stripe, client):
    w = onboarded(fake_stripe)
    paid = payouts.payout_execute(payout_id=payouts.payout_request(worker=w).pk)
    deliver(client, fake_stripe, fake_stripe.reverse_transfer(paid.transfer_id, 500))
    assert (available(w), held(w)) == (500, 0)
    assert not WorkerHoldEvent.objects.exists()
    assert_ledger_balanced()


def test_hold_sweeps_what_is_available_and_release_gives_it_back(settings, admin_user):
    settings.STRIPE_SECRET_KEY = ""  # manual payouts: a hold stops them too
    w = earning_worker(1_500)
    events = payouts.worker_hold(worker=w, reason="under review", by=admin_user)
    assert [(e.action, e.amount_minor, e.currency) for e in events] == [
        (HoldAction.HOLD, 1_500, "usd")
    ]
    assert (available(w), held(w)) == (0, 1_500)
    with pytest.raises(DomainError) as refused:
        payouts.payout_request(worker=w)
    assert refused.value.code == "payouts_on_hold"
    assert payouts.payouts_weekly() == []

    payouts.worker_hold_release(worker=w, reason="cleared", by=admin_user)
    assert (available(w), held(w)) == (1_500, 0)
    assert not WorkerHold.objects.get(worker=w).active
    assert payouts.payout_request(worker=w).amount_minor == 1_500
    with pytest.raises(DomainError) as nothing:
        payouts.worker_hold_release(worker=w, reason="again", by=admin_user)
    assert nothing.value.code == "not_on_hold"
    with pytest.raises(DomainError) as nothing:
        payouts.worker_hold_write_off(worker=w, reason="x", by=admin_user)
    assert nothing.value.code == "nothing_held"
    assert_ledger_balanced()


def test_a_hold_stops_a_transfer_not_yet_sent(fake_stripe, admin_user):
    w = onboarded(fake_stripe)
    waiting = payouts.payout_request(worker=w)  # reserved; the on-commit send did not run
    payouts.worker_hold(worker=w, reason="fraud report", by=admin_user)
    waiting = payouts.payout_execute(payout_id=waiting.pk)
    assert waiting.status == PayoutStatus.RETURNED
    assert waiting.failure_code == "payouts_paused"
    assert not fake_stripe.transfers
    # back on the worker's side; holding again sweeps it into held
    payouts.worker_hold(worker=w, reason="sweep the returned payout", by=admin_user)
    assert (available(w), held(w)) == (0, 2_000)
    assert_ledger_balanced()


def test_a_reason_is_required(admin_user):
    w = earning_worker(600)
    with pytest.raises(DomainError) as err:
        payouts.worker_hold(worker=w, reason="  ", by=admin_user)
    assert err.value.code == "reason_required"
    assert not WorkerHold.objects.exists()


def test_worker_sees_held_money_and_why_payouts_stopped(client, api, settings, admin_user):
    settings.STRIPE_SECRET_KEY = ""
    w = earning_worker(1_500)
    payouts.worker_hold(worker=w, reason="internal note", by=admin_user)
    api.force_authenticate(w)
    earnings = api.get("/api/v1/work/earnings/").json()
    assert earnings["balances"] == [
        {"currency": "usd", "available": 0, "in_flight": 0, "held": 1_500, "paid_out": 0}
    ]
    account = api.get("/api/v1/work/payout-account/").json()
    assert account["on_hold"] is True
    assert "on hold" in account["pause_reason"]
    assert "internal note" not in account["pause_reason"]
    client.force_login(w)
    html = client.get("/work/earnings/").content.decode()
    assert "Held for review" in html
    assert 'id="payouts-paused"' in html
    form = html[html.index('id="payout-form"') :]
    assert "disabled" in form[: form.index("</form>")]


def test_admin_holds_releases_and_writes_off_with_an_audit_row(client, admin_user):
    w = earning_worker(800)
    client.force_login(admin_user)
    url = reverse("admin:payments_workerhold_act")
    assert client.get(url).status_code == 200
    response = client.post(url, {"email": w.email, "action": "hold", "reason": "chargeback"})
    assert response.status_code == 302
    assert held(w) == 800
    response = client.post(url, {"email": w.email, "action": "write_off", "reason": "lost"})
    assert response.status_code == 302
    assert clawbacks() == 800
    response = client.post(url, {"email": w.email, "action": "release", "reason": "closed"})
    assert response.status_code == 302
    events = WorkerHoldEvent.objects.filter(worker=w).order_by("pk")
    assert [(e.action, e.amount_minor, e.created_by_id, e.reason) for e in events] == [
        (HoldAction.HOLD, 800, admin_user.pk, "chargeback"),
        (HoldAction.WRITE_OFF, 800, admin_user.pk, "lost"),
        (HoldAction.RELEASE, 0, admin_user.pk, "closed"),
    ]
    for model in ("workerhold", "workerholdevent", "payoutdetails"):
        assert client.get(reverse(f"admin:payments_{model}_changelist")).status_code == 200
        assert client.get(reverse(f"admin:payments_{model}_add")).status_code == 403
    refused = client.post(url, {"email": "nobody@example.com", "action": "hold", "reason": "x"})
    assert refused.status_code == 200
    assert b"No worker with this email" in refused.content
    assert_ledger_balanced()


def test_needs_attention_payouts_are_named_in_admin_and_resolved(
    fake_stripe, client, admin_user, settings
):
    settings.PAYOUT_RETRY_GIVE_UP_SECONDS = 0  # the first transient failure gives up
    w = onboarded(fake_stripe)
    payout = payouts.payout_request(worker=w)
    fake_stripe.inject("POST /v1/transfers", "http_500")
    assert payouts.payout_execute(payout_id=payout.pk).status == PayoutStatus.NEEDS_ATTENTION
    client.force_login(admin_user)
    page = client.get(reverse("admin:payments_payout_changelist"), follow=True)
    assert b"1 payout(s) need attention" in page.content
    response = client.post(
        reverse("admin:payments_payout_changelist"),
        {"action": "resolve_return", "_selected_action": [payout.pk]},
    )
    assert response.status_code == 302
    payout = Payout.objects.get(pk=payout.pk)
    assert payout.status == PayoutStatus.RETURNED
    assert available(w) == 2_000
    assert_ledger_balanced()
