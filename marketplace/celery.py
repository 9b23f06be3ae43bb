"""The Celery app. With no CELERY_BROKER_URL, settings make every task run eagerly in-process."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")

app = Celery("marketplace")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Queues by job, so a slow aggregation never delays a payout and each gets its own workers
# (docs/operations.md): `money` (payouts, Stripe, approvals and escrow), `quality` (aggregation,
# quality follow-ups, the closed loop's models), `exports` (any task under an `exports` module);
# the rest (expiry sweeps) on the default `celery` queue.
MONEY, QUALITY, EXPORTS = "money", "quality", "exports"
TASK_ROUTES = {
    "payments.tasks.*": {"queue": MONEY},
    "tasks.tasks.auto_approve_task": {"queue": MONEY},
    "tasks.tasks.settle_finished_bundles_task": {"queue": MONEY},
    "tasks.tasks.pause_bundles_of_*": {"queue": MONEY},
    "tasks.tasks.aggregate_bundle_task": {"queue": QUALITY},
    "tasks.tasks.reaggregate_live_bundles_task": {"queue": QUALITY},
    "tasks.tasks.submission_recorded_task": {"queue": QUALITY},
    "tasks.tasks.assist_*": {"queue": QUALITY},
    "*.exports.*": {"queue": EXPORTS},
}
app.conf.task_routes = (TASK_ROUTES,)
