"""Top-ups through Stripe Checkout and the webhook inbox: verified, stored once, processed
once; duplicates, reordering, replays, forgeries and stale signatures."""

import pytest

from payments import services, webhooks
from payments.models import EventStatus, JournalEntry, StripeEvent, TopUp, TopUpStatus
from tests.factories import RequesterFactory
from tests.payments.helpers import assert_ledger_balanced

pytestmark = pytest.mark.django_db

URL = "/payments/stripe/webhook/"


def post(client, signed):
    return client.post(
        URL, data=signed.payload, content_type="application/json", headers=signed.headers
    )


def start_topup(requester, amount=2_000, token="t1"):
    topup = services.topup_create(
        requester=requester, amount_minor=amount, currency="usd", client_token=token
    )
    assert topup.checkout_url.startswith("http")
    return topup


def test_topup_is_credited_only_by_the_verified_webhook_once(fake_stripe, client):
    requester = RequesterFactory()
    topup = start_topup(requester)
    assert services.requester_available(requester_id=requester.pk, currency="usd") == 0
    # a retried create returns the same session
    assert start_topup(requester).checkout_session_id == topup.checkout_session_id
    assert len(fake_stripe.checkout_sessions) == 1

    event = fake_stripe.complete_checkout_session(topup.checkout_session_id)
    for _ in range(3):  # Stripe redelivers
        response = post(client, fake_stripe.signed_event(event))
        assert response.status_code == 200, response.content
    assert services.requester_available(requester_id=requester.pk, currency="usd") == 2_000
    assert StripeEvent.objects.filter(event_id=event["id"]).count() == 1
    assert JournalEntry.objects.filter(kind="topup").count() == 1
    topup.refresh_from_db()
    assert topup.status == TopUpStatus.SUCCEEDED
    assert topup.entry is not None
    assert_ledger_balanced()


def test_forged_and_stale_events_are_rejected_and_not_recorded(fake_stripe, client):
    requester = RequesterFactory()
    topup = start_topup(requester)
    event = fake_stripe.complete_checkout_session(topup.checkout_session_id)
    assert post(client, fake_stripe.forged_event(event)).status_code == 400
    assert post(client, fake_stripe.stale_event(event)).status_code == 400
    unsigned = client.post(
        URL, data=fake_stripe.signed_event(event).payload, content_type="application/json"
    )
    assert unsigned.status_code == 400
    assert not StripeEvent.objects.exists()
    assert services.requester_available(requester_id=requester.pk, currency="usd") == 0
    assert post(client, fake_stripe.signed_event(event)).status_code == 200
    assert services.requester_available(requester_id=requester.pk, currency="usd") == 2_000


def test_expired_delivered_after_completed_keeps_the_credit(fake_stripe, client):
    requester = RequesterFactory()
    paid = start_topup(requester, token="paid")
    lapsed = start_topup(requester, amount=700, token="lapsed")
    completed = fake_stripe.complete_checkout_session(paid.checkout_session_id)
    expired = fake_stripe.expire_checkout_session(lapsed.checkout_session_id)
    # a fabricated late "expired" for the paid session, delivered after completion
    late_expired = fake_stripe.emit_event(
        "checkout.session.expired", {**completed["data"]["object"], "status": "expired"}
    )
    for event in (expired, completed, late_expired, completed):
        assert post(client, fake_stripe.signed_event(event)).status_code == 200
    paid.refresh_from_db()
    lapsed.refresh_from_db()
    assert paid.status == TopUpStatus.SUCCEEDED
    assert lapsed.status == TopUpStatus.EXPIRED
    assert services.requester_available(requester_id=requester.pk, currency="usd") == 2_000
    assert_ledger_balanced()


def test_completed_after_local_expiry_still_credits(fake_stripe, client):
    """The card was charged: money that arrived is credited even if we gave up waiting."""
    requester = RequesterFactory()
    topup = start_topup(requester)
    TopUp.objects.filter(pk=topup.pk).update(status=TopUpStatus.EXPIRED)
    event = fake_stripe.complete_checkout_session(topup.checkout_session_id)
    post(client, fake_stripe.signed_event(event))
    assert services.requester_available(requester_id=requester.pk, currency="usd") == 2_000


def test_failed_event_is_kept_and_replayed(fake_stripe, client, monkeypatch):
    requester = RequesterFactory()
    topup = start_topup(requester)
    event = fake_stripe.complete_checkout_session(topup.checkout_session_id)

    def boom(**kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(services, "topup_complete", boom)
    assert post(client, fake_stripe.signed_event(event)).status_code == 200
    stored = StripeEvent.objects.get(event_id=event["id"])
    assert stored.status == EventStatus.FAILED
    assert "database hiccup" in stored.error
    assert services.requester_available(requester_id=requester.pk, currency="usd") == 0
    monkeypatch.undo()

    assert webhooks.events_replay_due() == 1
    stored.refresh_from_db()
    assert (stored.status, stored.attempts) == (EventStatus.PROCESSED, 2)
    # an admin replay of a processed event changes nothing
    webhooks.event_process(event_id=stored.pk, force=True)
    assert services.requester_available(requester_id=requester.pk, currency="usd") == 2_000
    assert JournalEntry.objects.filter(kind="topup").count() == 1
    assert_ledger_balanced()


def test_mismatched_amount_is_not_credited(fake_stripe, client):
    requester = RequesterFactory()
    topup = start_topup(requester)
    event = fake_stripe.complete_checkout_session(topup.checkout_session_id)
    session = dict(event["data"]["object"], amount_total=999_999)
    forged_amount = fake_stripe.emit_event("checkout.session.completed", session)
    post(client, fake_stripe.signed_event(forged_amount))
    assert StripeEvent.objects.get(event_id=forged_amount["id"]).status == EventStatus.FAILED
    assert services.requester_available(requester_id=requester.pk, currency="usd") == 0


def test_unhandled_types_are_stored_and_marked_processed(fake_stripe, client):
    event = fake_stripe.emit_event("customer.created", {"id": "cus_1", "object": "customer"})
    assert post(client, fake_stripe.signed_event(event)).status_code == 200
    assert StripeEvent.objects.get(event_id=event["id"]).status == EventStatus.PROCESSED


def test_webhook_without_secret_configured_is_unavailable(client, settings):
    settings.STRIPE_WEBHOOK_SECRET = ""
    response = client.post(
        URL, data=b"{}", content_type="application/json", headers={"Stripe-Signature": "t=1,v1=00"}
    )
    assert response.status_code == 503
    assert not StripeEvent.objects.exists()


def test_topup_needs_stripe(settings):
    settings.STRIPE_SECRET_KEY = ""
    with pytest.raises(services.DomainError) as err:
        services.topup_create(
            requester=RequesterFactory(), amount_minor=1_000, currency="usd", client_token="x"
        )
    assert err.value.code == "stripe_not_configured"
