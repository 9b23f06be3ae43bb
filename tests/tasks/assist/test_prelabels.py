"""Pre-labels shown to workers (`assist.show_prelabels`, off by default): the API task and the
task page carry the model's suggestion, never on gold, audited items or a switched-off model,
and never to anyone but the worker holding the claim."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tasks.models import Bundle
from tests.conftest import client_for
from tests.factories import ItemFactory, WorkerFactory
from tests.tasks.assist.test_closed_loop import ASSIST, _bundle, _post, _publish

pytestmark = pytest.mark.django_db

SHOWN = {**ASSIST, "auto_accept": False, "show_prelabels": True}


def _claim(bundle, worker):
    response = client_for(worker).post(f"/api/v1/work/bundles/{bundle.pk}/claim/")
    assert response.status_code == 201, response.content
    return response.json()


def _live(requester, assist=SHOWN, confidence=0.8, gold=False, **fields):
    bundle = _bundle(requester, items=1, assist=assist, **fields)
    if gold:
        ItemFactory(bundle=bundle, is_gold=True, gold="neg", slots_open=0)
    _post(requester, bundle, [{"external_id": "r0", "label": "pos", "confidence": confidence}])
    return _publish(bundle)


def test_the_api_task_carries_the_models_suggestion(requester, draw):
    bundle = _live(requester)
    task = _claim(bundle, WorkerFactory())
    assert task["prelabel"] == {"label": "pos", "confidence": 0.8, "model_version": 1}


def test_off_by_default(requester, draw):
    bundle = _live(requester, assist={**ASSIST, "auto_accept": False})
    assert _claim(bundle, WorkerFactory())["prelabel"] is None


def test_never_on_gold(requester, draw):
    bundle = _live(requester, gold_rate=0.5, gold=True)
    draw.gold()
    task = _claim(bundle, WorkerFactory())
    assert task["item"]["id"] != bundle.items.get(external_id="r0").pk
    assert task["prelabel"] is None


def test_never_on_audited_items_nor_after_the_audit_switched_the_model_off(requester, draw):
    audited = _live(requester, assist={**SHOWN, "audit_rate": 1.0}, confidence=0.99)
    assert _claim(audited, WorkerFactory())["prelabel"] is None  # people judge it unaided
    bundle = _live(requester)
    Bundle.objects.filter(pk=bundle.pk).update(assist_status={"model_off": True})
    assert _claim(bundle, WorkerFactory())["prelabel"] is None


def test_only_the_claim_holder_sees_it(requester, draw):
    bundle = _live(requester)
    task = _claim(bundle, WorkerFactory())
    other = client_for(WorkerFactory()).get(f"/api/v1/work/assignments/{task['id']}/")
    assert other.status_code == 404
    assert (
        "prelabel"
        not in client_for(requester)
        .get(f"/api/v1/bundles/{bundle.pk}/assignments/")
        .content.decode()
    )


def test_the_task_page_shows_the_suggestion(requester, draw, client):
    bundle = _live(requester)
    worker = WorkerFactory()
    client.force_login(worker)
    page = client.post(
        reverse("web:work-next", args=[bundle.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "data-prelabel" in page and "<strong>Positive</strong> (80% sure)" in page
    plain = _live(requester, assist={**ASSIST, "auto_accept": False})
    page = client.post(
        reverse("web:work-next", args=[plain.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "data-prelabel" not in page
