"""Issue 16, operations: the health endpoint, production's broker requirement, structured
logs, beat schedules the admin owns, and the task queues by job."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from marketplace.beat import AdminEditableScheduler
from marketplace.celery import app
from marketplace.logjson import JsonFormatter

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("FAULT_REDIS_URL", "redis://127.0.0.1:6379/2")


def _redis_up() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except Exception:
        return False


@pytest.mark.django_db
def test_health_without_a_broker_is_ok_in_development(client, settings):
    settings.CELERY_BROKER_URL = ""
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "eager"}


@pytest.mark.django_db
@pytest.mark.skipif(not _redis_up(), reason=f"no Redis at {REDIS_URL}")
def test_health_with_the_broker_up(client, settings):
    settings.CELERY_BROKER_URL = REDIS_URL
    assert client.get("/health/").json() == {"status": "ok", "database": "ok", "broker": "ok"}


@pytest.mark.django_db
def test_health_names_a_broker_that_does_not_answer(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/health/")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "ok", "broker": "error"}


@pytest.mark.django_db
def test_health_names_a_database_that_does_not_answer(client, settings, monkeypatch):
    """The check's connection refuses (a stand-in for it, so that the test's own connection
    stays usable)."""
    from marketplace import health

    class Refusing:
        Database = connection.Database

        def cursor(self):
            raise connection.Database.OperationalError("connection refused")

    settings.CELERY_BROKER_URL = ""
    monkeypatch.setattr(health, "connection", Refusing())
    response = client.get("/health/")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "error", "broker": "eager"}


def _production(tmp_path, **extra):
    # The browser tests' DJANGO_ALLOW_ASYNC_UNSAFE (set in this process) is no production's.
    unset = ("DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update(
        CROWDMARKET_ENV="production",
        SECRET_KEY="k3y-" + "a1B2c3D4e5" * 6,
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        ALLOWED_HOSTS="example.com",
        **extra,
    )
    return subprocess.run(  # noqa: S603 - our own manage.py, fixed arguments
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_production_refuses_to_start_without_a_broker(tmp_path):
    result = _production(tmp_path)
    assert result.returncode != 0
    assert "CELERY_BROKER_URL is required in production" in result.stderr


def test_production_with_a_broker_passes_the_deploy_check(tmp_path):
    result = _production(tmp_path, CELERY_BROKER_URL="redis://127.0.0.1:6379/0")
    assert result.returncode == 0, result.stderr[-3000:]


def test_logs_are_one_json_object_per_line():
    logger = logging.getLogger("crowdmarket.test")
    try:
        raise ValueError("boom")
    except ValueError:
        record = logger.makeRecord(
            logger.name, logging.ERROR, __file__, 1, "payout %s failed", (7,), sys.exc_info(),
            extra={"payout_id": 7},
        )  # fmt: skip
    line = JsonFormatter().format(record)
    assert "\n" not in line.split('"exception"')[0]
    parsed = json.loads(line)
    assert parsed["level"] == "ERROR" and parsed["message"] == "payout 7 failed"
    assert parsed["logger"] == "crowdmarket.test" and parsed["payout_id"] == 7
    assert "ValueError: boom" in parsed["exception"] and parsed["time"].endswith("+00:00")


def test_production_logs_in_json_by_default(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "LOG_FORMAT")}
    env.update(
        CROWDMARKET_ENV="production",
        SECRET_KEY="k3y-" + "a1B2c3D4e5" * 6,
        ALLOWED_HOSTS="example.com",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )
    code = "from django.conf import settings; print(settings.LOGGING['handlers']['console'])"
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT, env={**env, "DJANGO_SETTINGS_MODULE": "marketplace.settings"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "'formatter': 'json'" in result.stdout, result.stderr[-2000:]


@pytest.mark.django_db(transaction=True)  # the scheduler commits and recycles connections
def test_beat_schedules_are_seeded_once_then_the_admin_owns_them():
    every_hour, _ = IntervalSchedule.objects.get_or_create(every=3600, period="seconds")
    PeriodicTask.objects.create(
        name="auto-approve", task="tasks.tasks.auto_approve_task", interval=every_hour,
        enabled=False,
    )  # fmt: skip
    AdminEditableScheduler(app=app, lazy=True).setup_schedule()
    edited = PeriodicTask.objects.get(name="auto-approve")
    assert edited.interval.every == 3600 and edited.enabled is False  # the admin's edit stands
    seeded = set(PeriodicTask.objects.values_list("name", flat=True))
    assert set(app.conf.beat_schedule) <= seeded  # the others were written from settings
    expire = PeriodicTask.objects.get(name="expire-claims")
    assert timedelta(seconds=expire.interval.every) == timedelta(seconds=60)


@pytest.mark.parametrize(
    ("task", "queue"),
    [
        ("payments.tasks.execute_payout_task", "money"),
        ("payments.tasks.weekly_payouts_task", "money"),
        ("tasks.tasks.auto_approve_task", "money"),
        ("tasks.tasks.pause_bundles_of_requester_task", "money"),
        ("tasks.tasks.aggregate_bundle_task", "quality"),
        ("tasks.tasks.submission_recorded_task", "quality"),
        ("tasks.tasks.assist_retrain_task", "quality"),
        ("tasks.tasks.expire_claims_task", "celery"),
    ],
)
def test_tasks_go_to_the_queue_of_their_job(task, queue):
    assert app.amqp.router.route({}, task)["queue"].name == queue


DEPLOY = ROOT / "docs" / "deploy"


def test_the_compose_example_is_valid_yaml_naming_real_images():
    import yaml

    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    images = {service["image"] for service in compose["services"].values()}
    assert images == {"postgres:15", "redis:7", "python:3.11-slim"}
    commands = " ".join(str(s.get("command", "")) for s in compose["services"].values())
    assert "celery -A marketplace beat" in commands


def test_the_examples_run_a_worker_for_every_queue_the_routes_use():
    from marketplace.celery import TASK_ROUTES

    queues = {route["queue"] for route in TASK_ROUTES.values()} | {"celery"}
    for example in (DEPLOY / "Procfile", DEPLOY / "compose.yaml"):
        text = example.read_text()
        served = set()
        for flag in text.split("-Q ")[1:]:
            served |= set(flag.split()[0].split(","))
        assert queues <= served, (example.name, queues - served)
