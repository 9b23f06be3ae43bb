"""The broker round trip: with CELERY_BROKER_URL set (CI: Redis), a task sent by the app is
executed by a real worker. Everywhere else tasks run eagerly and this test is skipped."""

import os

import pytest

pytestmark = pytest.mark.skipif(
    not os.environ.get("CELERY_BROKER_URL"), reason="no CELERY_BROKER_URL: tasks run eagerly"
)


@pytest.mark.django_db(transaction=True)
def test_a_task_goes_through_the_broker_to_a_worker():
    from celery.contrib.testing.worker import start_worker

    from marketplace.celery import app
    from tasks.tasks import expire_claims_task

    app.conf.task_always_eager = False
    app.conf.result_backend = "cache+memory://"
    try:
        with start_worker(app, perform_ping_check=False, pool="solo", loglevel="WARNING"):
            result = expire_claims_task.delay()
            assert result.get(timeout=20) == 0
    finally:
        app.conf.task_always_eager = True
