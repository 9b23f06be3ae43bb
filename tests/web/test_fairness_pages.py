"""Issue 15 in the browser's pages (server side): a worker appeals a rejection from Earnings,
the requester answers on "Appeals & blocks", the worker reads the answer and their hourly pay;
reports and the requester's block list; the bundle page's answer to a pilot below the floor.
Every page and form refuses other people's objects."""

from __future__ import annotations

import pytest

from tasks import pay_pilot, review
from tasks.fairness import appeals
from tasks.models import Appeal, AppealStatus, AssignmentStatus, BundleReport, WorkerBlock
from tasks.selectors import worker_public_id
from tests.factories import BundleFactory, ItemFactory, RequesterFactory, WorkerFactory, publish
from tests.tasks.fairness.helpers import answer

pytestmark = pytest.mark.django_db


def _bundle(requester, items=4, **fields):
    bundle = BundleFactory(requester=requester, min_overlap=1, max_overlap=1, **fields)
    for _ in range(items):
        ItemFactory(bundle=bundle)
    return publish(bundle)


def test_appeal_from_earnings_answered_by_the_requester(client, requester, workers):
    bundle = _bundle(requester)
    work = answer(bundle, workers[0], seconds=20)
    review.assignment_reject(assignment_id=work.pk, by=requester, reason="Off topic")
    client.force_login(workers[0])
    earnings = client.get("/work/earnings/").content.decode()
    assert f"/work/tasks/{work.pk}/appeal/" in earnings
    form = client.get(f"/work/tasks/{work.pk}/appeal/")
    assert "Off topic" in form.content.decode()
    sent = client.post(f"/work/tasks/{work.pk}/appeal/", {"message": "It is on topic."})
    assert sent.status_code == 302
    appeal = Appeal.objects.get()

    client.force_login(requester)
    page = client.get("/appeals/").content.decode()
    assert "It is on topic." in page and worker_public_id(requester.pk, workers[0].pk) in page
    assert workers[0].email not in page  # pseudonyms only
    client.post(f"/appeals/{appeal.pk}/answer/", {"decision": "overturn", "reason": ""})
    appeal.refresh_from_db()
    work.refresh_from_db()
    assert (appeal.status, work.status) == (AppealStatus.OVERTURNED, AssignmentStatus.APPROVED)

    client.force_login(workers[0])
    mine = client.get("/work/fair/").content.decode()
    assert 'data-appeal-status="overturned"' in mine
    assert bundle.title in mine  # the hourly pay history lists the bundle


def test_appeal_pages_refuse_other_peoples_objects(client, requester, workers):
    bundle = _bundle(requester)
    work = answer(bundle, workers[0])
    review.assignment_reject(assignment_id=work.pk, by=requester, reason="No")
    client.force_login(workers[1])
    assert client.get(f"/work/tasks/{work.pk}/appeal/").status_code == 404
    assert client.post(f"/work/tasks/{work.pk}/appeal/", {"message": "mine"}).status_code == 404
    appeal = appeals.appeal_rejection(worker=workers[0], assignment_id=work.pk, message="m")
    other = RequesterFactory()
    client.force_login(other)
    assert client.get("/appeals/").context["appeals"] == []
    client.post(f"/appeals/{appeal.pk}/answer/", {"decision": "overturn"})
    appeal.refresh_from_db()
    assert appeal.status == AppealStatus.OPEN  # refused: not theirs
    client.force_login(workers[0])
    assert client.get("/appeals/").status_code == 403  # a worker has no requester page


def test_report_a_bundle_and_the_requester_reads_it(client, requester, workers):
    bundle = _bundle(requester)
    client.force_login(workers[0])
    assert client.get(f"/work/{bundle.pk}/report/").status_code == 200
    client.post(f"/work/{bundle.pk}/report/", {"reason": "unclear", "message": "Which scale?"})
    assert BundleReport.objects.get().message == "Which scale?"
    client.force_login(requester)
    detail = client.get(f"/bundles/{bundle.pk}/").content.decode()
    assert "Which scale?" in detail and "Unclear instructions" in detail
    assert "Which scale?" in client.get("/appeals/").content.decode()
    client.force_login(RequesterFactory())
    assert "Which scale?" not in client.get("/appeals/").content.decode()


def test_requester_block_list_page_and_lift(client, requester, workers):
    bundle = _bundle(requester)
    answer(bundle, workers[0])
    client.force_login(requester)
    pseudonym = worker_public_id(requester.pk, workers[0].pk)
    client.post("/blocks/", {"worker_id": pseudonym, "reason": "Rude messages"})
    block = WorkerBlock.objects.get()
    assert (block.scope, block.reason) == ("requester", "Rude messages")
    client.force_login(workers[0])
    assert "Rude messages" in client.get("/work/fair/").content.decode()
    client.force_login(RequesterFactory())
    client.post(f"/blocks/{block.pk}/lift/")
    block.refresh_from_db()
    assert block.lifted_at is None  # another requester cannot lift it
    client.force_login(requester)
    client.post(f"/blocks/{block.pk}/lift/", {"reason": "Sorted out"})
    block.refresh_from_db()
    assert block.lift_reason == "Sorted out"


def test_bundle_page_offers_the_way_out_of_a_pilot_below_the_floor(client, requester, settings):
    settings.PAY_FLOOR_PILOT_JUDGMENTS = 2
    bundle = _bundle(requester, items=4)
    crowd = [WorkerFactory(), WorkerFactory()]
    for worker in crowd:
        answer(bundle, worker, seconds=90)
    assert pay_pilot.pilot_check(bundle_id=bundle.pk) == "below"
    client.force_login(requester)
    page = client.get(f"/bundles/{bundle.pk}/").content.decode()
    assert 'id="pay-floor-paused"' in page and "Raise the reward to resume" in page
    client.post(f"/bundles/{bundle.pk}/pay-floor/", {"action": "raise_reward", "reward": "99"})
    bundle.refresh_from_db()
    assert (bundle.status, bundle.reward_minor) == ("published", 99)
    client.force_login(RequesterFactory())
    client.post(f"/bundles/{bundle.pk}/pay-floor/", {"action": "confirm_topup"})
    bundle.refresh_from_db()
    assert bundle.pay_floor_state == "ok"  # a stranger changed nothing
