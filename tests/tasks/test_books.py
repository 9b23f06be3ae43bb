"""The books check across both apps: the ledger's own self-check plus the invariant that every
bundle's escrow covers its pending work (issue 11, defect 3), and the jobs that must not stop
at one bad bundle."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from payments import services as payments
from tasks import review, services
from tasks import work as tasks_work
from tasks.escrow import escrow_settle
from tasks.models import Assignment, AssignmentStatus
from tasks.selectors import books_problems, escrow_problems
from tests.factories import BundleFactory, ItemFactory, WorkerFactory, publish

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fees(settings):
    settings.PLATFORM_FEE_PERCENT = 20
    settings.PLATFORM_MIN_FEE_MINOR = 1


def _bundle_with_answers(requester, answers: int, items: int = 4):
    bundle = BundleFactory(requester=requester, reward_minor=5, min_overlap=1, max_overlap=1)
    for _ in range(items):
        ItemFactory(bundle=bundle)
    bundle = publish(bundle)
    done = []
    for _ in range(answers):
        worker = WorkerFactory()
        claim = tasks_work.assignment_claim(bundle=bundle, worker=worker)
        done.append(services.assignment_submit(assignment_id=claim.pk, worker=worker, answer="pos"))
    return bundle, done


def _drain(bundle, amount):
    """What the escrow race did: money left escrow that pending work still needed."""
    payments.escrow_release(
        requester_id=bundle.requester_id, bundle_id=bundle.pk, currency="usd",
        amount_minor=amount, idempotency_key=f"drain-{bundle.pk}",
    )  # fmt: skip


def test_escrow_covering_pending_work_is_checked(requester, capsys):
    bundle, done = _bundle_with_answers(requester, answers=2)
    tasks_work.assignment_claim(bundle=bundle, worker=WorkerFactory())  # a live claim counts
    assert escrow_problems() == books_problems() == []
    call_command("check_books")
    assert "OK" in capsys.readouterr().out
    # cancelled: escrow keeps 3 judgments' worth (the claim is ended: 2 answers wait)
    services.bundle_cancel(bundle=bundle, by=requester)
    assert payments.escrow_balance(bundle_id=bundle.pk, currency="usd") == 2 * 6
    assert escrow_problems() == []
    _drain(bundle, 7)
    assert escrow_problems() == [f"bundle {bundle.pk}: escrow 5 usd < 2 pending judgments x 6"]
    with pytest.raises(CommandError, match="1 problem"):
        call_command("check_books")
    assert f"PROBLEM bundle {bundle.pk}" in capsys.readouterr().out


def test_settle_keeps_exactly_the_pending_work_and_the_last_review_empties_escrow(
    requester, django_capture_on_commit_callbacks
):
    bundle, (first, second) = _bundle_with_answers(requester, answers=2, items=5)
    services.bundle_cancel(bundle=bundle, by=requester)
    assert payments.escrow_balance(bundle_id=bundle.pk, currency="usd") == 12
    assert escrow_settle(bundle_id=bundle.pk) == 0  # nothing more to give back
    review.assignment_approve(assignment_id=first.pk, by=requester)
    assert payments.escrow_balance(bundle_id=bundle.pk, currency="usd") == 6
    with django_capture_on_commit_callbacks(execute=True):  # the settle follows on commit
        review.assignment_reject(assignment_id=second.pk, by=requester, reason="wrong")
    assert payments.escrow_balance(bundle_id=bundle.pk, currency="usd") == 0
    assert books_problems() == []


def test_auto_approve_goes_on_past_an_approval_its_escrow_cannot_pay(requester, caplog):
    broken, (stuck,) = _bundle_with_answers(requester, answers=1, items=1)
    fine, (due,) = _bundle_with_answers(requester, answers=1, items=1)
    _drain(broken, 6)
    long_ago = timezone.now() - timedelta(days=30)
    Assignment.objects.filter(pk__in=[stuck.pk, due.pk]).update(submitted_at=long_ago)
    assert review.assignments_auto_approve() == 1
    assert Assignment.objects.get(pk=due.pk).status == AssignmentStatus.APPROVED
    assert Assignment.objects.get(pk=stuck.pk).status == AssignmentStatus.SUBMITTED
    assert f"auto-approval of assignment {stuck.pk} refused" in caplog.text
    assert escrow_problems() == [f"bundle {broken.pk}: escrow 0 usd < 1 pending judgments x 6"]
