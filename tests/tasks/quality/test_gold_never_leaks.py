"""Gold answers never leave the server in a worker-facing response, gold feedback on or off."""

from __future__ import annotations

import pytest

from tests.conftest import client_for
from tests.factories import WorkerFactory

from .conftest import live_bundle_with

pytestmark = pytest.mark.django_db

SECRET = "zebra-gold-secret-42"
FORBIDDEN_KEYS = {"gold", "is_gold", "gold_correct"}


def _keys(value):
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from _keys(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _keys(inner)


def _clean(response):
    assert response.status_code < 300, response.content
    assert SECRET.encode() not in response.content
    assert FORBIDDEN_KEYS.isdisjoint(_keys(response.json()))
    return response.json()


@pytest.mark.parametrize("gold_feedback", [False, True])
def test_gold_answers_stay_on_the_server(draw, gold_feedback):
    bundle = live_bundle_with(
        items=2, gold=[SECRET] * 2, question={"type": "text", "max_length": 100},
        gold_rate=0.5, gold_feedback=gold_feedback, min_gold_accuracy=0.5,
    )  # fmt: skip
    worker = WorkerFactory()
    api = client_for(worker)
    _clean(api.get("/api/v1/work/bundles/"))
    _clean(api.get(f"/api/v1/work/bundles/{bundle.pk}/"))
    seen = []
    for kind in ("gold", "real", "gold", "real"):
        getattr(draw, kind)()
        claimed = _clean(api.post(f"/api/v1/work/bundles/{bundle.pk}/claim/"))
        submitted = _clean(
            api.post(
                f"/api/v1/work/assignments/{claimed['id']}/submit/",
                {"answer": "my own answer"},
                format="json",
            )
        )
        seen.append(submitted["id"])
        _clean(api.get(f"/api/v1/work/assignments/{claimed['id']}/"))
    listed = _clean(api.get("/api/v1/work/assignments/"))
    assert {a["id"] for a in listed["results"]} >= set(seen)
    _clean(api.get("/api/v1/work/assignments/?is_gold=true"))
