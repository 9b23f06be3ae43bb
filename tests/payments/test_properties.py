"""Property: whatever sequence of top-ups (admin credit and Stripe webhook), publishes,
approvals, rejections, bonuses, cancellations, payouts, card refunds (full, partial, delivered
twice) and disputes (left open, won, lost) happens, every entry balances, each currency sums to
zero, no available balance is negative, no debt is positive, a requester's available balance
and debt follow the shadow model (refunds and disputes take the balance first and the rest
becomes debt; every credit pays the debt first), each worker's balance plus what was paid out
equals the rewards and bonuses they were approved for, and reconciliation with Stripe is clean
once every charge's fee is booked."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import timedelta

import hypothesis
import pytest
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace.errors import DomainError
from payments import payouts, services
from payments.fees import fee_for
from payments.models import ConnectedAccount, Payout, PayoutStatus
from payments.reconciliation import reconcile
from tests.factories import RequesterFactory, WorkerFactory
from tests.fakestripe.server import FakeStripe
from tests.payments.helpers import assert_ledger_balanced

pytestmark = pytest.mark.django_db

REQUESTERS, WORKERS = 2, 3
#: Unique across examples: bundle ids, references and tokens must never repeat.
ids = itertools.count(1)

amount = st.integers(min_value=1, max_value=3_000)
topup = st.tuples(
    st.just("topup"), st.integers(0, REQUESTERS - 1), st.integers(100, 3_000), st.booleans()
)
card_money_back = st.one_of(
    st.tuples(st.just("refund"), st.integers(0, 9), st.integers(1, 3_000), st.booleans()),
    st.tuples(st.just("dispute"), st.integers(0, 9), st.sampled_from(["open", "won", "lost"])),
)
op = st.one_of(
    st.tuples(st.just("credit"), st.integers(0, REQUESTERS - 1), amount),
    topup,
    topup,  # twice as likely: refunds and disputes need a card top-up to act on
    st.tuples(
        st.just("publish"), st.integers(0, REQUESTERS - 1), st.integers(1, 50), st.integers(0, 20)
    ),
    st.tuples(st.just("approve"), st.integers(0, 9), st.integers(0, WORKERS - 1)),
    st.tuples(st.just("reject"), st.integers(0, 9), st.integers(0, WORKERS - 1)),
    st.tuples(
        st.just("bonus"), st.integers(0, REQUESTERS - 1), st.integers(0, WORKERS - 1), amount
    ),
    st.tuples(st.just("cancel"), st.integers(0, 9)),
    st.tuples(st.just("payout"), st.integers(0, WORKERS - 1), st.booleans()),
    card_money_back,
    card_money_back,
)
DISPUTE_FEE = 1_500


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(op, min_size=1, max_size=30))
def test_random_money_flows_keep_the_ledger_sound(ops, fake_stripe):
    """Examples share the test's database transaction (rolled back after the test) and the fake
    Stripe: each example uses fresh users, and ids are never reused, so neither our ledger keys
    nor Stripe's idempotency keys collide between examples."""
    fake_stripe.clear_faults()
    _run(ops, fake_stripe)


#: Card money coming back, densely: every sequence starts with card top-ups and mixes their
#: refunds and disputes with spending (publish, bonus) and money returning (cancel, credit).
card_ops = st.lists(topup, min_size=1, max_size=4).flatmap(
    lambda topups: st.lists(
        st.one_of(
            card_money_back,
            card_money_back,
            topup,
            st.tuples(st.just("credit"), st.integers(0, REQUESTERS - 1), amount),
            st.tuples(
                st.just("publish"),
                st.integers(0, REQUESTERS - 1),
                st.integers(1, 50),
                st.integers(0, 20),
            ),
            st.tuples(
                st.just("bonus"),
                st.integers(0, REQUESTERS - 1),
                st.integers(0, WORKERS - 1),
                amount,
            ),
            st.tuples(st.just("cancel"), st.integers(0, 9)),
        ),
        min_size=1,
        max_size=20,
    ).map(lambda rest: topups + rest)
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=card_ops)
def test_refunds_and_disputes_keep_the_ledger_sound(ops, fake_stripe):
    """The same property, with sequences dense in card refunds and disputes (issue 11)."""
    fake_stripe.clear_faults()
    _run(ops, fake_stripe)


