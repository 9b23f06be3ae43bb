"""Issue 15, fair pay: the pilot pauses an underpaid bundle; the requester raises the reward or
confirms a top-up; at completion every worker below the floor is topped up from escrow, once,
and the unused margin goes back. The ledger balances throughout."""

from __future__ import annotations

import pytest

from marketplace.errors import DomainError
from payments import services as payments
from payments.models import EntryKind, JournalEntry
from tasks import pay_pilot, payfloor, review
from tasks.escrow import escrow_settle
from tasks.fairness import payfloor_actions
from tasks.models import BundleStatus, FloorTopUp, PayFloorState
from tasks.selectors import books_problems
from tasks.tasks import pay_floor_pilots_task
from tests.conftest import client_for
from tests.factories import BundleFactory, ItemFactory, fund, publish
from tests.payments.helpers import assert_ledger_balanced

from .helpers import answer, drain

pytestmark = pytest.mark.django_db

# USD 12/h is 1/3 cent a second: a 5-cent reward pays the floor up to 15 s of work.
PILOT = 4


@pytest.fixture(autouse=True)
def floor_settings(settings):
    settings.PAY_FLOOR_HOURLY_MINOR = {"usd": 1200, "eur": 1100, "gbp": 1000}
    settings.PAY_FLOOR_PILOT_JUDGMENTS = PILOT
    settings.PAY_FLOOR_MARGIN_PERCENT = 25
    settings.PLATFORM_FEE_PERCENT = 20
    settings.PLATFORM_MIN_FEE_MINOR = 1


def make_bundle(requester, items=6, **fields):
    bundle = BundleFactory(requester=requester, min_overlap=1, max_overlap=1, **fields)
    for _ in range(items):
        ItemFactory(bundle=bundle)
    return publish(bundle)


def pilot(bundle, workers, seconds):
    for n in range(PILOT):
        answer(bundle, workers[n % len(workers)], seconds=seconds)
    bundle.refresh_from_db()


def test_the_pilot_pauses_an_underpaid_bundle(
    requester, workers, django_capture_on_commit_callbacks
):
    bundle = make_bundle(requester)
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(PILOT - 1):
            answer(bundle, workers[n % 2], seconds=60)
    bundle.refresh_from_db()
    assert (bundle.status, bundle.pay_floor_state) == (BundleStatus.PUBLISHED, PayFloorState.PILOT)
    with django_capture_on_commit_callbacks(execute=True):
        answer(bundle, workers[1], seconds=60)  # the pilot's last answer closes it
    bundle.refresh_from_db()
    assert (bundle.status, bundle.pay_floor_state) == (BundleStatus.PAUSED, PayFloorState.BELOW)
    assert bundle.pilot_median_seconds == pytest.approx(60, abs=1)
    assert bundle.events.filter(note=pay_pilot.BELOW_NOTE).count() == 1
    shown = client_for(requester).get(f"/api/v1/bundles/{bundle.pk}/").json()
    assert (shown["pay_floor_state"], shown["status"]) == ("below", "paused")
    # A plain resume is refused: the requester must raise the reward or confirm a top-up.
    resumed = client_for(requester).post(f"/api/v1/bundles/{bundle.pk}/resume/")
    assert (resumed.status_code, resumed.json()["code"]) == (409, "below_pay_floor")


def test_a_pilot_at_or_above_the_floor_keeps_the_bundle_live(requester, workers):
    bundle = make_bundle(requester)
    pilot(bundle, workers, seconds=10)  # 5 cents in 10 s: 18 USD/h
    assert pay_floor_pilots_task() == 1  # the beat closes what no follow-up closed
    assert pay_floor_pilots_task() == 0
    bundle.refresh_from_db()
    assert (bundle.status, bundle.pay_floor_state) == (BundleStatus.PUBLISHED, PayFloorState.OK)


def test_publish_refuses_an_estimate_below_the_floor_and_reserves_a_margin(requester):
    low = BundleFactory(requester=requester, min_overlap=1, max_overlap=1, estimated_seconds=30)
    ItemFactory(bundle=low)
    with pytest.raises(DomainError) as refused:
        publish(low)
    assert refused.value.code == "below_pay_floor"
    assert refused.value.extra["minimum_reward_minor"] == 10
    ok = make_bundle(requester, items=4, estimated_seconds=12)
    cost = 5 + 1  # reward + fee per judgment; the margin is ceil(25% of 5) = 2 + a 1-cent fee
    held = payments.escrow_balance(bundle_id=ok.pk, currency="usd")
    assert held == 4 * cost + 4 * (2 + 1)
    assert_ledger_balanced()


def complete(bundle, workers, seconds):
    """Answer every open item and approve everything."""
    while True:
        bundle.refresh_from_db()
        if bundle.items.filter(state="open").count() == 0:
            break
        answer(bundle, workers[bundle.assignments.count() % len(workers)], seconds=seconds)
    for assignment in bundle.assignments.filter(status="submitted"):
        review.assignment_approve(assignment_id=assignment.pk, by=bundle.requester)
    bundle.refresh_from_db()
    assert bundle.status == BundleStatus.COMPLETED


