"""Card money coming back (issue 11, defect 1): refunds and disputes of a top-up that was
already spent (a bonus, paid out to the worker), through the fake Stripe's signed webhooks.

Each scenario ends with balanced books, the requester in debt (a receivable, not a refused
write), their live bundles paused, publish/upload/bonus refused with `requester_in_debt`, and
reconciliation clean only once every Stripe balance transaction is booked."""

from __future__ import annotations

import pytest

from marketplace.errors import DomainError
from payments import payouts, services, webhooks
from payments.models import ConnectedAccount, JournalEntry, PayoutStatus, Posting, StripeEvent
from payments.reconciliation import reconcile
from tasks.models import Bundle, BundleStatus
from tests.conftest import client_for
from tests.factories import BundleFactory, ItemFactory, RequesterFactory, WorkerFactory
from tests.payments.card_helpers import URL, deliver, deliver_all, window
from tests.payments.helpers import assert_ledger_balanced

pytestmark = pytest.mark.django_db

TOPUP = 10_000
DISPUTE_FEE = 1_500


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.PAYOUT_RETRY_BASE_SECONDS = 0
    settings.PAYOUT_MINIMUM_MINOR = 500
    settings.PLATFORM_FEE_PERCENT = 20


def debt(requester) -> int:
    return services.requester_debt(requester_id=requester.pk, currency="usd")


def available(requester) -> int:
    return services.requester_available(requester_id=requester.pk, currency="usd")


def spent_topup(client, fake, capture):
    """A requester tops up 10,000 by card, publishes a bundle (escrow 4 x 3 x 6 = 72), a worker
    works on it, the requester pays that worker a bonus of 8,000 (+1,600 fee) and the worker is
    paid out by Stripe. Left: 328 available. Returns (requester, topup, bundle, worker)."""
    requester = RequesterFactory()
    topup = services.topup_create(
        requester=requester, amount_minor=TOPUP, currency="usd", client_token="card-1"
    )
    deliver(client, fake, fake.complete_checkout_session(topup.checkout_session_id), capture)
    topup.refresh_from_db()
    assert available(requester) == TOPUP

    bundle = BundleFactory(requester=requester)
    for _ in range(4):
        ItemFactory(bundle=bundle)
    from tasks import services as task_services

    bundle = task_services.bundle_publish(bundle=bundle, by=requester)
    worker = WorkerFactory()
    work = client_for(worker)
    claimed = work.post(f"/api/v1/work/bundles/{bundle.pk}/claim/")
    assert claimed.status_code == 201, claimed.json()
    with capture(execute=True):
        submitted = work.post(
            f"/api/v1/work/assignments/{claimed.json()['id']}/submit/",
            {"answer": "pos"},
            format="json",
        )
    assert submitted.status_code == 200, submitted.json()

    services.bonus_pay(
        requester=requester,
        worker=worker,
        amount_minor=8_000,
        currency="usd",
        reason="excellent work",
        client_token="bonus-1",
    )
    assert available(requester) == TOPUP - 72 - 9_600 == 328
    ConnectedAccount.objects.create(
        worker=worker, stripe_account_id=fake.add_connected_account(), transfers_active=True
    )
    payout = payouts.payout_execute(payout_id=payouts.payout_request(worker=worker).pk)
    assert payout.status == PayoutStatus.PAID
    return requester, topup, bundle, worker


