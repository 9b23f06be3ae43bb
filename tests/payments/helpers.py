"""Shared assertions for the payments suite."""

from __future__ import annotations

from payments.selectors import ledger_problems


def assert_ledger_balanced() -> None:
    """Fail with every problem found: unbalanced entries or currencies, a cached balance that
    differs from its postings, a negative bounded account."""
    problems = ledger_problems()
    assert not problems, "ledger is not sound:\n" + "\n".join(problems)
