"""Money invariants are real raised errors, never `assert`s (which `python -O` strips)."""

import ast
import pathlib

import pytest

import payments
from marketplace.errors import DomainError
from payments import payouts
from payments.ledger import LedgerInvariantError
from payments.models import AccountKind, LedgerAccount, Payout

PAYMENTS_DIR = pathlib.Path(payments.__file__).parent


@pytest.mark.django_db
def test_weekly_payouts_refuse_a_worker_account_that_names_no_worker():
    # given: a worker-available account holding money but owned by nobody (a hand-edited row;
    # the services never create one)
    orphan = LedgerAccount.objects.create(
        key="worker_available:usd:orphan",
        kind=AccountKind.WORKER_AVAILABLE,
        currency="usd",
        owner=None,
        balance_minor=payouts.payout_minimum(),
    )
    # when / then: the weekly run stops loudly instead of paying or silently skipping it
    with pytest.raises(LedgerInvariantError, match=orphan.key):
        payouts.payouts_weekly()
    assert not Payout.objects.exists()


def test_ledger_invariant_error_is_not_a_domain_error():
    """Views turn DomainErrors into 4xx answers and the weekly run skips workers on them; a
    broken invariant is a bug and must do neither."""
    assert not issubclass(LedgerInvariantError, DomainError)


def test_payments_code_has_no_assert_statements():
    offenders = [
        f"{path.relative_to(PAYMENTS_DIR.parent)}:{node.lineno}"
        for path in sorted(PAYMENTS_DIR.rglob("*.py"))
        if "migrations" not in path.parts
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Assert)
    ]
    assert offenders == []
