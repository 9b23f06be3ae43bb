"""Issue 16, faults: a real Celery worker (its own process, Redis broker, `acks_late`) is
SIGKILLed in the middle of an auto-approval batch and of a payout batch; after a restart
every item is processed exactly once and the books balance.

Needs PostgreSQL (the worker process reads the test database) and Redis at
FAULT_REDIS_URL (default db 2 of 127.0.0.1:6379); skipped otherwise. The worker is
tests/hardening/fault_worker.py: the project's `money` worker with a pause after each approval
and each Stripe transfer, so a batch lasts long enough to be killed mid-way. Tasks are sent as
production sends them (the project's routes put both batches on the `money` queue)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import timedelta
from pathlib import Path

import pytest
from celery.exceptions import AlwaysEagerIgnored
from django.db import connection
from django.db.models import F
from django.utils import timezone

from marketplace.celery import MONEY, app
from payments import payouts, services
from payments.models import AccountKind, ConnectedAccount, LedgerAccount, Payout, PayoutStatus
from tasks import work
from tasks.models import Assignment, AssignmentStatus, Bundle
from tasks.selectors import escrow_problems
from tests.factories import BundleFactory, ItemFactory, WorkerFactory, publish
from tests.fakestripe.fixtures import fake_stripe  # noqa: F401
from tests.payments.factories import earning_worker
from tests.payments.helpers import assert_ledger_balanced

REDIS_URL = os.environ.get("FAULT_REDIS_URL", "redis://127.0.0.1:6379/2")
ROOT = Path(__file__).resolve().parents[2]


def _redis_up() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except Exception:
        return False


pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not _redis_up(), reason=f"no Redis at {REDIS_URL}"),
]


@pytest.fixture(autouse=True)
def _no_live_updates_queued(settings):
    """The batched live labels (a task per bundle after its answers) are not under test here:
    with a long debounce the setup's answers queue one, due long after the test, so the
    worker's queue holds just the batch that is killed."""
    settings.QUALITY_LIVE_DEBOUNCE_SECONDS = 3600


class Broker:
    """Our Redis db, and tasks sent to it as the project sends them (its routes, so the batches
    land on the `money` queue that production's money workers consume).

    The connection names FAULT_REDIS_URL explicitly: a `Celery(broker=url)` client does not
    use `url` when the CELERY_BROKER_URL environment variable is set (Celery gives the variable
    precedence over the configuration), and CI exports the suite's own broker there. That is
    why, after session 4, these tests sent their batch to CI's Redis db while the worker
    waited on FAULT_REDIS_URL's."""

    def __init__(self, url: str):
        import redis

        self.url = url
        self.redis = redis.Redis.from_url(url)

    def send(self, task_name: str) -> None:
        with app.connection_for_write(self.url) as broker_connection, warnings.catch_warnings():
            # The suite runs tasks eagerly (tests/conftest.py); this publishes on purpose.
            warnings.simplefilter("ignore", AlwaysEagerIgnored)
            app.send_task(task_name, connection=broker_connection)

    def queued(self, queue: str) -> int:
        return int(self.redis.llen(queue))


@pytest.fixture
def broker():
    """Our Redis db, emptied before and after. One test at a time holds the db (a file lock:
    `pytest -n 2` runs tests side by side, and a worker started for one test's database must
    not take the other's tasks)."""
    import fcntl

    lock_path = (
        Path(tempfile.gettempdir()) / f"crowdmarket-faults-{REDIS_URL.rsplit('/', 1)[1]}.lock"
    )
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        client = Broker(REDIS_URL)
        client.redis.flushdb()
        try:
            yield client
        finally:
            client.redis.flushdb()
            client.redis.close()


