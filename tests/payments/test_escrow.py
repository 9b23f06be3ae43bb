"""The interface tasks calls: reserve at publish, pay at approval, release at the end."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from marketplace.errors import DomainError
from payments import services
from payments.models import Bonus, JournalEntry
from tests.factories import RequesterFactory
from tests.payments.factories import funded_requester, new_bundle_id, worker
from tests.payments.helpers import assert_ledger_balanced

pytestmark = pytest.mark.django_db


def test_publish_pay_release_moves_exact_amounts(fee_20):
    requester = funded_requester(1_000)
    bundle = new_bundle_id()
    w = worker()
    reserved = services.escrow_reserve(
        requester=requester,
        bundle_id=bundle,
        currency="USD",
        reward_minor=5,
        judgments=12,
        idempotency_key=f"bundle-{bundle}-publish",
    )
    assert reserved == 12 * (5 + 1)
    assert services.requester_available(requester_id=requester.pk, currency="usd") == 928
    assert services.escrow_balance(bundle_id=bundle, currency="usd") == 72
    for assignment_id in (1, 2, 3):
        services.assignment_pay(
            requester_id=requester.pk,
            bundle_id=bundle,
            worker_id=w.pk,
            currency="usd",
            reward_minor=5,
            assignment_id=assignment_id,
        )
    # approval retried: paid once
    services.assignment_pay(
        requester_id=requester.pk,
        bundle_id=bundle,
        worker_id=w.pk,
        currency="usd",
        reward_minor=5,
        assignment_id=1,
    )
    assert services.worker_available(worker_id=w.pk, currency="usd") == 15
    assert services.escrow_balance(bundle_id=bundle, currency="usd") == 72 - 18
    released = services.escrow_release(
        requester_id=requester.pk,
        bundle_id=bundle,
        currency="usd",
        idempotency_key=f"bundle-{bundle}-finish",
    )
    assert released == 54
    assert (
        services.escrow_release(
            requester_id=requester.pk,
            bundle_id=bundle,
            currency="usd",
            idempotency_key=f"bundle-{bundle}-finish",
        )
        == 54
    )
    assert services.escrow_balance(bundle_id=bundle, currency="usd") == 0
    assert services.requester_available(requester_id=requester.pk, currency="usd") == 1_000 - 18
    assert_ledger_balanced()


def test_every_reserved_judgment_is_payable_exactly(settings):
    settings.PLATFORM_FEE_PERCENT = 15
    requester = funded_requester(10_000)
    bundle, w = new_bundle_id(), worker()
    services.escrow_reserve(
        requester=requester,
        bundle_id=bundle,
        currency="usd",
        reward_minor=7,
        judgments=9,
        idempotency_key="pub",
    )
    settings.PLATFORM_FEE_PERCENT = 90  # changing the setting later does not break the bundle
    assert services.escrow_cost_per_judgment(bundle_id=bundle, currency="usd", reward_minor=7) == 8
    assert services.escrow_cost_per_judgment(bundle_id=-1, currency="usd", reward_minor=7) == 13
    for i in range(9):
        services.assignment_pay(
            requester_id=requester.pk,
            bundle_id=bundle,
            worker_id=w.pk,
            currency="usd",
            reward_minor=7,
            assignment_id=i,
        )
    assert services.escrow_balance(bundle_id=bundle, currency="usd") == 0
    with pytest.raises(DomainError) as err:
        services.assignment_pay(
            requester_id=requester.pk,
            bundle_id=bundle,
            worker_id=w.pk,
            currency="usd",
            reward_minor=7,
            assignment_id=99,
        )
    assert err.value.code == "escrow_insufficient"
    assert_ledger_balanced()


def test_insufficient_funds_names_the_missing_amount(fee_20):
    requester = funded_requester(100)
    bundle = new_bundle_id()
    with pytest.raises(DomainError) as err:
        services.escrow_reserve(
            requester=requester,
            bundle_id=bundle,
            currency="usd",
            reward_minor=10,
            judgments=10,
            idempotency_key="pub",
        )
    assert err.value.code == "insufficient_funds"
    assert err.value.http_status == 402
    assert err.value.extra["missing_minor"] == 20
    assert err.value.extra["needed_minor"] == 120
    assert services.requester_available(requester_id=requester.pk, currency="usd") == 100
    assert services.escrow_balance(bundle_id=bundle, currency="usd") == 0
    assert_ledger_balanced()


def test_reserve_is_idempotent_and_more_items_reserve_more(fee_20):
    requester = funded_requester(1_000)
    bundle = new_bundle_id()
    for _ in range(2):
        services.escrow_reserve(
            requester=requester,
            bundle_id=bundle,
            currency="usd",
            reward_minor=5,
            judgments=10,
            idempotency_key="b-publish",
        )
    services.escrow_reserve(
        requester=requester,
        bundle_id=bundle,
        currency="usd",
        reward_minor=5,
        judgments=5,
        idempotency_key="b-items-2",
    )
    assert services.escrow_balance(bundle_id=bundle, currency="usd") == 90


def test_partial_release_and_foreign_requester_refused(fee_20):
    requester, other = funded_requester(1_000), funded_requester(1_000)
    bundle = new_bundle_id()
    services.escrow_reserve(
        requester=requester,
        bundle_id=bundle,
        currency="usd",
        reward_minor=5,
        judgments=10,
        idempotency_key="pub",
    )
    assert (
        services.escrow_release(
            requester_id=requester.pk,
            bundle_id=bundle,
            currency="usd",
            idempotency_key="lower-overlap",
            amount_minor=12,
        )
        == 12
    )
    with pytest.raises(DomainError):
        services.escrow_release(
            requester_id=other.pk, bundle_id=bundle, currency="usd", idempotency_key="steal"
        )
    with pytest.raises(DomainError):
        services.escrow_reserve(
            requester=other,
            bundle_id=bundle,
            currency="usd",
            reward_minor=5,
            judgments=1,
            idempotency_key="x",
        )
    with pytest.raises(DomainError):
        services.assignment_pay(
            requester_id=other.pk,
            bundle_id=bundle,
            worker_id=other.pk,
            currency="usd",
            reward_minor=5,
            assignment_id=1,
        )
    assert services.escrow_balance(bundle_id=bundle, currency="usd") == 48
    assert_ledger_balanced()


def test_bonus_pays_worker_plus_fee_once_per_token(fee_20):
    requester, w = funded_requester(1_000), worker()
    first = services.bonus_pay(
        requester=requester,
        worker=w,
        amount_minor=50,
        currency="usd",
        reason="great work",
        client_token="t1",
    )
    again = services.bonus_pay(
        requester=requester,
        worker=w,
        amount_minor=50,
        currency="usd",
        reason="great work",
        client_token="t1",
    )
    assert again.pk == first.pk
    assert first.fee_minor == 10
    assert services.worker_available(worker_id=w.pk, currency="usd") == 50
    assert services.requester_available(requester_id=requester.pk, currency="usd") == 940
    with pytest.raises(DomainError) as err:
        services.bonus_pay(
            requester=requester,
            worker=w,
            amount_minor=60,
            currency="usd",
            reason="x",
            client_token="t1",
        )
    assert err.value.code == "idempotency_conflict"
    with pytest.raises(DomainError) as err:
        services.bonus_pay(
            requester=requester,
            worker=w,
            amount_minor=5_000,
            currency="usd",
            reason="x",
            client_token="t2",
        )
    assert err.value.code == "insufficient_funds"
    with pytest.raises(DomainError):
        services.bonus_pay(
            requester=requester,
            worker=RequesterFactory(),
            amount_minor=5,
            currency="usd",
            reason="x",
            client_token="t3",
        )
    assert Bonus.objects.count() == 1
    assert_ledger_balanced()


def test_admin_credit_is_idempotent_by_reference():
    requester = RequesterFactory()
    first = services.balance_credit(
        requester=requester, amount_minor=2_500, currency="usd", reference="INV-1", by=None
    )
    again = services.balance_credit(
        requester=requester, amount_minor=2_500, currency="usd", reference="INV-1", by=None
    )
    assert first.pk == again.pk
    with pytest.raises(DomainError):
        services.balance_credit(
            requester=requester, amount_minor=3_000, currency="usd", reference="INV-1", by=None
        )
    assert services.requester_available(requester_id=requester.pk, currency="usd") == 2_500
    assert_ledger_balanced()


def test_credit_balance_command(capsys):
    requester = RequesterFactory(email="buyer@example.com")
    call_command("credit_balance", "Buyer@example.com", "1500", "--reference", "BANK-7")
    call_command("credit_balance", "buyer@example.com", "1500", "--reference", "BANK-7")
    assert services.requester_available(requester_id=requester.pk, currency="usd") == 1_500
    assert JournalEntry.objects.filter(kind="admin_credit").count() == 1
    assert "BANK-7" in capsys.readouterr().out
    with pytest.raises(CommandError):
        call_command("credit_balance", "nobody@example.com", "1500", "--reference", "R")
    with pytest.raises(CommandError):
        call_command("credit_balance", "buyer@example.com", "-5", "--reference", "R2")


def test_the_escrow_memo_reads_in_money_not_minor_units(fee_20):
    """Issue 15, bug 8: a statement said "escrow for bundle 3: 60 x (5)"."""
    requester = funded_requester(1_000)
    bundle = new_bundle_id()
    services.escrow_reserve(
        requester=requester,
        bundle_id=bundle,
        currency="USD",
        reward_minor=5,
        judgments=12,
        idempotency_key=f"bundle-{bundle}-publish",
    )
    memo = JournalEntry.objects.get(idempotency_key=f"bundle-{bundle}-publish").memo
    assert memo == f"escrow for bundle {bundle}: 12 answers x 0.06 USD"


def test_money_text_formats_minor_units():
    from payments.ledger import money_text

    assert money_text(5, "usd") == "0.05 USD"
    assert money_text(123_456, "eur") == "1,234.56 EUR"
    assert money_text(-60, "usd") == "-0.60 USD"
