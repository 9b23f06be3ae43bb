"""The worker profile page, the requester approval rate on "Find work" (one query for the
whole page), and the review queue's keyboard legend (the keys themselves: tests/e2e)."""

from __future__ import annotations

import pytest

from accounts.models import Qualification, WorkerQualification, WorkerStatus
from payments.models import ConnectedAccount
from tasks import review, services, work
from tests.factories import BundleFactory, ItemFactory, RequesterFactory, WorkerFactory, publish

pytestmark = pytest.mark.django_db


def _bundle(requester, items: int = 3):
    bundle = BundleFactory(requester=requester, min_overlap=1, max_overlap=1)
    for n in range(items):
        ItemFactory(bundle=bundle, payload={"text": f"item {n}"})
    return publish(bundle)


def _answer(bundle, worker):
    claimed = work.assignment_claim(bundle=bundle, worker=worker)
    services.assignment_submit(assignment_id=claimed.pk, worker=worker, answer="pos")
    return claimed.pk


# -- profile ---------------------------------------------------------------------------------


def test_profile_shows_standing_qualifications_and_payout_account(client):
    worker = WorkerFactory(email="pat@example.com")
    profile = worker.worker_profile
    profile.country = "DE"
    profile.approved_count, profile.rejected_count = 9, 3
    profile.save()
    owner = RequesterFactory()
    system = Qualification.objects.create(name="approval-rate", is_system=True)
    custom = Qualification.objects.create(name="german-speaker", owner=owner)
    WorkerQualification.objects.create(worker=worker, qualification=system, value=75)
    WorkerQualification.objects.create(worker=worker, qualification=custom, value=1)
    ConnectedAccount.objects.create(
        worker=worker, stripe_account_id="acct_123", payouts_enabled=True, details_submitted=True
    )

    client.force_login(worker)
    response = client.get("/work/profile/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<title>Your profile" in html
    assert "pat@example.com" in html and "<dd>DE</dd>" in html
    assert ">Active</span>" in html
    assert '<dd id="approval-rate">75%' in html
    assert '<dd id="approved-count">9</dd>' in html
    assert "<code>approval-rate</code>" in html and '<td class="num">75</td>' in html
    assert "<code>german-speaker</code>" in html and "owner" not in html
    assert "Stripe payout account set up" in html
    assert 'href="/work/profile/"' in html  # linked from the worker nav


def test_profile_of_a_suspended_worker_gives_the_reason_and_no_payout_account(client):
    worker = WorkerFactory()
    profile = worker.worker_profile
    profile.status = WorkerStatus.SUSPENDED
    profile.status_reason = "Too many failed gold checks"
    profile.save()

    client.force_login(worker)
    html = client.get("/work/profile/").content.decode()
    assert ">Suspended</span>" in html
    assert '<dd id="status-reason">Too many failed gold checks</dd>' in html
    assert "No qualifications yet" in html
    assert "(nothing reviewed yet)" in html
    assert "Stripe payout account" not in html


def test_profile_refuses_a_requester_only_user_clearly(client):
    client.force_login(RequesterFactory())
    response = client.get("/work/profile/")
    assert response.status_code == 403
    assert b"This page needs a worker account" in response.content


def test_profile_needs_a_login(client):
    response = client.get("/work/profile/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# -- requester approval rate on "Find work" ---------------------------------------------------


def test_find_work_shows_each_requesters_approval_rate_or_new_requester(client):
    seasoned, fresh = RequesterFactory(), RequesterFactory()
    old = _bundle(seasoned, items=4)
    others = [WorkerFactory() for _ in range(4)]
    ids = [_answer(old, w) for w in others[:3]]
    review.assignments_review(requester=seasoned, assignment_ids=ids[:2], approve=True)
    review.assignments_review(
        requester=seasoned, assignment_ids=ids[2:], approve=False, reason="Wrong"
    )
    _answer(old, others[3])  # submitted, not reviewed: not counted
    newer = _bundle(seasoned)  # the rate covers all of the requester's bundles
    unreviewed = _bundle(fresh)

    client.force_login(WorkerFactory())
    html = client.get("/work/").content.decode()
    cards = {b.title: html[html.index(b.title) :][:1200] for b in (newer, unreviewed)}
    assert "66% of reviewed work" in cards[newer.title]  # 2 of 3, floored
    assert "new requester" in cards[unreviewed.title]
    assert "new requester" not in cards[newer.title]


def test_find_work_queries_do_not_grow_with_bundles(client, django_assert_max_num_queries):
    worker = WorkerFactory()
    client.force_login(worker)
    requester = RequesterFactory()
    first = _bundle(requester)
    _answer(first, WorkerFactory())
    with django_assert_max_num_queries(12) as one:
        assert client.get("/work/").status_code == 200
    baseline = len(one.captured_queries)

    for _ in range(5):
        bundle = _bundle(RequesterFactory())
        ids = [_answer(bundle, WorkerFactory()) for _ in range(2)]
        review.assignments_review(requester=bundle.requester, assignment_ids=ids, approve=True)
    with django_assert_max_num_queries(baseline) as many:
        html = client.get("/work/").content.decode()
    assert html.count("100% of reviewed work") == 5
    rate_queries = [q for q in many.captured_queries if "COUNT(" in q["sql"].upper()]
    assert len(rate_queries) == 1


# -- review queue legend -----------------------------------------------------------------------


def test_review_queue_has_a_keyboard_legend_and_works_without_js(client):
    requester = RequesterFactory()
    bundle = _bundle(requester)
    ids = [_answer(bundle, WorkerFactory()) for _ in range(2)]
    client.force_login(requester)
    html = client.get(f"/bundles/{bundle.pk}/review/").content.decode()
    assert 'id="review-keys"' in html and "<kbd>j</kbd>" in html and "<kbd>a</kbd>" in html
    assert "js/review.js" in html
    assert html.count("<tr data-review-row>") == 2
    # The plain form still does the job.
    response = client.post(f"/bundles/{bundle.pk}/review/", {"ids": ids, "action": "approve"})
    assert response.status_code == 302
