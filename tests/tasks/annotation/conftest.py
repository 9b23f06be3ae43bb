"""Helpers for the annotation API tests: a bundle made, filled and published through the API
as a requester would, and the gold draw steered."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from tests.conftest import client_for
from tests.tasks.quality.conftest import GoldDraw


@pytest.fixture
def draw(monkeypatch):
    return GoldDraw(monkeypatch)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def bundle_create(req, question, **settings):
    body = {
        "title": "Annotate",
        "instructions": "Look closely.",
        "question": question,
        "reward": 5,
        "currency": "usd",
        "time_limit_seconds": 600,
        **settings,
    }
    created = req.post("/api/v1/bundles/", body, format="json")
    assert created.status_code == 201, created.json()
    return created.json()


def upload_jsonl(req, bundle_id, rows):
    body = "\n".join(json.dumps(row) for row in rows)
    return req.generic(
        "POST", f"/api/v1/bundles/{bundle_id}/items/", body, content_type="application/x-ndjson"
    )


def upload_csv(req, bundle_id, text):
    return req.generic("POST", f"/api/v1/bundles/{bundle_id}/items/", text, content_type="text/csv")


def fund_and_publish(req, requester, bundle_id):
    call_command("credit_balance", requester.email, "100000", "--reference", f"INV-{bundle_id}")
    published = req.post(f"/api/v1/bundles/{bundle_id}/publish/")
    assert published.status_code == 200, published.json()
    return published.json()


def claim(worker, bundle_id):
    claimed = client_for(worker).post(f"/api/v1/work/bundles/{bundle_id}/claim/")
    assert claimed.status_code == 201, claimed.json()
    return claimed.json()


def submit(worker, assignment_id, answer, *, next_task=False):
    """Submit as a worker's request does: committed, so the quality follow-up has run."""
    from django.test import TestCase

    url = f"/api/v1/work/assignments/{assignment_id}/submit/" + ("?next=1" if next_task else "")
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client_for(worker).post(url, {"answer": answer}, format="json")


def results(req, bundle_id):
    body = b"".join(req.get(f"/api/v1/bundles/{bundle_id}/results/?format=json").streaming_content)
    return {row["external_id"]: row for row in json.loads(body)}
