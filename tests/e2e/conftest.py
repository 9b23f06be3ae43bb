"""Browser tests: Playwright for Python driving Debian's Chromium against a live server.

Playwright's sync API runs an event loop in the test thread, and Django refuses ORM calls from
a thread with a running loop unless told otherwise; the tests only touch the database between
browser steps, under the server's lock (see `site`)."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_CANDIDATES = [
    os.environ.get("CHROMIUM_PATH", ""),
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/lib/chromium/chromium",
]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"


def pytest_configure(config):
    config.addinivalue_line("markers", "e2e: end-to-end test in a real browser (Chromium)")


def pytest_terminal_summary(terminalreporter):
    """Say it at the end of every run, in red, when the browser tests could not run."""
    skipped = terminalreporter.stats.get("skipped", [])
    if any("E2E BROWSER TESTS SKIPPED" in str(report.longrepr) for report in skipped):
        terminalreporter.write_sep("!", "E2E BROWSER TESTS SKIPPED: NO CHROMIUM", red=True)
        terminalreporter.write_line(
            "Install it with `apt-get install -y chromium` (or set CHROMIUM_PATH).", red=True
        )


def chromium_path() -> str | None:
    for candidate in CHROMIUM_CANDIDATES:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("chromium")


class _LockedApp:
    """Serialises requests: with in-memory SQLite every server thread shares the test's one
    connection, so two requests at once (an htmx poll beside a submit) must not interleave.
    The response body is read inside the lock (streamed exports touch the database too)."""

    def __init__(self, app, lock: threading.RLock) -> None:
        self.app, self.lock = app, lock

    def __call__(self, environ, start_response):
        with self.lock:
            result = self.app(environ, start_response)
            try:
                body = [bytes(chunk) for chunk in result]
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        return body

    def __getattr__(self, name):  # StaticFilesHandler attributes (base_url, ...)
        return getattr(self.app, name)


class LiveSite:
    def __init__(self, url: str, lock: threading.RLock) -> None:
        self.url, self.lock = url, lock

    def __call__(self, path: str) -> str:
        return self.url + path


@pytest.fixture
def site(transactional_db):
    """A live server for one test, with `site.lock` held by the test while it uses the ORM."""
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.db import connections
    from django.test.testcases import LiveServerThread

    lock = threading.RLock()
    overrides = {
        conn.alias: conn
        for conn in connections.all()
        if conn.vendor == "sqlite" and conn.is_in_memory_db()
    }
    thread = LiveServerThread(
        "127.0.0.1",
        lambda app: _LockedApp(StaticFilesHandler(app), lock),
        connections_override=overrides,
    )
    thread.daemon = True
    for conn in overrides.values():
        conn.inc_thread_sharing()
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    try:
        yield LiveSite(f"http://127.0.0.1:{thread.port}", lock)
    finally:
        thread.terminate()
        for conn in overrides.values():
            conn.dec_thread_sharing()


@pytest.fixture(scope="module")
def chromium():
    """One browser per module, closed after it, so no event loop outlives the browser tests."""
    path = chromium_path()
    if path is None:
        message = (
            "\n"
            + "!" * 78
            + "\n!! E2E BROWSER TESTS SKIPPED: no Chromium found (tried "
            + ", ".join(c for c in CHROMIUM_CANDIDATES if c)
            + ").\n!! Install it: apt-get install -y chromium   (or set CHROMIUM_PATH)\n"
            + "!" * 78
        )
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_context(chromium, site):
    """Browser contexts for one test, closed before its live server stops (a context holds
    keep-alive connections open in server threads)."""
    contexts = []
    violations: list[str] = []

    def make(**options):
        context = chromium.new_context(**options)
        # Every page runs under the Content-Security-Policy (marketplace.csp): a blocked
        # script, style or image is a failed test, not a silent console line.
        context.on(
            "console",
            lambda msg: (
                violations.append(msg.text) if "Content Security Policy" in msg.text else None
            ),
        )
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()
    assert not violations, violations


@pytest.fixture
def screenshot():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
