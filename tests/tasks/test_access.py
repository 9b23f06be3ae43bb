"""Cross-tenant access: every object is scoped to its owner; what a caller cannot see is 404."""

import json

import pytest

from tasks import services
from tasks import work as tasks_work
from tasks.models import Bundle, BundleStatus
from tests.conftest import client_for
from tests.factories import BundleFactory, ItemFactory, RequesterFactory, WorkerFactory, publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    owner = RequesterFactory()
    bundle = BundleFactory(requester=owner, min_overlap=2, max_overlap=2, gold_rate=0.0)
    item = ItemFactory(bundle=bundle, payload={"text": "secret payload"})
    ItemFactory(bundle=bundle, gold="neg", payload={"text": "gold item"})
    bundle = publish(bundle)
    alice, bob = WorkerFactory(), WorkerFactory()
    work = tasks_work.assignment_claim(bundle=bundle, worker=alice)
    services.assignment_submit(assignment_id=work.pk, worker=alice, answer="pos")
    return {"owner": owner, "bundle": bundle, "item": item, "alice": alice, "bob": bob,
            "work": work, "stranger": RequesterFactory()}  # fmt: skip


REQUESTER_READS = [
    "/api/v1/bundles/{b}/",
    "/api/v1/bundles/{b}/items/",
    "/api/v1/bundles/{b}/assignments/",
    "/api/v1/bundles/{b}/results/?format=json",
    "/api/v1/bundles/{b}/workers/",
    "/api/v1/assignments/{a}/",
]
REQUESTER_WRITES = [
    ("patch", "/api/v1/bundles/{b}/", {"title": "mine now"}),
    ("delete", "/api/v1/bundles/{b}/", None),
    ("post", "/api/v1/bundles/{b}/pause/", None),
    ("post", "/api/v1/bundles/{b}/cancel/", None),
    ("post", "/api/v1/bundles/{b}/items/", [{"payload": {"text": "x"}}]),
    ("post", "/api/v1/bundles/{b}/workers/", {"worker_id": "w_x", "reason": "spam"}),
    ("post", "/api/v1/assignments/{a}/approve/", None),
    ("post", "/api/v1/assignments/{a}/reject/", {"reason": "no"}),
]


def _url(template, world):
    return template.format(b=world["bundle"].pk, a=world["work"].pk)


@pytest.mark.parametrize("template", REQUESTER_READS)
def test_another_requester_cannot_read(world, template):
    response = client_for(world["stranger"]).get(_url(template, world))
    assert response.status_code == 404
    assert client_for(world["owner"]).get(_url(template, world)).status_code == 200


@pytest.mark.parametrize(("method", "template", "body"), REQUESTER_WRITES)
def test_another_requester_cannot_change(world, method, template, body):
    client = client_for(world["stranger"])
    response = getattr(client, method)(_url(template, world), body, format="json")
    assert response.status_code == 404
    bundle = Bundle.objects.get(pk=world["bundle"].pk)
    assert (bundle.title, bundle.status) == (world["bundle"].title, BundleStatus.PUBLISHED)
    assert bundle.items.count() == 2


@pytest.mark.parametrize("template", REQUESTER_READS)
def test_workers_cannot_use_requester_endpoints(world, template):
    response = client_for(world["alice"]).get(_url(template, world))
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_a_worker_cannot_see_or_touch_another_workers_assignment(world):
    bob = client_for(world["bob"])
    work = world["work"]
    assert bob.get(f"/api/v1/work/assignments/{work.pk}/").status_code == 404
    assert bob.post(f"/api/v1/work/assignments/{work.pk}/submit/", {"answer": "neg"},
                    format="json").status_code == 404  # fmt: skip
    assert bob.post(f"/api/v1/work/assignments/{work.pk}/return/").status_code == 404
    assert bob.get("/api/v1/work/assignments/").json()["results"] == []


def test_worker_views_never_carry_gold_or_other_answers(world):
    bob = client_for(world["bob"])
    listed = bob.get("/api/v1/work/bundles/").json()["results"]
    detail = bob.get(f"/api/v1/work/bundles/{world['bundle'].pk}/").json()
    claim = bob.post(f"/api/v1/work/bundles/{world['bundle'].pk}/claim/").json()
    history = bob.get("/api/v1/work/assignments/").json()
    keys = set(_keys([listed, detail, claim, history]))
    assert not keys & {"gold", "is_gold", "gold_correct", "worker_id", "worker", "judgments"}
    assert world["alice"].email not in json.dumps([listed, detail, claim, history])
    assert history["results"] == [] or all(a["id"] != world["work"].pk for a in history["results"])


def _keys(value):
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from _keys(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _keys(inner)


def test_anonymous_is_refused_everywhere(world, api):
    for template in [*REQUESTER_READS, "/api/v1/work/bundles/", "/api/v1/work/assignments/"]:
        response = api.get(_url(template, world))
        assert response.status_code == 401, template
        assert response.json()["code"] == "not_authenticated"


def test_results_name_workers_by_a_per_requester_pseudonym(world):
    from tasks.selectors import worker_public_id

    owner = world["owner"]
    rows = json.loads(
        b"".join(client_for(owner).get(
            f"/api/v1/bundles/{world['bundle'].pk}/results/?format=json").streaming_content)
    )  # fmt: skip
    ids = {j["worker_id"] for row in rows for j in row["judgments"]}
    assert ids == {worker_public_id(owner.pk, world["alice"].pk)}
    assert worker_public_id(owner.pk, world["alice"].pk) != worker_public_id(
        world["stranger"].pk, world["alice"].pk
    )