def _run(ops, fake: FakeStripe) -> None:
    from django.conf import settings as dj

    dj.PAYOUT_MINIMUM_MINOR = 100
    requesters = [RequesterFactory() for _ in range(REQUESTERS)]
    workers = [WorkerFactory() for _ in range(WORKERS)]
    for w in workers:
        ConnectedAccount.objects.create(
            worker=w, stripe_account_id=fake.add_connected_account(), transfers_active=True
        )
    client = Client()
    # the shadow model: what each party should hold
    funds = defaultdict(int)  # requester index -> available
    debt = defaultdict(int)  # requester index -> owed to the platform
    earned = defaultdict(int)  # worker index -> approved rewards + bonuses
    bundles: list[dict] = []  # {"id", "requester", "reward", "left", "open"}
    cards: list[dict] = []  # {"requester", "charge", "amount", "refunded", "disputed"}

    def deliver(event):
        signed = fake.signed_event(event)
        response = client.post(
            "/payments/stripe/webhook/",
            data=signed.payload,
            content_type="application/json",
            headers=signed.headers,
        )
        assert response.status_code == 200
        assert response.json()["status"] == "processed", response.json()

    def credit(r, amt):  # every credit pays the debt first
        repay = min(debt[r], amt)
        debt[r] -= repay
        funds[r] += amt - repay

    def debit(r, amt):  # money Stripe took back: the balance first, the rest is owed
        take = min(funds[r], amt)
        funds[r] -= take
        debt[r] += amt - take

    for step in ops:
        kind = step[0]
        if kind == "credit":
            _, r, amt = step
            services.balance_credit(
                requester=requesters[r],
                amount_minor=amt,
                currency="usd",
                reference=f"ref-{next(ids)}",
                by=None,
            )
            credit(r, amt)
        elif kind == "topup":
            _, r, amt, duplicate = step
            topup = services.topup_create(
                requester=requesters[r],
                amount_minor=amt,
                currency="usd",
                client_token=f"t{next(ids)}",
            )
            event = fake.complete_checkout_session(topup.checkout_session_id, deliver=False)
            for _ in range(2 if duplicate else 1):
                deliver(event)
            credit(r, amt)
            intent = fake.payment_intents[event["data"]["object"]["payment_intent"]]
            cards.append(
                {
                    "requester": r,
                    "charge": intent["latest_charge"],
                    "amount": amt,
                    "refunded": 0,
                    "disputed": False,
                }
            )
        elif kind == "publish":
            _, r, reward, judgments = step
            bundle_id = 50_000 + next(ids)
            cost = judgments * (reward + fee_for(reward))
            try:
                reserved = services.escrow_reserve(
                    requester=requesters[r],
                    bundle_id=bundle_id,
                    currency="usd",
                    reward_minor=reward,
                    judgments=judgments,
                    idempotency_key=f"bundle-{bundle_id}-publish",
                )
            except DomainError as exc:
                assert exc.code == "insufficient_funds"
                assert cost > funds[r]
                assert exc.extra["missing_minor"] == cost - funds[r]
                continue
            assert reserved == cost <= funds[r]
            funds[r] -= cost
            bundles.append(
                {"id": bundle_id, "requester": r, "reward": reward, "left": judgments, "open": True}
            )
        elif kind in ("approve", "reject"):
            _, b, w = step
            if not bundles:
                continue
            bundle = bundles[b % len(bundles)]
            if kind == "reject":  # the tasks layer moves nothing on rejection
                continue
            can_pay = bundle["open"] and bundle["left"] > 0
            try:
                services.assignment_pay(
                    requester_id=requesters[bundle["requester"]].pk,
                    bundle_id=bundle["id"],
                    worker_id=workers[w].pk,
                    currency="usd",
                    reward_minor=bundle["reward"],
                    assignment_id=next(ids),
                )
            except DomainError as exc:
                assert not can_pay, exc
                continue
            assert can_pay
            bundle["left"] -= 1
            earned[w] += bundle["reward"]
        elif kind == "bonus":
            _, r, w, amt = step
            try:
                services.bonus_pay(
                    requester=requesters[r],
                    worker=workers[w],
                    amount_minor=amt,
                    currency="usd",
                    reason="good",
                    client_token=f"b{next(ids)}",
                )
            except DomainError as exc:
                if debt[r]:
                    assert exc.code == "requester_in_debt"
                    continue
                assert exc.code == "insufficient_funds"
                assert amt + fee_for(amt) > funds[r]
                continue
            assert not debt[r], "a requester in debt paid a bonus"
            funds[r] -= amt + fee_for(amt)
            earned[w] += amt
        elif kind == "cancel":
            _, b = step
            if not bundles:
                continue
            bundle = bundles[b % len(bundles)]
            released = services.escrow_release(
                requester_id=requesters[bundle["requester"]].pk,
                bundle_id=bundle["id"],
                currency="usd",
                idempotency_key=f"bundle-{bundle['id']}-cancel",
            )
            if bundle["open"]:
                reward = bundle["reward"]
                assert released == bundle["left"] * (reward + fee_for(reward))
                credit(bundle["requester"], released)
                bundle["open"], bundle["left"] = False, 0
        elif kind == "payout":
            _, w, fail = step
            if fail:
                fake.inject("POST /v1/transfers", "card_declined")
            try:
                payout = payouts.payout_request(worker=workers[w], request_key=f"p{next(ids)}")
            except DomainError as exc:
                assert exc.code == "payout_below_minimum"
                fake.clear_faults()
                continue
            payout = payouts.payout_execute(payout_id=payout.pk)
            fake.clear_faults()
            assert payout.status == (PayoutStatus.RETURNED if fail else PayoutStatus.PAID)
        elif kind == "refund":
            _, c, amt, twice = step
            if not cards:
                continue
            card = cards[c % len(cards)]
            amt = min(amt, card["amount"] - card["refunded"])
            if card["disputed"] or amt <= 0:
                continue
            event = fake.refund_charge(card["charge"], amt, deliver=False)
            for _ in range(2 if twice else 1):
                deliver(event)
            card["refunded"] += amt
            debit(card["requester"], amt)
            hypothesis.event("refund booked")
        elif kind == "dispute":
            _, c, outcome = step
            if not cards:
                continue
            card = cards[c % len(cards)]
            amt = card["amount"] - card["refunded"]
            if card["disputed"] or amt <= 0:
                continue
            card["disputed"] = True
            opened = fake.dispute_charge(card["charge"], amt, deliver=False)
            if outcome != "open":
                fake.close_dispute(opened["data"]["object"]["id"], won=outcome == "won")
            for event_id in list(fake._undelivered):  # created, withdrawn, reinstated, closed
                event = fake.events[event_id]
                fake._undelivered.remove(event_id)
                if event["type"].startswith("charge.dispute."):
                    deliver(event)
            debit(card["requester"], amt + DISPUTE_FEE)
            if outcome == "won":
                credit(card["requester"], amt)
            hypothesis.event(f"dispute {outcome}")

    # invariants once the sequence has run
    assert_ledger_balanced()
    for r, requester in enumerate(requesters):
        assert services.requester_available(requester_id=requester.pk, currency="usd") == funds[r]
        assert services.requester_debt(requester_id=requester.pk, currency="usd") == debt[r]
    for bundle in bundles:
        reward = bundle["reward"]
        assert services.escrow_balance(bundle_id=bundle["id"], currency="usd") == (
            bundle["left"] * (reward + fee_for(reward))
        )
    for w, worker in enumerate(workers):
        paid = sum(
            Payout.objects.filter(worker=worker, status=PayoutStatus.PAID).values_list(
                "amount_minor", flat=True
            )
        )
        available = services.worker_available(worker_id=worker.pk, currency="usd")
        assert available >= 0
        assert available + paid == earned[w]
    services.topups_sync_charges()  # what the on-commit sync does after each top-up
    now = timezone.now()
    report = reconcile(since=now - timedelta(hours=1), until=now + timedelta(hours=1))
    assert report.ok, report.differences
    if any(debt.values()):
        hypothesis.event("ends with a requester in debt")
