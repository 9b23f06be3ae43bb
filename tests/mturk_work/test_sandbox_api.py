"""MTurk's sandbox endpoint through boto3: `/mturk/sandbox/` with the same keys, a play-money
balance, HITs only the requester's test workers see, nothing taken from real money."""

from __future__ import annotations

from typing import Any

import pytest

from marketplace.mturk.keys import access_key_create
from payments import services as payments
from payments.selectors import ledger_problems
from tasks import selectors, work
from tasks.models import Bundle
from tasks.sandbox import sandbox_tester_add
from tests.factories import RequesterFactory, WorkerFactory, fund
from tests.mturk.conftest import HIT_TYPE, HTML_QUESTION, answer_hit, mturk_client

pytestmark = pytest.mark.django_db(transaction=True)


def sandbox_client(live_server: Any, key_id: str, secret: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "mturk",
        endpoint_url=live_server.url + "/mturk/sandbox/",
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}),
    )


def test_sandbox_endpoint_pays_in_play_money_for_testers_only(live_server):
    requester = RequesterFactory()
    fund(requester, 50_000)
    key, secret = access_key_create(requester=requester)
    live = mturk_client(live_server.url, key.access_key_id, secret)
    sandbox = sandbox_client(live_server, key.access_key_id, secret)

    assert sandbox.get_account_balance()["AvailableBalance"] == "10000.00"
    hit = sandbox.create_hit(
        **HIT_TYPE, MaxAssignments=1, LifetimeInSeconds=3600, Question=HTML_QUESTION
    )["HIT"]
    # the same HIT type properties on the live endpoint are another type, in real money
    live_type = live.create_hit_type(**HIT_TYPE)["HITTypeId"]
    assert live_type != hit["HITTypeId"]
    assert live.get_account_balance()["AvailableBalance"] == "500.00"

    from marketplace.mturk.models import HIT

    bundle = Bundle.objects.get(pk=HIT.objects.get(hit_id=hit["HITId"]).item.bundle_id)
    assert bundle.currency == "xts"
    stranger, tester = WorkerFactory(), WorkerFactory()
    sandbox_tester_add(requester=requester, worker=tester)
    assert bundle.pk not in [b.pk for b in selectors.bundles_for_worker(stranger)]
    with pytest.raises(Exception, match="sandbox-tester"):
        work.assignment_claim(bundle=bundle, worker=stranger)

    _, assignment_pk = answer_hit(hit["HITId"], {"sentiment": "positive"}, worker=tester)
    assignment = sandbox.list_assignments_for_hit(HITId=hit["HITId"])["Assignments"][0]
    sandbox.approve_assignment(AssignmentId=assignment["AssignmentId"])
    sandbox.send_bonus(
        WorkerId=assignment["WorkerId"],
        BonusAmount="1.00",
        AssignmentId=assignment["AssignmentId"],
        Reason="thanks for testing",
        UniqueRequestToken="sandbox-bonus-1",
    )
    assert payments.worker_available(worker_id=tester.pk, currency="xts") == 5 + 100
    assert payments.worker_available(worker_id=tester.pk, currency="usd") == 0
    assert payments.requester_available(requester_id=requester.pk, currency="usd") == 50_000
    assert sandbox.get_account_balance()["AvailableBalance"] == "10000.00"  # filled up again
    assert ledger_problems() == []
