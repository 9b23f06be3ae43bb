"""Issue 17: the escrow of a closed HIT. Closing releases its unclaimed slots; a claim still
held then is kept for (it may be submitted), and once it ends unpaid (returned by the worker
or expired) its slot's money goes back at once. A HIT type's bundle never finishes by itself,
so anything left for "when the bundle finishes" would be held for good."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from marketplace.errors import DomainError
from marketplace.mturk.hits import hit_close, hit_create, hit_type_get_or_create
from payments import services as payments
from payments.selectors import ledger_problems
from tasks import review, work
from tasks.models import Assignment, Bundle
from tasks.services import assignment_submit
from tests.factories import RequesterFactory, WorkerFactory, fund
from tests.mturk.conftest import HIT_TYPE, HTML_QUESTION

pytestmark = pytest.mark.django_db


def held(bundle_id):
    return payments.escrow_balance(bundle_id=bundle_id, currency="usd")


@pytest.fixture
def closed_hit_with_claims():
    """A HIT of 3 assignments (5 cents + 1 cent fee each), two claimed, then expired."""
    requester = RequesterFactory()
    fund(requester, 10_000)
    hit_type = hit_type_get_or_create(requester=requester, params=HIT_TYPE)
    hit = hit_create(requester=requester, hit_type=hit_type, max_assignments=3,
                     lifetime_seconds=600, question=HTML_QUESTION)  # fmt: skip
    bundle = Bundle.objects.get(pk=hit.item.bundle_id)
    workers = [WorkerFactory(), WorkerFactory()]
    claims = [work.assignment_claim(bundle=bundle, worker=w) for w in workers]
    assert held(bundle.pk) == 3 * 6
    hit_close(hit)
    assert held(bundle.pk) == 2 * 6  # the unclaimed slot went back when the HIT closed
    return bundle, workers, claims


def test_a_claim_returned_after_the_hit_closed_gives_its_escrow_back(closed_hit_with_claims):
    bundle, workers, claims = closed_hit_with_claims
    work.assignment_return(assignment_id=claims[0].pk, worker=workers[0])
    assert held(bundle.pk) == 6  # only the claim still held is kept for
    assert ledger_problems() == []


def test_a_claim_expired_after_the_hit_closed_gives_its_escrow_back(closed_hit_with_claims):
    bundle, _, claims = closed_hit_with_claims
    Assignment.objects.filter(pk__in=[c.pk for c in claims]).update(
        deadline=timezone.now() - timedelta(seconds=1)
    )
    assert work.assignments_expire() == 2
    assert held(bundle.pk) == 0
    work.assignments_expire()  # a second sweep moves nothing
    assert held(bundle.pk) == 0
    assert ledger_problems() == []


def test_an_open_hit_takes_a_returned_slot_back_and_keeps_its_escrow():
    requester = RequesterFactory()
    fund(requester, 10_000)
    hit_type = hit_type_get_or_create(requester=requester, params=HIT_TYPE)
    hit = hit_create(requester=requester, hit_type=hit_type, max_assignments=1,
                     lifetime_seconds=600, question=HTML_QUESTION)  # fmt: skip
    bundle = Bundle.objects.get(pk=hit.item.bundle_id)
    worker = WorkerFactory()
    claim = work.assignment_claim(bundle=bundle, worker=worker)
    work.assignment_return(assignment_id=claim.pk, worker=worker)
    hit.item.refresh_from_db()
    assert hit.item.slots_open == 1 and held(bundle.pk) == 6
    assert ledger_problems() == []


def test_a_rejection_after_the_hit_closed_reopens_nothing_and_gives_the_escrow_back():
    requester = RequesterFactory()
    fund(requester, 10_000)
    hit_type = hit_type_get_or_create(requester=requester, params=HIT_TYPE)
    hit = hit_create(requester=requester, hit_type=hit_type, max_assignments=2,
                     lifetime_seconds=600, question=HTML_QUESTION)  # fmt: skip
    bundle = Bundle.objects.get(pk=hit.item.bundle_id)
    worker = WorkerFactory()
    claim = work.assignment_claim(bundle=bundle, worker=worker)
    assignment_submit(assignment_id=claim.pk, worker=worker, answer={"sentiment": "x"})
    hit_close(hit)
    assert held(bundle.pk) == 6  # the submitted answer may still be paid
    review.assignment_reject(assignment_id=claim.pk, by=requester, reason="Empty")
    hit.item.refresh_from_db()
    assert hit.item.slots_open == 0 and hit.item.state == "complete"  # nobody new takes it
    with pytest.raises(DomainError) as nothing:
        work.assignment_claim(bundle=bundle, worker=WorkerFactory())
    assert nothing.value.code == "no_tasks_available"
    assert held(bundle.pk) == 0
    review.assignment_overturn(assignment_id=claim.pk, by=requester)  # paid from the balance
    assert Assignment.objects.get(pk=claim.pk).status == "approved"
    assert ledger_problems() == []