def assert_blocked_by_debt(requester, bundle):
    """While in debt: no publish, no new uploads, no bonuses, no resume; live bundles paused."""
    bundle.refresh_from_db()
    assert bundle.status == BundleStatus.PAUSED
    assert bundle.events.filter(to_status=BundleStatus.PAUSED, by=None).exists()
    api = client_for(requester)
    draft = BundleFactory(requester=requester)
    ItemFactory(bundle=draft)
    refused = api.post(f"/api/v1/bundles/{draft.pk}/publish/")
    assert refused.status_code == 402, refused.json()
    assert refused.json()["code"] == "requester_in_debt"
    upload = api.generic(
        "POST",
        f"/api/v1/bundles/{draft.pk}/items/",
        "external_id,text\nx1,hello\n",
        content_type="text/csv",
    )
    assert (upload.status_code, upload.json()["code"]) == (402, "requester_in_debt")
    resume = api.post(f"/api/v1/bundles/{bundle.pk}/resume/")
    assert (resume.status_code, resume.json()["code"]) == (402, "requester_in_debt")
    with pytest.raises(DomainError) as err:
        services.bonus_pay(
            requester=requester,
            worker=WorkerFactory(),
            amount_minor=10,
            currency="usd",
            reason="x",
            client_token="while-in-debt",
        )
    assert err.value.code == "requester_in_debt"
    balance = api.get("/api/v1/balance/").json()["balances"]
    [usd] = [b for b in balance if b["currency"] == "usd"]
    assert usd["debt_minor"] == debt(requester) > 0
    assert usd["in_debt_reason"]


def test_reproduction_refund_and_dispute_events_move_money(
    fake_stripe, client, django_capture_on_commit_callbacks
):
    """The issue's reproduction, using nothing but the webhook and the ledger: a spent top-up
    is partly refunded and the rest disputed. Before the fix both events were stored as
    processed with no effect and reconciliation said ok with the money in an "other" bucket."""
    capture = django_capture_on_commit_callbacks
    requester = RequesterFactory()
    topup = services.topup_create(
        requester=requester, amount_minor=TOPUP, currency="usd", client_token="card-1"
    )
    completed = fake_stripe.complete_checkout_session(topup.checkout_session_id)
    deliver(client, fake_stripe, completed, capture)
    services.bonus_pay(
        requester=requester,
        worker=WorkerFactory(),
        amount_minor=8_000,
        currency="usd",
        reason="spent",
        client_token="b",
    )
    intent = fake_stripe.payment_intents[completed["data"]["object"]["payment_intent"]]
    since, until = window()
    refunded = fake_stripe.refund_charge(intent["latest_charge"], 2_000, deliver=False)

    assert not reconcile(since=since, until=until).ok, "an unbooked refund must fail the report"
    deliver(client, fake_stripe, refunded, capture)
    fake_stripe.dispute_charge(intent["latest_charge"], 8_000)  # not delivered yet
    assert not reconcile(since=since, until=until).ok, "an unbooked dispute must fail the report"
    deliver_all(client, fake_stripe, capture)

    clearing = Posting.objects.filter(account__kind="stripe_clearing")
    stripe_net = sum(
        t["net"]
        for t in fake_stripe.balance_transactions.values()
        if t["type"] in ("charge", "refund", "adjustment")
    )
    assert -sum(clearing.values_list("amount_minor", flat=True)) == stripe_net
    kinds = set(JournalEntry.objects.values_list("kind", flat=True))
    assert {"refund", "dispute"} <= kinds
    owed = -sum(
        Posting.objects.filter(
            account__owner=requester, account__kind="requester_debt"
        ).values_list("amount_minor", flat=True)
    )
    assert owed == 2_000 + 8_000 + DISPUTE_FEE - (TOPUP - 9_600)
    assert reconcile(since=since, until=until).ok
    assert_ledger_balanced()


