"""A real Celery worker for tests/hardening/test_faults_celery.py, run as its own process
(`python -m tests.hardening.fault_worker`) so that the test can SIGKILL it mid-batch.

It is the project's `money` worker as docs/deploy/Procfile runs it (`-Q money
--prefetch-multiplier 1`, acks_late from the settings) with one difference: each approval and
each Stripe transfer is followed by a pause of FAULT_STEP_SECONDS, so a batch takes long
enough to be killed in the middle, and a kill after a transfer lands between Stripe's answer
and our record of it.

With FAULT_WORKER_STANDBY=1 the process imports Django and the task modules (most of its
start-up: scikit-learn, scipy) and then waits for a line on stdin before it connects to the
broker: the test starts the replacement of the worker it kills in advance, so a restart costs
the connection, not the imports, and each test stays well under 30 s on a loaded machine."""

from __future__ import annotations

import functools
import os
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
django.setup()

from marketplace.celery import MONEY, app  # noqa: E402
from payments import stripe_gateway  # noqa: E402
from tasks import review  # noqa: E402

STEP = float(os.environ.get("FAULT_STEP_SECONDS", "0.1"))
# Redelivery of a dead worker's task, made prompt for the test: kombu's Redis transport scans
# for unacknowledged messages older than the visibility timeout (from the settings:
# CELERY_VISIBILITY_TIMEOUT_SECONDS) every `unacked_restore_interval` seconds, but only on
# every `unacked_restore_throttle`-th call (kombu 5.7: default 10, so "1 s" meant 10 s), under
# a mutex that outlives a killed holder for `unacked_mutex_expire` (defaults 10, 10, 300 s).
app.conf.broker_transport_options = {
    **app.conf.broker_transport_options,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
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
    app.loader.import_default_modules()  # the task modules, before waiting as a standby
    if os.environ.get("FAULT_WORKER_STANDBY") == "1":
        print("standby", flush=True)
        sys.stdin.readline()
    app.worker_main(["worker", "--pool=solo", "--loglevel=INFO", "--without-heartbeat",
                     "--without-mingle", "--without-gossip", "--concurrency=1",
                     "--prefetch-multiplier=1",
                     "-Q", MONEY])  # fmt: skip
