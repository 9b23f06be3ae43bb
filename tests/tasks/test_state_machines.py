"""Every transition not in the maps is refused, with a stable code, and changes nothing."""

import itertools

import pytest

from marketplace.errors import DomainError
from tasks import review, services, work
from tasks.models import Assignment, AssignmentStatus, BundleStatus
from tasks.states import ASSIGNMENT_TRANSITIONS, BUNDLE_TRANSITIONS
from tests.factories import BundleFactory, ItemFactory, WorkerFactory, fund, publish

pytestmark = pytest.mark.django_db

BUNDLE_ACTIONS = {
    # action: (service, target status, extra condition on the source status)
    "publish": (services.bundle_publish, BundleStatus.PUBLISHED, {BundleStatus.DRAFT}),
    "resume": (services.bundle_resume, BundleStatus.PUBLISHED, {BundleStatus.PAUSED}),
    "pause": (services.bundle_pause, BundleStatus.PAUSED, None),
    "cancel": (services.bundle_cancel, BundleStatus.CANCELLED, None),
}


@pytest.mark.parametrize(
    ("source", "action"), list(itertools.product(BundleStatus.values, BUNDLE_ACTIONS))
)
def test_bundle_transitions_follow_the_map(source, action):
    service, target, only_from = BUNDLE_ACTIONS[action]
    bundle = BundleFactory(status=source)
    ItemFactory(bundle=bundle)
    fund(bundle.requester)
    allowed = target in BUNDLE_TRANSITIONS[source] and (only_from is None or source in only_from)
    if allowed:
        assert service(bundle=bundle, by=bundle.requester).status == target
        assert bundle.events.filter(from_status=source, to_status=target).exists()
    else:
        with pytest.raises(DomainError) as refused:
            service(bundle=bundle, by=bundle.requester)
        assert refused.value.code == "invalid_transition"
        bundle.refresh_from_db()
        assert bundle.status == source


def test_expiry_is_a_transition_too():
    for source in BundleStatus.values:
        bundle = BundleFactory(status=source)
        if BundleStatus.EXPIRED in BUNDLE_TRANSITIONS[source]:
            assert services.bundle_expire(bundle=bundle).status == BundleStatus.EXPIRED
        else:
            with pytest.raises(DomainError):
                services.bundle_expire(bundle=bundle)


ASSIGNMENT_ACTIONS = {
    "submit": AssignmentStatus.SUBMITTED,
    "return": AssignmentStatus.RETURNED,
    "approve": AssignmentStatus.APPROVED,
    "reject": AssignmentStatus.REJECTED,
}


def _act(action, assignment, worker, requester):
    if action == "submit":
        return services.assignment_submit(assignment_id=assignment.pk, worker=worker, answer="pos")
    if action == "return":
        return work.assignment_return(assignment_id=assignment.pk, worker=worker)
    if action == "approve":
        return review.assignment_approve(assignment_id=assignment.pk, by=requester)
    return review.assignment_reject(assignment_id=assignment.pk, by=requester, reason="wrong")


@pytest.mark.parametrize(
    ("source", "action"), list(itertools.product(AssignmentStatus.values, ASSIGNMENT_ACTIONS))
)
def test_assignment_transitions_follow_the_map(source, action):
    bundle = BundleFactory()
    ItemFactory(bundle=bundle)
    bundle = publish(bundle)
    worker = WorkerFactory()
    assignment = work.assignment_claim(bundle=bundle, worker=worker)
    if source in (AssignmentStatus.SUBMITTED, AssignmentStatus.APPROVED, AssignmentStatus.REJECTED):
        services.assignment_submit(assignment_id=assignment.pk, worker=worker, answer="pos")
    Assignment.objects.filter(pk=assignment.pk).update(status=source)
    target = ASSIGNMENT_ACTIONS[action]
    if target in ASSIGNMENT_TRANSITIONS[source]:
        _act(action, assignment, worker, bundle.requester)
        assert Assignment.objects.get(pk=assignment.pk).status == target
    else:
        with pytest.raises(DomainError) as refused:
            _act(action, assignment, worker, bundle.requester)
        assert refused.value.code == "invalid_transition"
        assert Assignment.objects.get(pk=assignment.pk).status == source


def test_publish_needs_items_and_gold_when_a_gold_rate_is_set():
    bundle = BundleFactory(gold_rate=0.1)
    with pytest.raises(DomainError) as empty:
        services.bundle_publish(bundle=bundle, by=bundle.requester)
    assert empty.value.code == "no_items"
    ItemFactory(bundle=bundle)
    with pytest.raises(DomainError) as no_gold:
        services.bundle_publish(bundle=bundle, by=bundle.requester)
    assert no_gold.value.code == "no_gold"
    ItemFactory(bundle=bundle, gold="pos")
    fund(bundle.requester)
    assert services.bundle_publish(bundle=bundle, by=bundle.requester).status == "published"


def test_live_bundles_lock_their_price_fields():
    bundle = BundleFactory(status=BundleStatus.PUBLISHED)
    with pytest.raises(DomainError) as locked:
        services.bundle_update(bundle=bundle, by=bundle.requester, data={"reward_minor": 50})
    assert locked.value.code == "field_locked"
    updated = services.bundle_update(bundle=bundle, by=bundle.requester, data={"title": "New"})
    assert updated.title == "New"
