"""Admin: every money page renders, the ledger cannot be edited, actions call services."""

import pytest
from django.urls import reverse

from payments import payouts, services
from payments.models import (
    EventStatus,
    JournalEntry,
    LedgerAccount,
    ManualPayoutBatch,
    Payout,
    PayoutStatus,
    StripeEvent,
)
from tests.factories import RequesterFactory, UserFactory
from tests.payments.factories import earning_worker
from tests.payments.helpers import assert_ledger_balanced

pytestmark = pytest.mark.django_db

MODELS = [
    "ledgeraccount",
    "journalentry",
    "posting",
    "payout",
    "manualpayoutbatch",
    "topup",
    "bonus",
    "connectedaccount",
    "stripeevent",
    "reconciliationreport",
]


@pytest.fixture
def admin_client(client):
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    return client


@pytest.fixture
def some_money(settings):
    settings.STRIPE_SECRET_KEY = ""
    w = earning_worker(1_000)
    return payouts.payout_request(worker=w)


@pytest.mark.parametrize("model", MODELS)
def test_pages_render_and_nothing_is_editable(admin_client, some_money, model):
    changelist = admin_client.get(reverse(f"admin:payments_{model}_changelist"))
    assert changelist.status_code == 200
    assert admin_client.get(reverse(f"admin:payments_{model}_add")).status_code == 403


def test_entry_page_is_read_only_with_postings(admin_client, some_money):
    entry = JournalEntry.objects.filter(kind="bonus").get()
    page = admin_client.get(reverse("admin:payments_journalentry_change", args=[entry.pk]))
    assert page.status_code == 200
    assert b"Save" not in page.content
    deleted = admin_client.post(
        reverse("admin:payments_journalentry_delete", args=[entry.pk]), {"post": "yes"}
    )
    assert deleted.status_code == 403
    assert JournalEntry.objects.filter(pk=entry.pk).exists()


def test_search_accounts_by_owner_email(admin_client, some_money):
    page = admin_client.get(
        reverse("admin:payments_ledgeraccount_changelist"), {"q": some_money.worker.email}
    )
    assert page.status_code == 200
    assert page.context["cl"].result_count == 2  # available + in flight


def test_manual_batch_csv_and_mark_paid_actions(admin_client, some_money):
    batch = ManualPayoutBatch.objects.get()
    url = reverse("admin:payments_manualpayoutbatch_changelist")
    csv_response = admin_client.post(
        url, {"action": "download_csv", "_selected_action": [batch.pk]}
    )
    assert csv_response["Content-Type"] == "text/csv"
    assert some_money.worker.email in csv_response.content.decode()
    admin_client.post(url, {"action": "mark_paid", "_selected_action": [batch.pk]})
    assert Payout.objects.get().status == PayoutStatus.PAID
    assert_ledger_balanced()


def test_payout_retry_action(admin_client, fake_stripe):
    from payments.models import ConnectedAccount

    w = earning_worker(1_000)
    ConnectedAccount.objects.create(
        worker=w, stripe_account_id=fake_stripe.add_connected_account(), transfers_active=True
    )
    payout = payouts.payout_request(worker=w)
    admin_client.post(
        reverse("admin:payments_payout_changelist"),
        {"action": "retry_now", "_selected_action": [payout.pk]},
    )
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.PAID
    assert len(fake_stripe.transfers) == 1


def test_event_replay_action(admin_client, fake_stripe):
    requester = RequesterFactory()
    topup = services.topup_create(
        requester=requester, amount_minor=1_000, currency="usd", client_token="t"
    )
    event = fake_stripe.complete_checkout_session(topup.checkout_session_id)
    stored = StripeEvent.objects.create(
        event_id=event["id"],
        type=event["type"],
        created=event["created"],
        payload=event,
        status=EventStatus.FAILED,
        error="earlier failure",
    )
    admin_client.post(
        reverse("admin:payments_stripeevent_changelist"),
        {"action": "replay", "_selected_action": [stored.pk]},
    )
    stored.refresh_from_db()
    assert stored.status == EventStatus.PROCESSED
    assert services.requester_available(requester_id=requester.pk, currency="usd") == 1_000


def test_credit_form(admin_client):
    requester = RequesterFactory()
    url = reverse("admin:payments_ledgeraccount_credit")
    assert admin_client.get(url).status_code == 200
    data = {
        "email": requester.email,
        "amount_minor": 2_500,
        "currency": "usd",
        "reference": "INV-9",
    }
    assert admin_client.post(url, data).status_code == 302
    assert admin_client.post(url, data).status_code == 302  # same reference: once
    assert services.requester_available(requester_id=requester.pk, currency="usd") == 2_500
    bad = admin_client.post(url, {**data, "amount_minor": 1})
    assert bad.status_code == 200  # idempotency conflict shown on the form
    assert LedgerAccount.objects.filter(owner=requester).count() == 1


def test_return_manual_payout_action(admin_client, some_money):
    admin_client.post(
        reverse("admin:payments_payout_changelist"),
        {"action": "return_manual", "_selected_action": [some_money.pk]},
    )
    some_money.refresh_from_db()
    assert some_money.status == PayoutStatus.RETURNED
    assert services.worker_available(worker_id=some_money.worker_id, currency="usd") == 1_000
    assert_ledger_balanced()


def test_mark_paid_before_export_is_refused(admin_client, some_money):
    batch = ManualPayoutBatch.objects.get()
    admin_client.post(
        reverse("admin:payments_manualpayoutbatch_changelist"),
        {"action": "mark_paid", "_selected_action": [batch.pk]},
    )
    assert Payout.objects.get().status == PayoutStatus.PENDING
