"""The review queue driven by the keyboard only: j/x select two answers, a approves them.
Screenshot: test-output/screenshots/review-keyboard.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _session_cookie(site, user) -> dict[str, str]:
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return {"name": name, "value": client.cookies[name].value, "url": site.url}


def test_review_queue_approves_two_answers_with_keys_only(open_context, site, screenshot):
    from tasks import services, work
    from tasks.models import Assignment
    from tests.factories import BundleFactory, ItemFactory, RequesterFactory, WorkerFactory, publish

    with site.lock:
        requester = RequesterFactory()
        bundle = BundleFactory(requester=requester, min_overlap=1, max_overlap=1)
        for n in range(3):
            ItemFactory(bundle=bundle, payload={"text": f"review {n}"})
        bundle = publish(bundle)
        ids = []
        for _ in range(3):
            worker = WorkerFactory()
            claimed = work.assignment_claim(bundle=bundle, worker=worker)
            services.assignment_submit(assignment_id=claimed.pk, worker=worker, answer="pos")
            ids.append(claimed.pk)
        cookie = _session_cookie(site, requester)

    context = open_context()
    context.set_default_timeout(10_000)
    context.add_cookies([cookie])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(site(f"/bundles/{bundle.pk}/review/"))
    expect(page.locator("#review-keys")).to_be_visible()

    rows = page.locator("tr[data-review-row]")
    page.keyboard.press("j")  # first answer
    expect(rows.nth(0)).to_have_class("kb-focus")
    page.keyboard.press("x")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("j")  # third answer
    expect(rows.nth(2)).to_have_class("kb-focus")
    page.keyboard.press("x")
    expect(page.locator(f"#a-{ids[0]}")).to_be_checked()
    expect(page.locator(f"#a-{ids[1]}")).not_to_be_checked()
    expect(page.locator(f"#a-{ids[2]}")).to_be_checked()
    screenshot(page, "review-keyboard")
    page.keyboard.press("a")

    expect(page.locator(".messages")).to_contain_text("Approved 2 answer(s).")
    expect(page.locator("tr[data-review-row]")).to_have_count(1)
    with site.lock:
        statuses = dict(Assignment.objects.filter(pk__in=ids).values_list("pk", "status"))
    assert statuses == {ids[0]: "approved", ids[1]: "submitted", ids[2]: "approved"}

    page.keyboard.press("r")  # r jumps to the reason, and typing there is not a shortcut
    expect(page.get_by_label("Reason (required to reject; the worker sees it)")).to_be_focused()
    page.keyboard.type("a wrong answer")
    expect(page.locator("tr[data-review-row]")).to_have_count(1)
    assert errors == []


def test_enter_in_the_reject_reason_never_approves(open_context, site, screenshot):
    """Issue 15, bug 1: Enter in the reason field submitted the form with its first button
    (Approve), which pays and cannot be undone. Enter now only adds a line to the reason."""
    from tasks import services, work
    from tasks.models import Assignment
    from tests.factories import BundleFactory, ItemFactory, RequesterFactory, WorkerFactory, publish

    with site.lock:
        requester = RequesterFactory()
        bundle = BundleFactory(requester=requester, min_overlap=1, max_overlap=1)
        ItemFactory(bundle=bundle, payload={"text": "enter"})
        bundle = publish(bundle)
        worker = WorkerFactory()
        claimed = work.assignment_claim(bundle=bundle, worker=worker)
        services.assignment_submit(assignment_id=claimed.pk, worker=worker, answer="pos")
        cookie = _session_cookie(site, requester)

    context = open_context()
    context.set_default_timeout(10_000)
    context.add_cookies([cookie])
    page = context.new_page()
    page.goto(site(f"/bundles/{bundle.pk}/review/"))
    page.locator(f"#a-{claimed.pk}").check()
    reason = page.get_by_label("Reason (required to reject; the worker sees it)")
    reason.click()
    page.keyboard.type("off topic")
    page.keyboard.press("Enter")
    page.wait_for_timeout(500)
    screenshot(page, "review-enter-in-reason")
    expect(page.locator("tr[data-review-row]")).to_have_count(1)
    with site.lock:
        status = Assignment.objects.get(pk=claimed.pk).status
    assert status == "submitted"
