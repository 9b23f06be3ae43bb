"""Celery entry points of the MTurk API (thin, idempotent)."""

from celery import shared_task

from .events import notifications_deliver
from .hits import hits_close_due


@shared_task(name="marketplace.mturk.tasks.close_expired_hits_task")
def close_expired_hits_task() -> int:
    """Close HITs past their expiration: their unclaimed slots stop being handed out and their
    escrow goes back to the requester (GetHIT already reports them expired meanwhile)."""
    return hits_close_due()


@shared_task(name="marketplace.mturk.tasks.deliver_notifications_task")
def deliver_notifications_task() -> int:
    """POST each HIT type's new events to its notification destination."""
    return notifications_deliver()
