"""Issue 15 in the browser: messaging between a worker and a requester (with the unread count
in the navigation), the review queue's filters, grouping and bulk approval with its
confirmation, and find work's search and preview before accepting.

Screenshots (test-output/screenshots/): messaging-worker-asks, messaging-requester-thread,
messaging-worker-reply, review-filters-grouped, review-bulk-confirm, find-work-filters,
work-preview."""

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


def _page_for(open_context, site, user, **options):
    context = open_context(**options)
    context.set_default_timeout(10_000)
    context.add_cookies([_session_cookie(site, user)])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page, errors


def _answered_bundle(*, workers: int = 3, items: int = 2, overlap: int = 3, open_items: int = 0):
    """A bundle whose `items` every worker answered; `open_items` more nobody answered keep it
    live (a bundle completes once all its items are)."""
    from tasks import services, work
    from tests.factories import BundleFactory, ItemFactory, RequesterFactory, WorkerFactory, publish

    requester = RequesterFactory()
    bundle = BundleFactory(
        requester=requester, title="Sentiment of product reviews", min_overlap=overlap,
        max_overlap=overlap, reward_minor=10,
        instructions="Mark **sarcasm** as negative. Ask if unsure.",
    )  # fmt: skip
    for n in range(items):
        ItemFactory(bundle=bundle, payload={"text": f"review number {n}: great, just great"})
    bundle = publish(bundle)
    for n in range(open_items):
        ItemFactory(bundle=bundle, payload={"text": f"review number {items + n}: not answered"})
    people = WorkerFactory.create_batch(workers)
    for index, worker in enumerate(people):
        for _ in range(items):
            claimed = work.assignment_claim(bundle=bundle, worker=worker)
            value = "neg" if index == workers - 1 else "pos"
            services.assignment_submit(assignment_id=claimed.pk, worker=worker, answer=value)
    return requester, bundle, people


def test_a_worker_asks_and_the_requester_answers(open_context, site, screenshot):
    from tests.factories import ItemFactory

    with site.lock:
        requester, bundle, (worker, *_) = _answered_bundle(workers=1, items=1, overlap=1)
        ItemFactory(bundle=bundle, payload={"text": "one more review"}, slots_open=1)
    page, errors = _page_for(open_context, site, worker)
    page.goto(site(f"/work/{bundle.pk}/"))
    page.get_by_role("link", name="Ask the requester a question").click()
    page.get_by_label("Message").fill("Is sarcasm always negative? Mail me at me@example.org")
    screenshot(page, "messaging-worker-asks")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".messages")).to_contain_text("Message sent to the requester.")
    expect(page.locator("#thread-messages")).to_contain_text("[email hidden]")
    expect(page.locator("#thread-messages")).not_to_contain_text("me@example.org")

    req, req_errors = _page_for(open_context, site, requester)
    req.goto(site("/bundles/"))
    expect(req.locator("#nav-messages .unread-count")).to_have_text("1")
    req.locator("#nav-messages").click()
    expect(req.locator("#threads tr.unread")).to_have_count(1)
    req.get_by_role("link", name="Sentiment of product reviews").click()
    expect(req.locator("#thread-with")).to_contain_text("w_")
    expect(req.locator("#nav-messages .unread-count")).to_have_count(0)  # read now
    req.get_by_label("Message").fill("Yes: sarcasm counts as negative. Thanks for asking!")
    req.get_by_role("button", name="Send").click()
    expect(req.locator("#thread-messages .msg")).to_have_count(2)
    screenshot(req, "messaging-requester-thread")
    assert worker.email not in req.content()

    page.goto(site("/work/"))
    expect(page.locator("#nav-messages .unread-count")).to_have_text("1")
    page.locator("#nav-messages").click()
    page.get_by_role("link", name="Sentiment of product reviews").click()
    expect(page.locator("#thread-messages")).to_contain_text("sarcasm counts as negative")
    assert requester.email not in page.content()
    screenshot(page, "messaging-worker-reply")
    assert errors == [] and req_errors == []


