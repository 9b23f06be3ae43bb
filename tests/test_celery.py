"""The broker round trip: with CELERY_BROKER_URL set (CI: Redis), a task sent by the app is
executed by a real worker. Everywhere else tasks run eagerly and this test is skipped."""

import os
import time
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from tasks import work
from tasks.models import Assignment, AssignmentStatus
from tests.factories import BundleFactory, ItemFactory, WorkerFactory, publish

pytestmark = pytest.mark.skipif(
    not os.environ.get("CELERY_BROKER_URL"), reason="no CELERY_BROKER_URL: tasks run eagerly"
)


@pytest.mark.django_db(transaction=True)
def test_a_task_goes_through_the_broker_to_a_worker():
    from celery.contrib.testing.worker import start_worker

    from marketplace.celery import app
    from tasks.tasks import expire_claims_task

    bundle = BundleFactory()
    ItemFactory(bundle=bundle)
    bundle = publish(bundle)
    held = work.assignment_claim(bundle=bundle, worker=WorkerFactory())
    Assignment.objects.filter(pk=held.pk).update(deadline=timezone.now() - timedelta(seconds=1))

    app.conf.task_always_eager = False
    try:
        with start_worker(app, perform_ping_check=False, pool="solo", loglevel="WARNING"):
            expire_claims_task.delay()  # over Redis, to the worker thread
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if _status(held.pk) == AssignmentStatus.EXPIRED:
                    break
                time.sleep(0.2)
    finally:
        app.conf.task_always_eager = True
    assert Assignment.objects.get(pk=held.pk).status == AssignmentStatus.EXPIRED


def _status(pk: int) -> str | None:
    """The assignment's status, or None while the worker thread holds a write lock: on SQLite's
    shared-cache in-memory test database a read racing that write fails with "database table is
    locked" instead of waiting (PostgreSQL reads never block on writes)."""
    try:
        return Assignment.objects.values_list("status", flat=True).get(pk=pk)
    except OperationalError:
        return None
