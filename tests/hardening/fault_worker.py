"""A real Celery worker for tests/hardening/test_faults_celery.py, run as its own process
(`python -m tests.hardening.fault_worker`) so that the test can SIGKILL it mid-batch.

It is the project's worker with one difference: each approval and each Stripe transfer is
followed by a pause of FAULT_STEP_SECONDS, so a batch takes long enough to be killed in the
middle, and a kill after a transfer lands between Stripe's answer and our record of it."""

from __future__ import annotations

import functools
import os
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
django.setup()

from marketplace.celery import app  # noqa: E402
from payments import stripe_gateway  # noqa: E402
from tasks import review  # noqa: E402

STEP = float(os.environ.get("FAULT_STEP_SECONDS", "0.1"))
# Redelivery of a dead worker's task, made prompt for the test: kombu's Redis transport scans
# for expired unacknowledged messages every `unacked_restore_interval` seconds under a mutex
# that outlives a killed holder for `unacked_mutex_expire` (defaults 10 and 300 s); the
# visibility timeout itself comes from the settings (CELERY_VISIBILITY_TIMEOUT_SECONDS).
app.conf.broker_transport_options = {
    **app.conf.broker_transport_options,
    "unacked_restore_interval": 1,
    "unacked_mutex_expire": 5,
}


def _then_pause(function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        result = function(*args, **kwargs)
        time.sleep(STEP)
        return result

    return wrapper


review.assignment_approve = _then_pause(review.assignment_approve)
stripe_gateway.create_transfer = _then_pause(stripe_gateway.create_transfer)

if __name__ == "__main__":
    app.worker_main(["worker", "--pool=solo", "--loglevel=WARNING", "--without-heartbeat",
                     "--without-mingle", "--without-gossip",
                     "-Q", "celery,money,quality,exports"])  # fmt: skip
