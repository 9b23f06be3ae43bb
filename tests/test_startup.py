"""A web or Celery process starts without scikit-learn and scipy.stats: importing them took
seconds per process under load (every gunicorn worker at boot, every Celery restart, the fault
tests' worker), and only calibration, ring detection and the assist models need them, on first
use."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
import django
django.setup()
from django.urls import resolve
resolve("/health/")
import marketplace.celery, tasks.tasks, payments.tasks
heavy = sorted(m for m in ("sklearn", "scipy.stats") if m in sys.modules)
print(",".join(heavy))
"""


def test_a_process_starts_without_scikit_learn_or_scipy_stats():
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "", f"imported at start-up: {out.stdout.strip()}"
