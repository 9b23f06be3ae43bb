"""What follows a submission: tasks.work records it and says whether the quality engine has to
look; the service layer runs that follow-up once the submission has committed, never before."""

import pytest

from tasks import services, work
from tasks.quality import services as quality
from tests.factories import BundleFactory, ItemFactory, WorkerFactory, publish


def _dynamic_bundle(**fields):
    """A bundle whose rules watch every submission (dynamic overlap may complete an item)."""
    bundle = BundleFactory(min_overlap=1, max_overlap=3, target_confidence=0.9, **fields)
    for _ in range(3):
        ItemFactory(bundle=bundle)
    return publish(bundle)


@pytest.fixture
def follow_ups(monkeypatch):
    calls = []
    monkeypatch.setattr(quality, "submission_recorded", lambda **kwargs: calls.append(kwargs))
    return calls


@pytest.mark.django_db
def test_the_follow_up_runs_on_commit_not_before(follow_ups, django_capture_on_commit_callbacks):
    bundle = _dynamic_bundle()
    worker = WorkerFactory()
    task = work.assignment_claim(bundle=bundle, worker=worker)
    with django_capture_on_commit_callbacks() as callbacks:
        submitted = services.assignment_submit(
            assignment_id=task.pk, worker=worker, answer="pos", bundle=bundle
        )
        assert submitted.status == "submitted"
        assert follow_ups == []  # recorded, but nothing has committed yet
    # the follow-up, then the bundle's (debounced) live update (tasks.quality.live)
    assert follow_ups == [] and len(callbacks) == 2
    callbacks[0]()  # the commit
    assert follow_ups == [
        {"assignment_id": task.pk, "bundle_id": bundle.pk, "worker_id": worker.pk,
         "item_id": task.item_id, "is_gold": False}
    ]  # fmt: skip


@pytest.mark.django_db
def test_the_recorded_submission_says_what_to_follow_up(live_bundle, follow_ups):
    worker = WorkerFactory()
    task = work.assignment_claim(bundle=live_bundle, worker=worker)
    fixed = work.submission_record(assignment_id=task.pk, worker=worker, answer="pos")
    assert fixed.follow_up is None  # fixed overlap, no rules: nothing to look at
    assert fixed.assignment.pk == task.pk and fixed.assignment.status == "submitted"
    bundle = _dynamic_bundle(requester=live_bundle.requester)
    task = work.assignment_claim(bundle=bundle, worker=worker)
    dynamic = work.submission_record(assignment_id=task.pk, worker=worker, answer="neg")
    assert dynamic.follow_up == work.FollowUp(
        assignment_id=task.pk, bundle_id=bundle.pk, worker_id=worker.pk, item_id=task.item_id,
        is_gold=False,
    )  # fmt: skip
    assert follow_ups == []  # tasks.work never calls the quality engine itself


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_follow_up_runs_before_the_next_claim(monkeypatch):
    """In autocommit (a request) the submission commits at once, so its follow-up has run
    before `assignment_submit` returns, and before the loop claims the next task."""
    order = []
    monkeypatch.setattr(quality, "submission_recorded", lambda **kw: order.append("follow-up"))
    real_claim = work.loop.assignment_claim

    def claim(**kwargs):
        order.append("claim")
        return real_claim(**kwargs)

    monkeypatch.setattr(work.loop, "assignment_claim", claim)
    bundle = _dynamic_bundle()
    worker = WorkerFactory()
    task = work.assignment_claim(bundle=bundle, worker=worker)
    step = services.assignment_submit_and_claim_next(
        assignment_id=task.pk, worker=worker, answer="pos", bundle=bundle
    )
    assert order == ["follow-up", "claim"]
    services.assignment_submit(assignment_id=step.next.pk, worker=worker, answer="pos")
    assert order == ["follow-up", "claim", "follow-up"]
