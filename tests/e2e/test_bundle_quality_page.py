"""The requester's bundle page in a real browser: the SVG charts and the worker table render,
a block needs a reason (shown next to the field), and the page fits a 375 px screen.
Screenshot: test-output/screenshots/bundle-quality.png."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _session_cookie(site, user) -> dict[str, str]:
    """Log `user` in without the login form: a session made by the test client."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return {"name": name, "value": client.cookies[name].value, "url": site.url}


def test_bundle_page_shows_charts_and_blocks_a_worker(open_context, site, screenshot):
    from tasks import services, work
    from tasks.models import ItemResult, WorkerBundleStats
    from tasks.selectors import worker_public_id
    from tests.factories import BundleFactory, ItemFactory, RequesterFactory, WorkerFactory, publish

    with site.lock:
        requester = RequesterFactory()
        bundle = BundleFactory(requester=requester, min_overlap=1, max_overlap=1)
        items = [ItemFactory(bundle=bundle) for _ in range(5)]
        bundle = publish(bundle)
        for item, label in zip(items, ["pos", "pos", "pos", "neg"], strict=False):
            ItemResult.objects.create(item=item, label=label, confidence=0.9, method="majority")
        good, bad = WorkerFactory(), WorkerFactory()
        WorkerBundleStats.objects.create(
            worker=good, bundle=bundle, submitted=20, gold_seen=10, gold_correct=9
        )
        WorkerBundleStats.objects.create(
            worker=bad, bundle=bundle, submitted=15, gold_seen=10, gold_correct=3
        )
        claimed = work.assignment_claim(bundle=bundle, worker=bad)
        services.assignment_submit(assignment_id=claimed.pk, worker=bad, answer="neg")
        bad_id = worker_public_id(requester.pk, bad.pk)
        cookie = _session_cookie(site, requester)

    context = open_context(viewport={"width": 375, "height": 800})
    context.set_default_timeout(10_000)
    context.add_cookies([cookie])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(site(f"/bundles/{bundle.pk}/"))
    labels = page.locator("#label-chart svg")
    expect(labels).to_be_visible()
    expect(labels.locator("title")).to_have_text("Label distribution")
    expect(labels.locator("rect")).to_have_count(2)
    expect(page.locator("#accuracy-chart svg rect")).to_have_count(2)
    table = page.locator("table.workers")
    expect(table.locator("tbody tr")).to_have_count(2)
    row = table.locator(f'tr[data-worker="{bad_id}"]')
    expect(row).to_contain_text("30%")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    screenshot(page, "bundle-quality")

    # Block without a reason: the error is next to that row's field; with one: blocked.
    row.get_by_role("button", name="Block").click()
    row = page.locator(f'tr[data-worker="{bad_id}"]')
    expect(row.locator(".errorlist")).to_contain_text("Give a reason to block")
    row.get_by_label("Reason").fill("Fails most gold checks")
    row.get_by_role("button", name="Block").click()
    # Issue 15, bug 2: the consequences are shown first, and the block waits for a confirm.
    expect(page.locator("#block-consequences")).to_contain_text("will go back to work")
    screenshot(page, "bundle-quality-block-confirm")
    page.get_by_role("button", name=re.compile(r"^Block and ")).click()
    row = page.locator(f'tr[data-worker="{bad_id}"]')
    expect(row).to_contain_text("Reason: Fails most gold checks")
    expect(row.get_by_role("button", name="Unblock")).to_be_visible()
    screenshot(page, "bundle-quality-blocked")
    assert errors == []
