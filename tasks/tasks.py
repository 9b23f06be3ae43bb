"""Celery entry points (thin; each idempotent and safe to run twice or concurrently)."""

from celery import shared_task

from . import services


@shared_task(name="tasks.tasks.expire_claims_task")
def expire_claims_task() -> int:
    return services.assignments_expire()


@shared_task(name="tasks.tasks.auto_approve_task")
def auto_approve_task() -> int:
    return services.assignments_auto_approve()


@shared_task(name="tasks.tasks.expire_bundles_task")
def expire_bundles_task() -> int:
    return services.bundles_expire_due()
