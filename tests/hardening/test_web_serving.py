"""How the web processes are served: every deployment example starts gunicorn with the one
configuration bench/load.py measures (threaded workers, so a results download holds a thread,
not a process), and threaded processes keep their PostgreSQL connections."""

import os
import runpy
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "docs" / "deploy"
CONFIG = DEPLOY / "gunicorn.conf.py"


def test_the_gunicorn_configuration_runs_threads_sized_by_web_threads(monkeypatch):
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    monkeypatch.setenv("WEB_THREADS", "6")
    monkeypatch.setenv("PORT", "9000")

    config = runpy.run_path(str(CONFIG))

    assert config["worker_class"] == "gthread"
    assert (config["workers"], config["threads"], config["bind"]) == (3, 6, "0.0.0.0:9000")
    assert config["max_requests"] > 0 and config["accesslog"] == "-"


def test_every_example_starts_the_web_with_that_configuration():
    examples = [
        DEPLOY / "Procfile",
        DEPLOY / "compose.yaml",
        DEPLOY / "systemd" / "crowdmarket-web.service",
    ]
    for example in examples:
        text = example.read_text()
        starts = [line for line in text.splitlines() if "gunicorn " in line and "#" not in line]
        assert starts, example.name
        assert "docs/deploy/gunicorn.conf.py" in text, example.name
        assert "--workers" not in text, example.name  # one place decides: the config file
    assert "--config" in (ROOT / "bench" / "load.py").read_text()


def _conn_max_age(**env: str) -> int:
    """CONN_MAX_AGE as the settings compute it in a fresh process with this environment."""
    code = (
        "import django; from django.conf import settings; django.setup(); "
        "print(settings.DATABASES['default']['CONN_MAX_AGE'])"
    )
    base = {k: v for k, v in os.environ.items() if k not in ("CONN_MAX_AGE", "DEBUG")}
    base.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/unused")
    if base["DATABASE_URL"].startswith("sqlite"):
        base["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/unused"
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**base, "DJANGO_SETTINGS_MODULE": "marketplace.settings", **env},
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return int(done.stdout.strip().splitlines()[-1])


def test_threaded_processes_keep_their_connections_and_runserver_does_not():
    """gunicorn's threads live as long as their process (a thread pool), so each keeps its
    connection; closing it after every request cost claims a new connection and a new PREPARE
    each. runserver (DEBUG) starts a thread per request: there nothing is kept."""
    assert _conn_max_age(WEB_THREADS="4") == 60
    assert _conn_max_age(WEB_THREADS="1") == 60
    assert _conn_max_age(WEB_THREADS="4", DEBUG="1") == 0
