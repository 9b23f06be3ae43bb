"""Issue 15, find work on the API: `GET /api/v1/work/bundles/` searches, filters and sorts as
the page does (the same selector, `tasks.find_work`), with the estimates on each bundle, and
the OpenAPI schema documents the parameters."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

from tests.conftest import client_for
from tests.factories import WorkerFactory
from tests.web.test_find_work import market, paced, titles  # noqa: F401 (market: a fixture)

pytestmark = pytest.mark.django_db


def listed(worker, query=""):
    response = client_for(worker).get("/api/v1/work/bundles/" + query)
    assert response.status_code == 200, response.content[:300]
    return response.json()["results"]


def api_titles(worker, query=""):
    return [b["title"] for b in listed(worker, query)]


def test_the_api_searches_and_filters_as_the_page_does(client, market):  # noqa: F811
    acme, other, _ = market
    worker = WorkerFactory()
    client.force_login(worker)
    for api_query, page_query in [
        ("?q=cats", "?q=cats"),
        ("?q=german+english", "?q=german+english"),
        ("?q=acme", "?q=acme"),
        ("?min_reward=10", "?min_reward=0.10"),  # the API counts minor units, as `reward`
        ("?max_minutes=10", "?max_minutes=10"),
        (f"?requester={acme.pk}", f"?requester={acme.pk}"),
        ("?type=rating", "?type=rating"),
        ("?sort=tasks_left", "?sort=tasks_left"),
    ]:
        assert api_titles(worker, api_query) == titles(client, page_query), api_query
    assert api_titles(worker, "?q=cats&type=rating") == []


def test_the_api_sorts_by_hourly_pay_and_shows_the_estimate(client, market):  # noqa: F811
    acme, _, bundles = market
    paced(bundles["cheap"], seconds=6)  # 2 cents per 6 s: $12/h
    paced(bundles["rich"], seconds=240)  # 40 cents per 4 min: $6/h
    worker = WorkerFactory()
    rows = listed(worker, "?sort=hourly")
    assert [r["title"] for r in rows] == [
        "Spot cats in photos", "Translate product reviews", "Rate the summary",  # no data: last
    ]  # fmt: skip
    cheap = rows[0]
    assert cheap["hourly_pay"] == 1200 and cheap["typical_seconds"] == 6
    assert cheap["requester_name"] == "Acme Labs" and cheap["type"] == "single_choice"
    assert rows[2]["hourly_pay"] is None and rows[2]["typical_seconds"] is None
    assert acme.email not in str(rows)
    assert api_titles(worker, "?min_hourly=1000") == ["Spot cats in photos"]


def test_bad_filters_are_a_400_naming_the_parameter(market):  # noqa: F811
    response = client_for(WorkerFactory()).get(
        "/api/v1/work/bundles/?min_reward=-1&max_minutes=zero&sort=cheapest"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert {"min_reward", "max_minutes", "sort"} <= set(body["errors"])


def test_the_schema_documents_the_find_work_parameters():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/work/bundles/"]["get"]
    params = {p["name"]: p for p in operation["parameters"]}
    assert {"q", "min_reward", "min_hourly", "max_minutes", "requester", "type", "sort"} <= set(
        params
    )
    assert set(params["sort"]["schema"]["enum"]) == {"newest", "hourly", "tasks_left", "reward"}
    assert params["min_reward"]["schema"]["type"] == "integer"
    assert params["min_hourly"]["description"]
    item = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert item  # a paginated list of bundles with their estimates
