"""The layout stays readable: no app module grows past the size a newcomer can hold in mind.

Import direction and cycles are checked by import-linter (`.importlinter`, run by `make check`);
this test covers what import-linter cannot: module size."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APPS = ("accounts", "payments", "tasks", "marketplace")
MAX_LINES = 500


def _app_modules():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


@pytest.mark.parametrize("path", list(_app_modules()), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_stays_under_the_size_limit(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines; split it by job"
