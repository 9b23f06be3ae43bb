"""Bonuses, scoped to the requester's own workers.

`payments.services.bonus_pay` moves the money; it cannot know who worked for whom (payments
never imports tasks), so the scope lives here: a requester pays a bonus only to a worker who
submitted work in one of their bundles, named by the pseudonym the requester sees in results
(`w_...`) or by the id of an assignment in one of their bundles. Anyone else, however they are
named (a user id, another requester's pseudonym, a worker who only claimed), is the same 404,
so the endpoint tells nobody which accounts exist.
"""

from __future__ import annotations

from accounts.models import User
from marketplace.errors import DomainError, NotFound
from payments import services as payments
from payments.models import Bonus

from . import selectors


class WorkerNotFound(NotFound):
    """One body for every worker a requester may not pay, whatever the reason."""


def worker_not_found() -> WorkerNotFound:
    return WorkerNotFound("No such worker.")


def bonus_worker(
    *, requester: User, worker_public_id: str | None = None, assignment_id: int | None = None
) -> User:
    """The worker a requester names, by pseudonym or by assignment id (exactly one of them);
    `worker_not_found()` for anyone who never submitted work in the requester's bundles."""
    if (worker_public_id is None) == (assignment_id is None):
        raise DomainError(
            "Name the worker by worker_id (their pseudonym) or by assignment_id, not both.",
            code="invalid_worker",
        )
    if assignment_id is not None:
        worker_id = selectors.requester_worker_of_assignment(requester.pk, assignment_id)
    else:
        worker_id = selectors.requester_worker_from_public_id(requester.pk, worker_public_id or "")
    worker = User.objects.filter(pk=worker_id).first() if worker_id is not None else None
    if worker is None:
        raise worker_not_found()
    return worker


def bonus_grant(
    *,
    requester: User,
    amount_minor: int,
    currency: str,
    reason: str,
    client_token: str,
    worker_public_id: str | None = None,
    assignment_id: int | None = None,
) -> Bonus:
    """Pay a bonus to one of the requester's workers (see the module docstring for who that
    is). The money is `payments.services.bonus_pay`: requester available -> worker available
    plus the platform fee, idempotent by (requester, client_token), insufficient_funds (402)
    when the balance is short. A bonus takes ledger accounts only, the last step of the one
    lock order (`tasks.locking`), so it never waits for a bundle."""
    worker = bonus_worker(
        requester=requester, worker_public_id=worker_public_id, assignment_id=assignment_id
    )
    try:
        return payments.bonus_pay(
            requester=requester,
            worker=worker,
            amount_minor=amount_minor,
            currency=currency,
            reason=reason,
            client_token=client_token,
        )
    except NotFound as exc:  # no longer a worker: the same answer as a stranger
        raise worker_not_found() from exc
