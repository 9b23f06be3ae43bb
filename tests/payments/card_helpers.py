"""Delivering the fake Stripe's events to our webhook, for the card-money tests."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from payments.models import StripeEvent

URL = "/payments/stripe/webhook/"


def deliver(client, fake, event, capture):
    """POST one signed event as Stripe would, running what it schedules on commit."""
    signed = fake.signed_event(event)
    with capture(execute=True):
        response = client.post(
            URL, data=signed.payload, content_type="application/json", headers=signed.headers
        )
    assert response.status_code == 200, response.content
    stored = StripeEvent.objects.get(event_id=event["id"])
    assert stored.status == "processed", stored.error
    return stored


def deliver_all(client, fake, capture):
    """Every event the fake queued (a dispute's created + funds_withdrawn, ...), in order."""
    for event_id in list(fake._undelivered):
        deliver(client, fake, fake.events[event_id], capture)
        fake._undelivered.remove(event_id)


def window():
    """An hour either side of now: every entry and balance transaction of a test."""
    now = timezone.now()
    return now - timedelta(hours=1), now + timedelta(hours=1)
