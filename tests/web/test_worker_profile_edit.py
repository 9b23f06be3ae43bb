"""Worker profile (issue 15): the worker edits their country and self-declared
qualifications; requirements on them gate work like any other qualification."""

from __future__ import annotations

import pytest

from accounts.self_declared import InvalidDeclaration, declared_values, worker_declare
from tasks import selectors, services
from tests.factories import ItemFactory, RequesterFactory, WorkerFactory, publish

pytestmark = pytest.mark.django_db


def test_the_worker_edits_country_and_declarations_on_their_profile(client):
    worker = WorkerFactory()
    client.force_login(worker)
    page = client.get("/work/profile/").content.decode()
    assert 'name="english_level"' in page and 'name="country"' in page
    saved = client.post(
        "/work/profile/",
        {"country": "de", "english_level": "3", "education_level": "", "birth_year": "1990"},
    )
    assert saved.status_code == 302
    worker.worker_profile.refresh_from_db()
    assert worker.worker_profile.country == "DE"
    assert declared_values(worker) == {"english_level": 3, "birth_year": 1990}
    page = client.get("/work/profile/").content.decode()
    assert "You (self-declared)" in page
    cleared = client.post(
        "/work/profile/", {"country": "DE", "english_level": "", "birth_year": ""}
    )
    assert cleared.status_code == 302 and declared_values(worker) == {}


@pytest.mark.parametrize(
    "post",
    [
        {"country": "Germany"},
        {"country": "D3"},
        {"country": "DE", "english_level": "9"},
        {"country": "DE", "birth_year": "1800"},
    ],
)
def test_bad_declarations_are_refused_with_a_message(client, post):
    worker = WorkerFactory()
    client.force_login(worker)
    refused = client.post("/work/profile/", post)
    assert refused.status_code == 400 and "errorlist" in refused.content.decode()
    worker.worker_profile.refresh_from_db()
    assert worker.worker_profile.country == "US" and declared_values(worker) == {}


def test_the_service_refuses_unknown_names_and_non_workers():
    with pytest.raises(InvalidDeclaration):
        worker_declare(worker=WorkerFactory(), country="DE", values={"approval_rate": 100})
    with pytest.raises(Exception, match="not a worker"):
        worker_declare(worker=RequesterFactory(), country="DE", values={})


def test_a_requirement_on_a_declaration_gates_the_bundle():
    requester = RequesterFactory()
    requirement = {
        "qualification": "english_level",
        "comparator": "GreaterThanOrEqualTo",
        "value": 3,
    }
    bundle = services.bundle_create(
        requester=requester,
        data={
            "title": "Proofread English", "instructions": "Fix typos.",
            "question": {"type": "text"}, "reward_minor": 5, "currency": "usd",
            "requirements": [requirement],
        },
    )  # fmt: skip
    ItemFactory(bundle=bundle)
    bundle = publish(bundle)
    fluent, basic = WorkerFactory(), WorkerFactory()
    worker_declare(worker=fluent, country="GB", values={"english_level": 4})
    worker_declare(worker=basic, country="GB", values={"english_level": 1})
    assert [b.pk for b in selectors.bundles_for_worker(fluent)] == [bundle.pk]
    assert selectors.bundles_for_worker(basic) == []
