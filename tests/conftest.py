import pytest
from django.db import connection
from rest_framework.test import APIClient

from tests.factories import BundleFactory, ItemFactory, RequesterFactory, WorkerFactory, publish


def pytest_configure(config):
    """Run Celery tasks in-process in tests even when CELERY_BROKER_URL names a real broker
    (CI sets one); the broker round-trip itself is tested on its own in tests/test_celery.py."""
    from marketplace.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True

    from django.conf import settings

    # Hashing test passwords with the production hasher costs seconds per hundred users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # A live update after every submission, not once per window: deterministic tests.
    settings.QUALITY_LIVE_DEBOUNCE_SECONDS = 0
    # No persistent connections in tests: the test servers (live_server, like runserver) start a
    # thread per request, and with production's 60 s the suite ran 2.3x slower on PostgreSQL
    # (tests/web: 32 s against 14 s); production's own choice is tested in tests/hardening.
    for alias in settings.DATABASES:
        settings.DATABASES[alias]["CONN_MAX_AGE"] = 0


def pytest_collection_modifyitems(config, items):
    """Tests marked `postgres` need PostgreSQL (row locks, SKIP LOCKED); skip them loudly
    elsewhere. CI runs the suite on PostgreSQL, so they always run there."""
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" in engine:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL (CI does)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def api():
    return APIClient()


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def requester(db):
    return RequesterFactory()


@pytest.fixture
def workers(db):
    return [WorkerFactory() for _ in range(3)]


@pytest.fixture
def live_bundle(db, requester):
    """A published bundle of 4 items (overlap 3) with no gold."""
    bundle = BundleFactory(requester=requester)
    for _ in range(4):
        ItemFactory(bundle=bundle)
    return publish(bundle)


@pytest.fixture
def is_postgres():
    return connection.vendor == "postgresql"