class Worker:
    """`python -m tests.hardening.fault_worker` on the test database and our Redis db, started
    as a standby (Django and the task modules imported) that connects to the broker on `go()`.
    Its output goes to `log`, quoted when the test fails."""

    def __init__(self, log: Path, extra_env: dict[str, str] | None = None):
        db = connection.settings_dict
        self.log = log
        self.env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}",
            "CELERY_BROKER_URL": REDIS_URL,
            "CELERY_VISIBILITY_TIMEOUT_SECONDS": "3",
            "FAULT_STEP_SECONDS": "0.15",
            "FAULT_WORKER_STANDBY": "1",
            "PAYOUT_MINIMUM_MINOR": "500",
            **(extra_env or {}),
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> Worker:
        with open(self.log, "w") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.hardening.fault_worker"],
                cwd=ROOT,
                env=self.env,
                start_new_session=True,
                stdin=subprocess.PIPE,
                stdout=output,
                stderr=subprocess.STDOUT,
                text=True,
            )
        return self

    def go(self) -> None:
        """Connect to the broker and consume (the standby waits for this line)."""
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def kill(self) -> None:
        """SIGKILL the whole worker: no shutdown, no acknowledgement, like a lost node."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()

    def output(self) -> str:
        return f"--- {self.log.name}:\n" + self.log.read_text()[-3000:]


def _wait_for(condition, timeout: float = 150.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def _logs(*workers: Worker) -> str:
    return "\n".join(worker.output() for worker in workers)


def test_kill_the_worker_in_the_middle_of_auto_approval(broker, tmp_path):
    # The worker and its replacement import while the test builds its data.
    first, replacement = Worker(tmp_path / "first.log").start(), Worker(tmp_path / "next.log")
    replacement.start()
    try:
        bundle = BundleFactory(min_overlap=1, max_overlap=1, auto_approve_after_seconds=60)
        for _ in range(24):
            ItemFactory(bundle=bundle)
        bundle = publish(bundle)
        workers = [WorkerFactory() for _ in range(4)]
        for _ in range(6):
            for worker in workers:
                claim = work.assignment_claim(bundle=bundle, worker=worker)
                work.submission_record(assignment_id=claim.pk, worker=worker, answer="pos")
        Assignment.objects.update(submitted_at=timezone.now() - timedelta(hours=1))
        approved = Assignment.objects.filter(status=AssignmentStatus.APPROVED)

        broker.send("tasks.tasks.auto_approve_task")
        assert broker.queued(MONEY) == 1, "the batch is not on the money queue"
        first.go()
        assert _wait_for(lambda: approved.count() >= 6), "the batch never started\n" + _logs(first)
        first.kill()
        killed_at = approved.count()
        assert killed_at < 24, "the batch finished before the kill"
        replacement.go()  # the unacknowledged task comes back to it
        assert _wait_for(lambda: approved.count() == 24), (
            f"stuck at {approved.count()} (killed at {killed_at})\n" + _logs(first, replacement)
        )
    finally:
        first.stop()
        replacement.stop()

    paid = LedgerAccount.objects.filter(kind=AccountKind.WORKER_AVAILABLE, owner__in=workers)
    assert sorted(a.balance_minor for a in paid) == [6 * bundle.reward_minor] * 4
    assert_ledger_balanced()
    assert escrow_problems() == []
    assert Bundle.objects.get(pk=bundle.pk).status in ("live", "completed")


def test_kill_the_worker_in_the_middle_of_a_payout_batch(broker, fake_stripe, tmp_path):  # noqa: F811
    stripe_env = {
        "STRIPE_SECRET_KEY": fake_stripe.api_key,
        "STRIPE_API_BASE": fake_stripe.api_base,
        "STRIPE_MAX_NETWORK_RETRIES": "0",
        "STRIPE_TIMEOUT_SECONDS": "5",
    }
    first = Worker(tmp_path / "first.log", stripe_env).start()
    replacement = Worker(tmp_path / "next.log", stripe_env).start()
    try:
        earners = []
        for _ in range(10):
            earner = earning_worker(700, funding=1_000)
            ConnectedAccount.objects.create(
                worker=earner,
                stripe_account_id=fake_stripe.add_connected_account(),
                transfers_active=True,
                payouts_enabled=True,
                details_submitted=True,
            )
            earners.append(earner)
        paid = Payout.objects.filter(status=PayoutStatus.PAID)

        broker.send("payments.tasks.weekly_payouts_task")
        assert broker.queued(MONEY) == 1, "the batch is not on the money queue"
        first.go()
        assert _wait_for(lambda: len(fake_stripe.transfers) >= 3), "no transfer was made\n" + _logs(
            first
        )
        first.kill()
        assert paid.count() < 10, "the batch finished before the kill"
        replacement.go()
        # Ten minutes later (the clock, moved): the beat's retry job finds payouts whose claim
        # went stale or whose enqueue never happened, and sends them again with the same key.
        Payout.objects.update(
            claimed_at=F("claimed_at") - payouts.STALE_CLAIM - timedelta(seconds=1),
            next_attempt_at=timezone.now() - timedelta(seconds=1),
        )
        broker.send("payments.tasks.retry_payouts_task")
        assert _wait_for(lambda: paid.count() == 10), f"paid {paid.count()} of 10\n" + _logs(
            first, replacement
        )
    finally:
        first.stop()
        replacement.stop()

    assert Payout.objects.count() == 10
    assert len(fake_stripe.transfers) == 10  # Stripe replayed the retried keys: none twice
    by_destination = {t["destination"] for t in fake_stripe.transfers.values()}
    assert len(by_destination) == 10
    for earner in earners:
        assert services.worker_available(worker_id=earner.pk, currency="usd") == 0
    assert_ledger_balanced()