def test_review_filters_group_by_item_and_bulk_approve_with_a_confirm(
    open_context, site, screenshot
):
    from tasks.models import Assignment, ItemResult
    from tests.payments.helpers import assert_ledger_balanced

    with site.lock:
        requester, bundle, workers = _answered_bundle()
        for item in bundle.items.all():
            ItemResult.objects.update_or_create(
                item=item,
                defaults={"label": "pos", "confidence": 0.67, "method": "mv", "judgments": 3},
            )
    page, errors = _page_for(open_context, site, requester, viewport={"width": 1280, "height": 900})
    page.goto(site(f"/bundles/{bundle.pk}/review/"))
    expect(page.locator("tr[data-review-row]")).to_have_count(6)
    page.get_by_label("Disagrees with the label").check()
    page.get_by_label("Show").select_option("item")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tr[data-review-row]")).to_have_count(2)
    expect(page.locator("[data-item-group]")).to_have_count(2)
    expect(page.locator("[data-item-group]").first).to_contain_text("confidence 67%")
    screenshot(page, "review-filters-grouped")

    page.get_by_label("Disagrees with the label").uncheck()
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("button", name="Approve all 6 waiting…").click()
    expect(page.locator("#bulk-summary")).to_contain_text("6 waiting answers from 3 workers")
    expect(page.locator("[data-bulk-money]")).to_have_text("$0.60")
    screenshot(page, "review-bulk-confirm")
    page.get_by_role("button", name="Approve 6 answers").click()
    expect(page.locator(".messages")).to_contain_text("Approved 6 answer(s) matching the filter.")
    with site.lock:
        assert set(Assignment.objects.values_list("status", flat=True)) == {"approved"}
        assert_ledger_balanced()
    assert errors == []


def test_find_work_search_and_preview_before_accepting(open_context, site, screenshot):
    from accounts.models import RequesterProfile
    from tests.factories import BundleFactory, ItemFactory, WorkerFactory, publish

    with site.lock:
        requester, bundle, _ = _answered_bundle(workers=1, items=3, overlap=1, open_items=1)
        RequesterProfile.objects.filter(user=requester).update(organization="Acme Reviews Lab")
        ItemFactory(bundle=bundle, payload={"text": "a review nobody answered yet"})
        gold = ItemFactory(bundle=bundle, gold="neg", payload={"text": "GOLD ITEM"})
        other = BundleFactory(title="Count the cats", reward_minor=3)
        ItemFactory(bundle=other)
        publish(other)
        worker = WorkerFactory()
    assert gold.is_gold
    page, errors = _page_for(open_context, site, worker, viewport={"width": 1280, "height": 900})
    page.goto(site("/work/"))
    expect(page.locator("#work-cards .card")).to_have_count(2)
    page.get_by_label("Search").fill("sentiment")
    page.get_by_label("Sort by").select_option("tasks_left")
    page.get_by_role("button", name="Show work").click()
    expect(page.locator("#work-cards .card")).to_have_count(1)
    expect(page.locator("[data-requester-name]")).to_have_text("Acme Reviews Lab")
    screenshot(page, "find-work-filters")
    page.get_by_role("link", name="Preview Sentiment of product reviews").click()
    expect(page.locator("#preview-instructions strong")).to_have_text("sarcasm")
    expect(page.locator("#preview-sample")).to_contain_text("review number 0: great, just great")
    expect(page.locator("#preview-sample")).not_to_contain_text("GOLD ITEM")
    expect(page.locator("#preview-sample input[type=radio]").first).to_be_disabled()
    screenshot(page, "work-preview")
    page.get_by_role("button", name="Accept and start working").click()
    expect(page.locator("#task-panel")).to_have_attribute("data-state", "task")
    assert errors == []
