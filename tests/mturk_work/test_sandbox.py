"""The sandbox: play-money bundles that only the requester's own test workers see and work,
paid through the ledger like any other bundle, never paid out."""

from __future__ import annotations

import pytest

from marketplace.errors import DomainError
from payments import services as payments
from payments.ledger import PLAY_MONEY_CURRENCY
from payments.payouts import payout_request
from tasks import review, services, work
from tasks.models import Bundle, Item
from tasks.sandbox import SANDBOX_REQUIREMENT, sandbox_tester_add, sandbox_tester_remove
from tests.factories import RequesterFactory, WorkerFactory
from tests.mturk_work.helpers import FORM
from tests.mturk_work.xml_samples import PLAIN_FORM, html_question
from tests.payments.helpers import assert_ledger_balanced

pytestmark = pytest.mark.django_db


def sandbox_bundle(requester, api):
    api.force_authenticate(requester)
    created = api.post(
        "/api/v1/bundles/",
        {
            "title": "Try it out",
            "question": FORM,
            "reward": 25,
            "currency": "xts",
            "overlap": 1,
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    bundle_id = created.json()["id"]
    items = [{"payload": {"mturk_question": html_question(PLAIN_FORM)}} for _ in range(2)]
    uploaded = api.post(f"/api/v1/bundles/{bundle_id}/items/", items, format="json")
    assert uploaded.status_code in (200, 201), uploaded.content
    published = api.post(f"/api/v1/bundles/{bundle_id}/publish/")
    assert published.status_code == 200, published.content
    api.force_authenticate(None)
    return Bundle.objects.get(pk=bundle_id)


def test_play_money_bundle_publishes_without_real_funds(api):
    requester = RequesterFactory()
    bundle = sandbox_bundle(requester, api)  # no funding: play money fills itself
    assert bundle.currency == PLAY_MONEY_CURRENCY
    assert SANDBOX_REQUIREMENT in bundle.requirements
    assert payments.requester_available(requester_id=requester.pk, currency="usd") == 0
    assert 0 < payments.requester_available(requester_id=requester.pk, currency="xts") < 1_000_000
    assert_ledger_balanced()


def test_only_the_requesters_testers_see_and_claim_sandbox_work(api, client):
    requester, other_requester = RequesterFactory(), RequesterFactory()
    bundle = sandbox_bundle(requester, api)
    tester, stranger, others_tester = WorkerFactory(), WorkerFactory(), WorkerFactory()
    sandbox_tester_add(requester=requester, worker=tester)
    sandbox_tester_add(requester=other_requester, worker=others_tester.email)

    for worker in (stranger, others_tester):
        api.force_authenticate(worker)
        listed = api.get("/api/v1/work/bundles/").json()
        rows = listed["results"] if isinstance(listed, dict) else listed
        assert bundle.pk not in [row["id"] for row in rows]
        assert api.post(f"/api/v1/work/bundles/{bundle.pk}/claim/").status_code in (403, 404)
        client.force_login(worker)
        assert f"/work/{bundle.pk}/" not in client.get("/work/").content.decode()
        assert client.get(f"/work/{bundle.pk}/preview/hit/").status_code == 404

    client.force_login(tester)
    listing = client.get("/work/").content.decode()
    assert f"/work/{bundle.pk}/" in listing and "0.25 XTS (play money)" in listing
    api.force_authenticate(tester)
    rows = api.get("/api/v1/work/bundles/").json()
    rows = rows["results"] if isinstance(rows, dict) else rows
    assert bundle.pk in [row["id"] for row in rows]
    claimed = api.post(f"/api/v1/work/bundles/{bundle.pk}/claim/")
    assert claimed.status_code in (200, 201), claimed.content

    sandbox_tester_remove(requester=requester, worker=tester)
    with pytest.raises(DomainError):
        work.assignment_claim(bundle=bundle, worker=tester)


def test_the_sandbox_requirement_cannot_be_edited_away(api):
    requester = RequesterFactory()
    bundle = sandbox_bundle(requester, api)
    api.force_authenticate(requester)
    response = api.patch(f"/api/v1/bundles/{bundle.pk}/", {"requirements": []}, format="json")
    bundle.refresh_from_db()
    assert SANDBOX_REQUIREMENT in bundle.requirements, response.content
    draft = services.bundle_create(
        requester=requester, data={"title": "d", "question": FORM, "reward_minor": 1}
    )
    services.bundle_update(bundle=draft, by=requester, data={"currency": "xts"})
    draft.refresh_from_db()
    assert SANDBOX_REQUIREMENT in draft.requirements


def test_sandbox_earnings_are_never_paid_out():
    requester = RequesterFactory()
    bundle = services.bundle_create(
        requester=requester,
        data={"title": "s", "question": FORM, "reward_minor": 500, "currency": "xts", "overlap": 1},
    )
    Item.objects.create(
        bundle=bundle, payload={"mturk_question": html_question(PLAIN_FORM)}, slots_open=1
    )
    bundle = services.bundle_publish(bundle=bundle, by=requester)
    tester = WorkerFactory()
    sandbox_tester_add(requester=requester, worker=tester)
    claimed = work.assignment_claim(bundle=bundle, worker=tester)
    services.assignment_submit(assignment_id=claimed.pk, worker=tester, answer={"label": "x"})
    review.assignment_approve(assignment_id=claimed.pk, by=requester, requester=requester)
    assert payments.worker_available(worker_id=tester.pk, currency="xts") == 500
    with pytest.raises(DomainError) as refused:
        payout_request(worker=tester, currency="xts")
    assert refused.value.code == "play_money"
    assert_ledger_balanced()


def test_play_money_fills_back_up_and_twice_is_one_fill():
    requester = RequesterFactory()
    assert payments.play_money_fill(requester=requester) == payments.PLAY_MONEY_BALANCE_MINOR
    assert payments.play_money_fill(requester=requester) == payments.PLAY_MONEY_BALANCE_MINOR
    assert payments.requester_available(requester_id=requester.pk, currency="xts") == 1_000_000
    assert_ledger_balanced()


def test_testers_must_be_workers():
    requester = RequesterFactory()
    with pytest.raises(DomainError):
        sandbox_tester_add(requester=requester, worker=RequesterFactory())
    with pytest.raises(DomainError):
        sandbox_tester_add(requester=requester, worker="nobody@example.com")


def test_sandbox_tester_command_adds_lists_and_removes():
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    requester = RequesterFactory(email="lab@example.com")
    a, b = WorkerFactory(email="a@example.com"), WorkerFactory(email="b@example.com")
    out = StringIO()
    call_command("sandbox_tester", "lab@example.com", a.email, b.email, stdout=out)
    assert out.getvalue().split() == ["a@example.com", "b@example.com"]
    out = StringIO()
    call_command("sandbox_tester", "lab@example.com", b.email, "--remove", stdout=out)
    assert out.getvalue().split() == ["a@example.com"]
    with pytest.raises(CommandError):
        call_command("sandbox_tester", "lab@example.com", requester.email)


def test_requesters_name_their_testers_through_the_api(api):
    requester, other = RequesterFactory(), RequesterFactory()
    tester = WorkerFactory(email="tester@example.com")
    api.force_authenticate(requester)
    added = api.post("/api/v1/sandbox/testers/", {"email": tester.email}, format="json")
    assert added.status_code == 201 and added.json() == [{"email": "tester@example.com"}]
    refused = api.post("/api/v1/sandbox/testers/", {"email": other.email}, format="json")
    unknown = api.post("/api/v1/sandbox/testers/", {"email": "x@example.com"}, format="json")
    assert refused.status_code == unknown.status_code == 400
    assert refused.json()["detail"] == unknown.json()["detail"]  # no telling which
    api.force_authenticate(other)  # another requester sees only their own testers
    assert api.get("/api/v1/sandbox/testers/").json() == []
    api.force_authenticate(requester)
    removed = api.post("/api/v1/sandbox/testers/remove/", {"email": tester.email}, format="json")
    assert removed.status_code == 200 and removed.json() == []
