"""Fee policy (issue 11, defect 10): a minimum platform fee per judgment, the effective rate
shown, and a published bundle priced at the terms frozen when it was published.

MTurk charges at least one cent per assignment; so does crowdmarket by default
(`PLATFORM_MIN_FEE_MINOR`). A 3-cent reward at 20% pays a 1-cent fee (33%); a 2-cent reward
paid none before the minimum and pays 1 cent now.
"""

import pytest

from payments import services as payments
from payments.models import AccountKind
from payments.selectors import revenue_report
from tasks import review, services
from tasks import work as tasks_work
from tasks.selectors import escrow_problems
from tests.conftest import client_for
from tests.factories import BundleFactory, ItemFactory, WorkerFactory, publish
from tests.payments.helpers import assert_ledger_balanced

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fees(settings):
    settings.PLATFORM_FEE_PERCENT = 20
    settings.PLATFORM_MIN_FEE_MINOR = 1


def _published(requester, reward, items=2):
    bundle = BundleFactory(requester=requester, reward_minor=reward, min_overlap=1, max_overlap=1)
    for _ in range(items):
        ItemFactory(bundle=bundle)
    return publish(bundle)


def _approve_one(bundle):
    worker = WorkerFactory()
    claim = tasks_work.assignment_claim(bundle=bundle, worker=worker)
    done = services.assignment_submit(assignment_id=claim.pk, worker=worker, answer="pos")
    review.assignment_approve(assignment_id=done.pk, by=bundle.requester)
    return worker


def _revenue() -> int:
    rows = revenue_report()
    return int(rows[0]["revenue_minor"]) if rows else 0


@pytest.mark.parametrize(("reward", "fee"), [(3, 1), (2, 1), (1, 1), (5, 1), (10, 2)])
def test_every_judgment_pays_at_least_the_minimum_fee(requester, reward, fee):
    bundle = _published(requester, reward)
    assert payments.escrow_balance(bundle_id=bundle.pk, currency="usd") == 2 * (reward + fee)
    worker = _approve_one(bundle)
    assert payments.worker_available(worker_id=worker.pk, currency="usd") == reward
    assert _revenue() == fee
    assert_ledger_balanced()
    assert escrow_problems() == []


def test_the_api_shows_the_fee_and_its_effective_rate(requester):
    api = client_for(requester)
    created = api.post(
        "/api/v1/bundles/",
        {"title": "t", "instructions": "i", "question": {"type": "text"}, "reward": 3},
        format="json",
    )
    assert created.status_code == 201, created.json()
    expected = {
        "percent": 20, "minimum": 1, "per_judgment": 1, "cost_per_judgment": 4,
        "effective_percent": 33.3, "frozen": False,
    }  # fmt: skip
    assert created.json()["fee"] == expected
    detail = api.get(f"/api/v1/bundles/{created.json()['id']}/").json()
    assert detail["fee"] == expected
    two = api.post(
        "/api/v1/bundles/",
        {"title": "t", "instructions": "i", "question": {"type": "text"}, "reward": 2},
        format="json",
    ).json()
    assert (two["fee"]["per_judgment"], two["fee"]["effective_percent"]) == (1, 50.0)


def test_a_published_bundle_keeps_its_terms_when_the_settings_change(requester, settings, client):
    # given: a bundle published at 20% with a 1-cent minimum (5-cent reward: 1-cent fee)
    bundle = _published(requester, reward=5, items=2)
    reserved = payments.escrow_balance(bundle_id=bundle.pk, currency="usd")
    assert reserved == 2 * 6
    # when: the operator raises the fee
    settings.PLATFORM_FEE_PERCENT = 50
    settings.PLATFORM_MIN_FEE_MINOR = 4
    # then: the API and the bundle page still show the published terms ...
    fee = client_for(requester).get(f"/api/v1/bundles/{bundle.pk}/").json()["fee"]
    assert fee == {
        "percent": 20, "minimum": 1, "per_judgment": 1, "cost_per_judgment": 6,
        "effective_percent": 20.0, "frozen": True,
    }  # fmt: skip
    client.force_login(requester)
    page = client.get(f"/bundles/{bundle.pk}/").content.decode()
    assert "$0.01 per answer" in page and "(20%" in page
    assert "$0.06 per answer" in page
    assert "50%" not in page
    # ... more items reserve at them, and approvals charge them
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("more.csv", b"text\nthree\n", content_type="text/csv")
    client.post(f"/bundles/{bundle.pk}/items/", {"file": upload})
    assert payments.escrow_balance(bundle_id=bundle.pk, currency="usd") == 3 * 6
    worker = _approve_one(bundle)
    assert payments.worker_available(worker_id=worker.pk, currency="usd") == 5
    assert _revenue() == 1
    assert_ledger_balanced()
    assert escrow_problems() == []
    # a draft, not yet priced, shows today's terms
    draft = BundleFactory(requester=requester, reward_minor=5)
    fee = client_for(requester).get(f"/api/v1/bundles/{draft.pk}/").json()["fee"]
    assert (fee["percent"], fee["minimum"], fee["per_judgment"], fee["frozen"]) == (50, 4, 4, False)


def test_the_bundle_page_shows_the_effective_rate(client, requester):
    bundle = BundleFactory(requester=requester, reward_minor=3)
    client.force_login(requester)
    page = client.get(f"/bundles/{bundle.pk}/").content.decode()
    assert "$0.01 per answer" in page
    assert "33.3%" in page
    create = client.get("/bundles/new/").content.decode()
    assert 'data-fee-minimum="1"' in create
    assert "at least $0.01" in create


def test_escrow_reserved_before_the_minimum_existed_keeps_no_minimum(requester):
    """Escrow reserved before the minimum fee existed recorded only a percent: its bundle keeps
    the terms it was priced at (no minimum), so its approvals draw what was reserved."""
    bundle = _published(requester, reward=2, items=1)
    escrow = payments.account_get(
        kind=AccountKind.BUNDLE_ESCROW, currency="usd", bundle_id=bundle.pk, create=False
    )
    assert escrow is not None
    type(escrow).objects.filter(pk=escrow.pk).update(fee_minimum_minor=None)
    assert (
        payments.escrow_cost_per_judgment(bundle_id=bundle.pk, currency="usd", reward_minor=2) == 2
    )


def test_the_bundle_list_shows_each_bundle_its_own_terms_in_one_query(
    requester, settings, django_assert_max_num_queries
):
    published = _published(requester, reward=3)
    settings.PLATFORM_FEE_PERCENT = 50
    for _ in range(5):
        BundleFactory(requester=requester, reward_minor=3)
    api = client_for(requester)
    api.get("/api/v1/bundles/")  # warm-up: sessions, content types
    with django_assert_max_num_queries(8):
        rows = api.get("/api/v1/bundles/").json()["results"]
    fees = {row["id"]: row["fee"] for row in rows}
    assert fees.pop(published.pk)["percent"] == 20
    assert {(f["percent"], f["per_judgment"], f["frozen"]) for f in fees.values()} == {
        (50, 2, False)
    }
