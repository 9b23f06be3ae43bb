"""The whole loop through the API: create, upload, publish, claim and submit as three
workers, approve, download results."""

import csv
import io
import json

import pytest
from django.core.management import call_command

from payments import services as payments
from payments.selectors import ledger_problems
from tasks.models import AssignmentStatus, BundleStatus, Item, ItemState
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def test_requester_to_workers_to_results(requester, workers):
    req = client_for(requester)
    created = req.post(
        "/api/v1/bundles/",
        {
            "title": "Is this review positive?",
            "instructions": "Read the review.",
            "question": {
                "type": "single_choice",
                "choices": [
                    {"value": "pos", "label": "Positive"},
                    {"value": "neg", "label": "Negative"},
                ],
            },
            "reward": 5,
            "currency": "usd",
            "overlap": 3,
            "time_limit_seconds": 600,
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    bundle_id = created.json()["id"]
    assert created.json()["status"] == "draft"

    upload = req.generic(
        "POST",
        f"/api/v1/bundles/{bundle_id}/items/",
        "external_id,text\nr1,great product\nr2,terrible\n",
        content_type="text/csv",
    )
    assert upload.status_code == 201, upload.json()
    assert upload.json() == {"created": 2, "gold": 0}

    # 2 items x overlap 3 x (5 reward + 1 fee) = 36 must be in escrow first
    broke = req.post(f"/api/v1/bundles/{bundle_id}/publish/")
    assert broke.status_code == 402
    assert (broke.json()["code"], broke.json()["missing_minor"]) == ("insufficient_funds", 36)
    assert req.get(f"/api/v1/bundles/{bundle_id}/").json()["status"] == "draft"
    call_command("credit_balance", requester.email, "100", "--reference", "INV-1")

    published = req.post(f"/api/v1/bundles/{bundle_id}/publish/")
    assert published.status_code == 200, published.json()
    assert payments.requester_available(requester_id=requester.pk, currency="usd") == 64
    assert published.json()["status"] == "published"

    for worker in workers:
        wc = client_for(worker)
        listed = wc.get("/api/v1/work/bundles/").json()["results"]
        assert [b["id"] for b in listed] == [bundle_id]
        for _ in range(2):
            claim = wc.post(f"/api/v1/work/bundles/{bundle_id}/claim/")
            assert claim.status_code == 201, claim.json()
            body = claim.json()
            assert set(body) >= {"id", "item", "question", "instructions", "deadline", "reward"}
            assert "gold" not in json.dumps(body["item"])
            answer = "pos" if body["item"]["payload"]["text"] == "great product" else "neg"
            submitted = wc.post(
                f"/api/v1/work/assignments/{body['id']}/submit/", {"answer": answer}, format="json"
            )
            assert submitted.status_code == 200, submitted.json()
        none_left = wc.post(f"/api/v1/work/bundles/{bundle_id}/claim/")
        assert none_left.status_code == 409
        assert none_left.json()["code"] == "no_tasks_available"

    assert Item.objects.filter(bundle_id=bundle_id, state=ItemState.COMPLETE).count() == 2
    submitted = req.get(f"/api/v1/bundles/{bundle_id}/assignments/?status=submitted").json()
    ids = [a["id"] for a in submitted["results"]]
    assert len(ids) == 6
    reviewed = req.post(
        "/api/v1/assignments/review/", {"ids": ids, "action": "approve"}, format="json"
    )
    assert reviewed.json() == {"done": ids, "errors": {}}
    detail = req.get(f"/api/v1/bundles/{bundle_id}/").json()
    assert detail["status"] == BundleStatus.COMPLETED
    assert detail["progress"]["assignments_approved"] == 6

    lines = b"".join(
        req.get(f"/api/v1/bundles/{bundle_id}/results/?format=jsonl").streaming_content
    )
    rows = [json.loads(line) for line in lines.decode().splitlines()]
    assert [r["external_id"] for r in rows] == ["r1", "r2"]
    assert [j["answer"] for j in rows[0]["judgments"]] == ["pos"] * 3
    worker_ids = {j["worker_id"] for j in rows[0]["judgments"]}
    assert len(worker_ids) == 3
    assert not worker_ids & {str(w.pk) for w in workers}

    text = b"".join(req.get(f"/api/v1/bundles/{bundle_id}/results/?format=csv").streaming_content)
    table = list(csv.DictReader(io.StringIO(text.decode())))
    assert table[1]["text"] == "terrible"
    assert len(json.loads(table[1]["judgments"])) == 3

    whole = json.loads(
        b"".join(req.get(f"/api/v1/bundles/{bundle_id}/results/?format=json").streaming_content)
    )
    assert len(whole) == 2

    history = client_for(workers[0]).get("/api/v1/work/assignments/").json()["results"]
    assert {a["status"] for a in history} == {AssignmentStatus.APPROVED}

    # money: each worker earned 2 x 5, the platform 6 x 1, escrow is empty
    for worker in workers:
        assert payments.worker_available(worker_id=worker.pk, currency="usd") == 10
    assert payments.escrow_balance(bundle_id=bundle_id, currency="usd") == 0
    assert payments.requester_available(requester_id=requester.pk, currency="usd") == 64
    assert ledger_problems() == []
