"""Issue 15, an appeal end to end in Chromium: the worker appeals a rejection from Earnings,
the requester overturns it on "Appeals & blocks" (the answer is paid), the worker reads the
outcome and sees the pay in their hourly history.
Screenshots: test-output/screenshots/appeal-01-worker-form, appeal-02-requester-open,
appeal-03-requester-answered, appeal-04-worker-overturned (.png)."""

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


def test_worker_appeals_a_rejection_and_the_requester_overturns_it(open_context, site, screenshot):
    from payments import services as payments
    from tasks import review
    from tasks.models import Appeal
    from tests.factories import BundleFactory, ItemFactory, RequesterFactory, WorkerFactory, publish
    from tests.tasks.fairness.helpers import answer

    with site.lock:
        requester = RequesterFactory()
        bundle = BundleFactory(
            requester=requester, title="Sentiment of reviews", min_overlap=1, max_overlap=1,
            reward_minor=8,
        )  # fmt: skip
        for n in range(3):
            ItemFactory(bundle=bundle, payload={"text": f"review {n}"})
        bundle = publish(bundle)
        worker = WorkerFactory()
        work = answer(bundle, worker, seconds=12)
        review.assignment_reject(
            assignment_id=work.pk, by=requester, reason="The review is sarcastic, so negative."
        )
        worker_cookie = _session_cookie(site, worker)
        requester_cookie = _session_cookie(site, requester)

    as_worker = open_context()
    as_worker.set_default_timeout(10_000)
    as_worker.add_cookies([worker_cookie])
    page = as_worker.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(site("/work/earnings/"))
    page.locator("[data-appeal-link]").click()
    expect(page.locator(".reject-reason")).to_contain_text("sarcastic")
    page.get_by_label("Why should this be reconsidered?").fill(
        "It praises the battery twice; the sarcasm is about the box, not the product."
    )
    screenshot(page, "appeal-01-worker-form")
    page.get_by_role("button", name="Send appeal").click()
    expect(page.locator(".messages")).to_contain_text("Appeal sent")
    expect(page.locator('tr[data-appeal-status="open"]')).to_have_count(1)

    as_requester = open_context()
    as_requester.set_default_timeout(10_000)
    as_requester.add_cookies([requester_cookie])
    console = as_requester.new_page()
    console.on("pageerror", lambda exc: errors.append(str(exc)))
    console.goto(site("/bundles/"))
    console.get_by_role("link", name="Appeals & blocks").click()
    card = console.locator('[data-appeal-status="open"]')
    expect(card).to_contain_text("the sarcasm is about the box")
    expect(card).not_to_contain_text(worker.email)  # a pseudonym, never the email
    screenshot(console, "appeal-02-requester-open")
    card.get_by_role("button", name="Overturn and pay").click()
    expect(console.locator(".messages")).to_contain_text("Appeal answered")
    expect(console.locator('[data-appeal-status="overturned"]')).to_have_count(1)
    screenshot(console, "appeal-03-requester-answered")

    page.goto(site("/work/fair/"))
    expect(page.locator('tr[data-appeal-status="overturned"]')).to_have_count(1)
    expect(page.locator("[data-hourly-history]")).to_contain_text("Sentiment of reviews")
    screenshot(page, "appeal-04-worker-overturned")
    with site.lock:
        assert Appeal.objects.get().status == "overturned"
        assert payments.worker_available(worker_id=worker.pk, currency="usd") == 8
    assert errors == []


def test_requester_raises_the_reward_of_a_bundle_the_pilot_paused(
    open_context, site, screenshot, settings
):
    """The pay floor in the console: the pilot paused an underpaid bundle; the page says why
    and what it takes; raising the reward resumes it. Screenshots: payfloor-01-paused,
    payfloor-02-resumed."""
    from tests.factories import BundleFactory, ItemFactory, RequesterFactory, WorkerFactory, publish
    from tests.tasks.fairness.helpers import answer

    settings.PAY_FLOOR_PILOT_JUDGMENTS = 2
    with site.lock:
        requester = RequesterFactory()
        bundle = BundleFactory(
            requester=requester, title="Transcribe receipts", min_overlap=1, max_overlap=1,
            reward_minor=5,
        )  # fmt: skip
        for n in range(4):
            ItemFactory(bundle=bundle, payload={"text": f"receipt {n}"})
        bundle = publish(bundle)
        for _ in range(2):
            answer(bundle, WorkerFactory(), seconds=90)
        bundle.refresh_from_db()  # the second answer's follow-up closed the pilot, on commit
        assert (bundle.status, bundle.pay_floor_state) == ("paused", "below")
        cookie = _session_cookie(site, requester)

    context = open_context()
    context.set_default_timeout(10_000)
    context.add_cookies([cookie])
    page = context.new_page()
    page.goto(site(f"/bundles/{bundle.pk}/"))
    alert = page.locator("#pay-floor-paused")
    expect(alert).to_contain_text("below the platform's minimum")
    expect(page.get_by_role("button", name="Resume", exact=True)).to_have_count(0)
    screenshot(page, "payfloor-01-paused")
    page.locator("#new-reward").fill("40")  # the least is 30 or 31: 90 s and some milliseconds
    page.get_by_role("button", name="Raise the reward to resume").click()
    expect(page.locator(".messages")).to_contain_text("pays the floor now")
    expect(page.locator("[data-status]")).to_have_text("Published")
    screenshot(page, "payfloor-02-resumed")