def test_full_refund_of_a_spent_topup_leaves_the_requester_in_debt(
    fake_stripe, client, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    requester, topup, bundle, _ = spent_topup(client, fake_stripe, capture)
    refunded = fake_stripe.refund_charge(topup.charge_id, deliver=False)
    since, until = window()
    before = reconcile(since=since, until=until)
    assert not before.ok  # Stripe refunded; the ledger does not know yet
    assert any(d.get("category") == "refund" for d in before.differences)

    deliver(client, fake_stripe, refunded, capture)

    assert available(requester) == 0
    assert debt(requester) == TOPUP - 328
    entry = JournalEntry.objects.get(kind="refund")
    postings = dict(entry.postings.values_list("account__kind", "amount_minor"))
    assert postings == {
        "requester_available": -328,
        "requester_debt": -(TOPUP - 328),
        "stripe_clearing": TOPUP,
    }
    topup.refresh_from_db()
    assert (topup.status, topup.refunded_minor) == ("refunded", TOPUP)
    assert_blocked_by_debt(requester, bundle)
    deliver(client, fake_stripe, refunded, capture)  # a redelivery moves nothing
    assert JournalEntry.objects.filter(kind="refund").count() == 1
    assert_ledger_balanced()
    report = reconcile(since=since, until=until)
    assert report.ok, report.differences
    assert report.summary["stripe"]["usd:refund"] == -TOPUP


def test_partial_refunds_out_of_order_book_only_the_difference(
    fake_stripe, client, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    requester, topup, bundle, _ = spent_topup(client, fake_stripe, capture)
    first = fake_stripe.refund_charge(topup.charge_id, 300, deliver=False)
    second = fake_stripe.refund_charge(topup.charge_id, 4_000, deliver=False)

    deliver(client, fake_stripe, first, capture)
    assert (available(requester), debt(requester)) == (28, 0)
    bundle.refresh_from_db()
    assert bundle.status == BundleStatus.PUBLISHED  # no debt, nothing paused
    deliver(client, fake_stripe, second, capture)
    deliver(client, fake_stripe, first, capture)  # late duplicate of the smaller total

    assert (available(requester), debt(requester)) == (0, 4_300 - 328)
    topup.refresh_from_db()
    assert (topup.status, topup.refunded_minor) == ("succeeded", 4_300)
    assert (
        sum(
            JournalEntry.objects.get(pk=pk)
            .postings.get(account__kind="stripe_clearing")
            .amount_minor
            for pk in JournalEntry.objects.filter(kind="refund").values_list("pk", flat=True)
        )
        == 4_300
    )
    assert_blocked_by_debt(requester, bundle)
    assert_ledger_balanced()
    assert reconcile(since=window()[0], until=window()[1]).ok


def test_disputes_opened_then_won_or_lost(fake_stripe, client, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    requester, topup, bundle, _ = spent_topup(client, fake_stripe, capture)
    other, other_topup, _, _ = spent_topup(client, fake_stripe, capture)
    since, until = window()

    created = fake_stripe.dispute_charge(topup.charge_id, deliver=False)
    fake_stripe.dispute_charge(other_topup.charge_id, deliver=False)
    assert not reconcile(since=since, until=until).ok
    deliver_all(client, fake_stripe, capture)

    # opened: the amount and Stripe's dispute fee are withdrawn from the requester
    for who in (requester, other):
        assert (available(who), debt(who)) == (0, TOPUP + DISPUTE_FEE - 328)
    topup.refresh_from_db()
    assert topup.status == "disputed"
    dispute = topup.disputes.get()
    assert (dispute.stripe_dispute_id, dispute.status) == (
        created["data"]["object"]["id"],
        "needs_response",
    )
    assert_blocked_by_debt(requester, bundle)
    assert_ledger_balanced()
    assert reconcile(since=since, until=until).ok

    # won: the amount comes back and pays the debt first; lost: final
    fake_stripe.close_dispute(dispute.stripe_dispute_id, won=True, deliver=False)
    fake_stripe.close_dispute(
        other_topup.disputes.get().stripe_dispute_id, won=False, deliver=False
    )
    deliver_all(client, fake_stripe, capture)

    assert (available(requester), debt(requester)) == (0, DISPUTE_FEE - 328)
    assert (available(other), debt(other)) == (0, TOPUP + DISPUTE_FEE - 328)
    dispute.refresh_from_db()
    assert dispute.status == "won"
    assert other_topup.disputes.get().status == "lost"
    topup.refresh_from_db()
    assert topup.status == "succeeded"
    assert_ledger_balanced()
    report = reconcile(since=since, until=until)
    assert report.ok, report.differences
    assert report.summary["stripe"]["usd:dispute"] == -TOPUP - TOPUP + TOPUP
    # replays of every dispute event move nothing
    entries = JournalEntry.objects.count()
    for stored in StripeEvent.objects.filter(type__startswith="charge.dispute"):
        webhooks.event_process(event_id=stored.pk, force=True)
    assert JournalEntry.objects.count() == entries


def test_a_new_topup_or_credit_pays_the_debt_first(
    fake_stripe, client, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    requester, topup, bundle, _ = spent_topup(client, fake_stripe, capture)
    deliver(client, fake_stripe, fake_stripe.refund_charge(topup.charge_id, deliver=False), capture)
    owed = debt(requester)

    services.balance_credit(
        requester=requester, amount_minor=1_000, currency="usd", reference="INV-9", by=None
    )
    assert (available(requester), debt(requester)) == (0, owed - 1_000)

    again = services.topup_create(
        requester=requester, amount_minor=TOPUP, currency="usd", client_token="card-2"
    )
    deliver(
        client,
        fake_stripe,
        fake_stripe.complete_checkout_session(again.checkout_session_id),
        capture,
    )
    assert (available(requester), debt(requester)) == (TOPUP - (owed - 1_000), 0)
    bundle.refresh_from_db()
    assert bundle.status == BundleStatus.PAUSED  # resuming is the requester's choice
    resumed = client_for(requester).post(f"/api/v1/bundles/{bundle.pk}/resume/")
    assert resumed.status_code == 200, resumed.json()
    assert_ledger_balanced()
    assert reconcile(since=window()[0], until=window()[1]).ok


def test_the_beat_sweep_pauses_bundles_of_requesters_in_debt(fake_stripe, client):
    """If the on-commit trigger was lost (a worker died), the periodic sweep pauses them."""
    requester, topup, bundle, _ = spent_topup(client, fake_stripe, _no_capture)
    charge_id = fake_stripe.payment_intents[topup.payment_intent_id]["latest_charge"]
    signed = fake_stripe.signed_event(fake_stripe.refund_charge(charge_id, deliver=False))
    client.post(URL, data=signed.payload, content_type="application/json", headers=signed.headers)
    bundle.refresh_from_db()
    assert bundle.status == BundleStatus.PUBLISHED  # nothing ran on commit in this test
    from tasks.tasks import pause_bundles_of_indebted_requesters_task

    assert pause_bundles_of_indebted_requesters_task.delay().get() == 1
    bundle.refresh_from_db()
    assert bundle.status == BundleStatus.PAUSED
    assert pause_bundles_of_indebted_requesters_task.delay().get() == 0
    assert Bundle.objects.filter(requester=requester, status=BundleStatus.PUBLISHED).count() == 0


class _NoCapture:
    """Stands in for django_capture_on_commit_callbacks where on-commit work must not run."""

    def __call__(self, execute: bool = False):
        return self

    def __enter__(self):
        return []

    def __exit__(self, *exc):
        return False


_no_capture = _NoCapture()


def test_a_refund_delivered_before_its_topups_credit_is_replayed_after_it(
    fake_stripe, client, django_capture_on_commit_callbacks
):
    """Stripe does not promise order: the refund finds its top-up by the charge's metadata,
    fails while the credit is not booked, and the replay job books it afterwards."""
    requester = RequesterFactory()
    topup = services.topup_create(
        requester=requester, amount_minor=TOPUP, currency="usd", client_token="card-1"
    )
    completed = fake_stripe.complete_checkout_session(topup.checkout_session_id, deliver=False)
    intent = fake_stripe.payment_intents[completed["data"]["object"]["payment_intent"]]
    refunded = fake_stripe.refund_charge(intent["latest_charge"], 2_500, deliver=False)
    signed = fake_stripe.signed_event(refunded)
    client.post(URL, data=signed.payload, content_type="application/json", headers=signed.headers)
    stored = StripeEvent.objects.get(event_id=refunded["id"])
    assert stored.status == "failed"
    assert "not credited yet" in stored.error

    deliver(client, fake_stripe, completed, django_capture_on_commit_callbacks)
    assert webhooks.events_replay_due() == 1

    stored.refresh_from_db()
    assert stored.status == "processed"
    assert (available(requester), debt(requester)) == (TOPUP - 2_500, 0)
    assert_ledger_balanced()
    assert reconcile(since=window()[0], until=window()[1]).ok
