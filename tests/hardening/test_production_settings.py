"""Issue 16, findings 7 and 8: production refuses the public development key, and the
database connection settings are deliberate."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEV_KEY = "dev-insecure-key-change-me-" + "x" * 32


def _check(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DATABASE_URL", "DEBUG")}
    env.update(
        CROWDMARKET_ENV="production",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        ALLOWED_HOSTS="example.com",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
        **extra,
    )
    return subprocess.run(  # noqa: S603 - our own manage.py, fixed arguments
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("key", [DEV_KEY, "short", "changeme" * 3])
def test_production_refuses_to_start_with_a_weak_or_public_secret_key(tmp_path, key):
    result = _check(tmp_path, SECRET_KEY=key)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_starts_with_a_real_secret_key(tmp_path):
    result = _check(tmp_path, SECRET_KEY="k3y-" + "a1B2c3D4e5" * 6)
    assert result.returncode == 0, result.stderr[-2000:]


def test_connection_settings_are_deliberate(settings):
    db = settings.DATABASES["default"]
    assert "CONN_MAX_AGE" in db and "CONN_HEALTH_CHECKS" in db
    assert isinstance(settings.DATABASE_POOL_SIZE_PER_PROCESS, int)
    assert settings.DATABASE_POOL_SIZE_PER_PROCESS >= 1