def test_confirmed_top_up_is_paid_once_at_completion_and_the_margin_released(requester, workers):
    bundle = make_bundle(requester, items=6, estimated_seconds=15)
    pilot(bundle, workers[:2], seconds=60)
    pay_pilot.pilot_check(bundle_id=bundle.pk)
    bundle.refresh_from_db()
    assert bundle.pay_floor_state == PayFloorState.BELOW
    before = payments.escrow_balance(bundle_id=bundle.pk, currency="usd")
    payfloor_actions.payfloor_confirm_topup(requester=requester, bundle_id=bundle.pk)
    bundle.refresh_from_db()
    assert (bundle.status, bundle.pay_floor_state) == (BundleStatus.PUBLISHED, PayFloorState.TOPUP)
    assert payments.escrow_balance(bundle_id=bundle.pk, currency="usd") > before
    complete(bundle, workers[:2], seconds=60)

    escrow_settle(bundle_id=bundle.pk)
    escrow_settle(bundle_id=bundle.pk)  # a retry (the sweep) pays nothing more
    topups = {t.worker_id: t for t in FloorTopUp.objects.filter(bundle=bundle)}
    assert set(topups) == {workers[0].pk, workers[1].pk}
    for topup in topups.values():
        # 3 answers of 60 s (capped at twice the 60 s median): 180 s at 1/3 cent a second.
        assert topup.floor_minor == payfloor.floor_pay_for(topup.seconds, "usd")
        assert topup.seconds == pytest.approx(180, abs=3)
        assert topup.earned_minor == 15
        assert topup.paid_minor == topup.floor_minor - 15
        assert topup.unpaid_minor == 0
    paid = JournalEntry.objects.filter(kind=EntryKind.BONUS, reference_type="floor_topup")
    assert paid.count() == 2
    assert payments.escrow_balance(bundle_id=bundle.pk, currency="usd") == 0  # margin released
    for worker in workers[:2]:
        earned = payments.worker_available(worker_id=worker.pk, currency="usd")
        assert earned == topups[worker.pk].floor_minor  # exactly the floor, no more
    assert_ledger_balanced()
    assert books_problems() == []


def test_raising_the_reward_resumes_and_pays_the_new_reward(requester, workers):
    bundle = make_bundle(requester, items=6)
    pilot(bundle, workers[:2], seconds=30)
    pay_pilot.pilot_check(bundle_id=bundle.pk)
    bundle.refresh_from_db()
    least = payfloor_actions.minimum_reward(bundle)  # 10 or 11: 30 s and a few milliseconds
    assert least == payfloor.floor_pay_for(bundle.pilot_median_seconds, "usd")
    with pytest.raises(DomainError) as low:
        payfloor_actions.payfloor_raise_reward(
            requester=requester, bundle_id=bundle.pk, reward_minor=least - 1
        )
    assert (low.value.code, low.value.extra["minimum_reward_minor"]) == ("below_pay_floor", least)
    payfloor_actions.payfloor_raise_reward(
        requester=requester, bundle_id=bundle.pk, reward_minor=12
    )
    bundle.refresh_from_db()
    assert (bundle.status, bundle.reward_minor, bundle.pay_floor_state) == (
        BundleStatus.PUBLISHED, 12, PayFloorState.OK,
    )  # fmt: skip
    complete(bundle, workers[:2], seconds=30)
    escrow_settle(bundle_id=bundle.pk)
    # Every answer is paid 12 now; the pilot's answers too (approved after the raise), and at
    # 12 cents for 30 s nobody is below the floor: no top-up.
    total = sum(payments.worker_available(worker_id=w.pk, currency="usd") for w in workers[:2])
    assert total == 6 * 12
    assert FloorTopUp.objects.filter(bundle=bundle, paid_minor__gt=0).count() == 0
    assert payments.escrow_balance(bundle_id=bundle.pk, currency="usd") == 0
    assert_ledger_balanced()
    assert books_problems() == []


def test_pay_floor_answers_are_scoped_to_the_bundle_owner(requester, workers):
    bundle = make_bundle(requester, items=6)
    pilot(bundle, workers[:2], seconds=60)
    pay_pilot.pilot_check(bundle_id=bundle.pk)
    stranger = BundleFactory().requester
    fund(stranger)
    other = client_for(stranger).post(
        f"/api/v1/bundles/{bundle.pk}/pay-floor/", {"action": "confirm_topup"}, format="json"
    )
    assert other.status_code == 404
    mine = client_for(requester).post(
        f"/api/v1/bundles/{bundle.pk}/pay-floor/",
        {"action": "raise_reward", "reward": 25},
        format="json",
    )
    assert mine.status_code == 200, mine.content
    assert (mine.json()["reward"], mine.json()["status"]) == (25, "published")
    again = client_for(requester).post(
        f"/api/v1/bundles/{bundle.pk}/pay-floor/", {"action": "confirm_topup"}, format="json"
    )
    assert (again.status_code, again.json()["code"]) == (409, "not_below_pay_floor")


def test_a_top_up_the_money_cannot_cover_is_recorded_and_paid_at_the_next_settle(
    requester, workers, settings
):
    settings.PAY_FLOOR_PILOT_JUDGMENTS = 100  # no pilot pause: the floor still holds at the end
    bundle = make_bundle(requester, items=2)  # no time estimate: no margin in escrow
    complete(bundle, workers[:1], seconds=60)
    drain(requester)
    escrow_settle(bundle_id=bundle.pk)
    topup = FloorTopUp.objects.get(bundle=bundle)
    owed = topup.floor_minor - topup.earned_minor
    assert (topup.paid_minor, topup.unpaid_minor) == (0, owed) and owed > 0
    fund(requester, amount_minor=1_000)
    escrow_settle(bundle_id=bundle.pk)
    topup.refresh_from_db()
    assert (topup.paid_minor, topup.unpaid_minor) == (owed, 0)
    assert payments.worker_available(worker_id=workers[0].pk, currency="usd") == topup.floor_minor
    escrow_settle(bundle_id=bundle.pk)  # and nothing more
    topup.refresh_from_db()
    assert topup.paid_minor == owed
    assert_ledger_balanced()
