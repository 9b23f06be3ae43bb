"""The money API: shapes, CSV, and every endpoint scoped to its owner."""

import csv
import io

import pytest

from payments import payouts, services
from payments.models import ConnectedAccount, Payout
from tests.conftest import client_for
from tests.factories import RequesterFactory, UserFactory, WorkerFactory
from tests.payments.factories import earning_worker, funded_requester, new_bundle_id, worker
from tests.payments.helpers import assert_ledger_balanced

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.PLATFORM_FEE_PERCENT = 20
    settings.PAYOUT_MINIMUM_MINOR = 500


def test_requester_balance_and_statement_json_and_csv():
    requester = funded_requester(5_000)
    services.escrow_reserve(
        requester=requester,
        bundle_id=new_bundle_id(),
        currency="usd",
        reward_minor=10,
        judgments=10,
        idempotency_key="pub",
    )
    api = client_for(requester)
    body = api.get("/api/v1/balance/").json()
    assert body["balances"] == [
        {"currency": "usd", "available": 4_880, "debt_minor": 0, "in_debt_reason": None}
    ]
    assert body["count"] == 2
    assert [line["amount"] for line in body["results"]] == [-120, 5_000]
    assert body["results"][0]["kind"] == "escrow_reserve"
    page = api.get("/api/v1/balance/?page_size=1").json()
    assert len(page["results"]) == 1
    assert page["next"]
    response = api.get("/api/v1/balance/?format=csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [int(r["amount"]) for r in rows] == [-120, 5_000]


def test_topup_api_returns_checkout_url_and_is_scoped(fake_stripe):
    requester, other = RequesterFactory(), RequesterFactory()
    api = client_for(requester)
    created = api.post(
        "/api/v1/topups/", {"amount": 2_000, "currency": "usd", "client_token": "t"}, format="json"
    )
    assert created.status_code == 201, created.json()
    assert created.json()["checkout_url"].startswith("http")
    assert created.json()["status"] == "pending"
    topup_id = created.json()["id"]
    assert api.get(f"/api/v1/topups/{topup_id}/").status_code == 200
    assert client_for(other).get(f"/api/v1/topups/{topup_id}/").status_code == 404
    assert client_for(other).get("/api/v1/topups/").json()["count"] == 0
    assert services.requester_available(requester_id=requester.pk, currency="usd") == 0


def test_worker_earnings_payouts_and_payout_account(settings, fake_stripe):
    w, other = worker(), worker()
    services.bonus_pay(
        requester=funded_requester(5_000),
        worker=w,
        amount_minor=1_500,
        currency="usd",
        reason="x",
        client_token="e",
    )
    api = client_for(w)
    link = api.post("/api/v1/work/payout-account/")
    assert link.status_code == 201
    assert link.json()["url"].startswith("http")
    assert api.get("/api/v1/work/payout-account/").json()["ready"] is False
    refused = api.post("/api/v1/work/payouts/", {"currency": "usd"}, format="json")
    assert refused.status_code == 409
    assert refused.json()["code"] == "payout_account_required"
    account = ConnectedAccount.objects.get(worker=w)
    event = fake_stripe.set_account_status(
        account.stripe_account_id,
        charges_enabled=True,
        payouts_enabled=True,
        details_submitted=True,
    )
    signed = fake_stripe.signed_event(event)
    client_for(w).post(
        "/payments/stripe/webhook/",
        data=signed.payload,
        content_type="application/json",
        headers=signed.headers,
    )
    assert api.get("/api/v1/work/payout-account/").json()["ready"] is True
    made = api.post(
        "/api/v1/work/payouts/",
        {"currency": "usd", "amount": 1_100, "client_token": "p1"},
        format="json",
    )
    assert made.status_code == 201, made.json()
    payouts.payout_execute(payout_id=made.json()["id"])
    earnings = api.get("/api/v1/work/earnings/").json()
    assert earnings["balances"] == [
        {"currency": "usd", "available": 400, "in_flight": 0, "held": 0, "paid_out": 1_100}
    ]
    assert [line["amount"] for line in earnings["results"]] == [-1_100, 1_500]
    assert api.get("/api/v1/work/payouts/").json()["results"][0]["status"] == "paid"
    payout_id = made.json()["id"]
    assert client_for(other).get(f"/api/v1/work/payouts/{payout_id}/").status_code == 404
    assert client_for(other).get("/api/v1/work/payouts/").json()["count"] == 0
    assert client_for(other).get("/api/v1/work/earnings/").json()["balances"] == []
    low = api.post("/api/v1/work/payouts/", {"currency": "usd"}, format="json")
    assert low.status_code == 409
    assert low.json()["code"] == "payout_below_minimum"
    assert_ledger_balanced()


def test_manual_mode_payout_via_api(settings):
    settings.STRIPE_SECRET_KEY = ""
    w = earning_worker(800)
    made = client_for(w).post("/api/v1/work/payouts/", {}, format="json")
    assert made.status_code == 201, made.json()
    assert made.json()["method"] == "manual"
    assert Payout.objects.get().batch is not None


@pytest.mark.parametrize(
    ("method", "url", "role"),
    [
        ("get", "/api/v1/balance/", "requester"),
        ("get", "/api/v1/topups/", "requester"),
        ("post", "/api/v1/topups/", "requester"),
        ("get", "/api/v1/bonuses/", "requester"),
        ("post", "/api/v1/bonuses/", "requester"),
        ("get", "/api/v1/work/earnings/", "worker"),
        ("get", "/api/v1/work/payouts/", "worker"),
        ("post", "/api/v1/work/payouts/", "worker"),
        ("get", "/api/v1/work/payout-account/", "worker"),
        ("post", "/api/v1/work/payout-account/", "worker"),
        ("get", "/api/v1/admin/revenue/", "staff"),
    ],
)
def test_roles_are_enforced(api, method, url, role):
    assert getattr(api, method)(url).status_code in (401, 403)  # anonymous
    wrong = {"requester": WorkerFactory, "worker": RequesterFactory, "staff": RequesterFactory}
    assert getattr(client_for(wrong[role]()), method)(url, {}, format="json").status_code == 403


def test_admin_revenue_report():
    requester, w = funded_requester(5_000), worker()
    bundle = new_bundle_id()
    services.escrow_reserve(
        requester=requester,
        bundle_id=bundle,
        currency="usd",
        reward_minor=10,
        judgments=3,
        idempotency_key="pub",
    )
    services.assignment_pay(
        requester_id=requester.pk,
        bundle_id=bundle,
        worker_id=w.pk,
        currency="usd",
        reward_minor=10,
        assignment_id=1,
    )
    services.bonus_pay(
        requester=requester, worker=w, amount_minor=50, currency="usd", reason="x", client_token="b"
    )
    admin = UserFactory(is_staff=True)
    body = client_for(admin).get("/api/v1/admin/revenue/").json()
    assert body["results"] == [
        {
            "currency": "usd",
            "revenue_minor": 12,
            "from_assignments_minor": 2,
            "from_bonuses_minor": 10,
            "stripe_fees_minor": 0,
            "entries": 2,
        }
    ]
    future = client_for(admin).get("/api/v1/admin/revenue/?since=2999-01-01").json()
    assert future["results"] == []


def test_admin_revenue_refuses_bad_dates():
    admin = UserFactory(is_staff=True)
    response = client_for(admin).get("/api/v1/admin/revenue/?since=yesterday")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_worker_csv_neutralises_formulas_in_bonus_reasons():
    w = worker()
    services.bonus_pay(
        requester=funded_requester(1_000),
        worker=w,
        amount_minor=10,
        currency="usd",
        reason='=HYPERLINK("http://evil")',
        client_token="x",
    )
    rows = list(
        csv.DictReader(
            io.StringIO(client_for(w).get("/api/v1/work/earnings/?format=csv").content.decode())
        )
    )
    assert rows[0]["memo"].startswith("'=")
    assert rows[0]["amount"] == "10"
