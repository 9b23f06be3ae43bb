"""The ledger core: balanced, idempotent, never negative, append-only."""

import pytest
from django.db import IntegrityError, transaction

from payments.ledger import IdempotencyConflict, InsufficientFunds, account_get, post_entry
from payments.models import AccountKind, AppendOnlyError, JournalEntry, LedgerAccount, Posting
from tests.factories import RequesterFactory
from tests.payments.helpers import assert_ledger_balanced

pytestmark = pytest.mark.django_db


@pytest.fixture
def accounts():
    user = RequesterFactory()
    clearing = account_get(kind=AccountKind.ADMIN_CREDIT_CLEARING, currency="usd")
    available = account_get(kind=AccountKind.REQUESTER_AVAILABLE, currency="usd", owner_id=user.pk)
    return clearing, available


def test_entry_moves_money_and_caches_bounded_balance(accounts):
    clearing, available = accounts
    entry = post_entry(
        idempotency_key="k1", kind="admin_credit", postings=[(clearing, -500), (available, 500)]
    )
    assert sorted(entry.postings.values_list("amount_minor", flat=True)) == [-500, 500]
    available.refresh_from_db()
    clearing.refresh_from_db()
    assert available.balance_minor == 500
    assert clearing.balance_minor is None  # derived, never cached
    assert_ledger_balanced()


def test_unbalanced_or_float_or_empty_postings_are_refused(accounts):
    clearing, available = accounts
    with pytest.raises(ValueError, match="sum to zero"):
        post_entry(
            idempotency_key="k", kind="admin_credit", postings=[(clearing, -500), (available, 499)]
        )
    with pytest.raises(TypeError):
        post_entry(
            idempotency_key="k", kind="admin_credit", postings=[(clearing, -5.0), (available, 5.0)]
        )
    with pytest.raises(ValueError, match="non-zero"):
        post_entry(
            idempotency_key="k", kind="admin_credit", postings=[(clearing, 0), (available, 0)]
        )
    eur = account_get(kind=AccountKind.ADMIN_CREDIT_CLEARING, currency="eur")
    with pytest.raises(ValueError, match="per currency"):
        post_entry(
            idempotency_key="k", kind="admin_credit", postings=[(eur, -500), (available, 500)]
        )
    assert not JournalEntry.objects.exists()


def test_same_key_returns_first_entry_and_other_postings_conflict(accounts):
    clearing, available = accounts
    first = post_entry(
        idempotency_key="k", kind="admin_credit", postings=[(clearing, -500), (available, 500)]
    )
    again = post_entry(
        idempotency_key="k", kind="admin_credit", postings=[(available, 500), (clearing, -500)]
    )
    assert again.pk == first.pk
    with pytest.raises(IdempotencyConflict):
        post_entry(
            idempotency_key="k", kind="admin_credit", postings=[(clearing, -600), (available, 600)]
        )
    available.refresh_from_db()
    assert available.balance_minor == 500
    assert JournalEntry.objects.count() == 1


def test_bounded_account_never_goes_negative(accounts):
    clearing, available = accounts
    post_entry(
        idempotency_key="in", kind="admin_credit", postings=[(clearing, -100), (available, 100)]
    )
    with pytest.raises(InsufficientFunds) as err:
        post_entry(
            idempotency_key="out",
            kind="admin_credit",
            postings=[(clearing, 101), (available, -101)],
        )
    assert err.value.extra["missing_minor"] == 1
    assert err.value.code == "insufficient_funds"
    available.refresh_from_db()
    assert available.balance_minor == 100
    assert not JournalEntry.objects.filter(idempotency_key="out").exists()
    assert_ledger_balanced()


def test_ledger_rows_are_append_only(accounts):
    clearing, available = accounts
    entry = post_entry(
        idempotency_key="k", kind="admin_credit", postings=[(clearing, -500), (available, 500)]
    )
    posting = entry.postings.first()
    entry.memo = "edited"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        posting.delete()
    with pytest.raises(AppendOnlyError):
        Posting.objects.filter(pk=posting.pk).update(amount_minor=1)
    with pytest.raises(AppendOnlyError):
        JournalEntry.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        available.delete()
    assert Posting.objects.get(pk=posting.pk).amount_minor == posting.amount_minor


def test_database_refuses_zero_postings_and_negative_cached_balances(accounts):
    clearing, available = accounts
    entry = post_entry(
        idempotency_key="k", kind="admin_credit", postings=[(clearing, -500), (available, 500)]
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Posting.objects.create(entry=entry, account=available, amount_minor=0, currency="usd")
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerAccount.objects.filter(pk=available.pk).update(balance_minor=-1)
    with pytest.raises(IntegrityError), transaction.atomic():
        JournalEntry.objects.create(idempotency_key="k", kind="admin_credit")
