"""The whole loop in a real browser: a requester signs up, creates and publishes a bundle from
a file; two workers sign up, find it and answer with the keyboard only (one on a 375 px
screen); the requester watches the progress bar move, reviews, downloads the results; the
workers see their earnings and the reject reason. Screenshots: test-output/screenshots/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "e2e-pass-phrase-2026"
ITEMS_CSV = (
    "external_id,text\n"
    "r1,Arrived quickly and works perfectly.\n"
    "r2,Broke after two days.\n"
    "r3,Exactly as described.\n"
)
BAD_CSV = "external_id,text,gold\nr1,Great,pos\nr2,Awful,maybe\n"


class Browser:
    """One person's browser context, recording JavaScript errors."""

    def __init__(self, open_context, site, **options) -> None:
        self.context = open_context(**options)
        self.context.set_default_timeout(10_000)
        self.page = self.context.new_page()
        self.site = site
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("console", self._console)

    def _console(self, message) -> None:
        # A form answered 400/402 on purpose (an error shown next to its field) is logged by
        # the browser as a failed resource; anything else logged as an error is a bug.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)

    def go(self, path: str) -> None:
        self.page.goto(self.site(path))

    def signup(self, email: str, *, requester: bool) -> None:
        self.go("/accounts/signup/")
        page = self.page
        page.get_by_label("Email").fill(email)
        page.get_by_label(re.compile(r"^Password:?$")).fill(PASSWORD)
        page.get_by_label(re.compile(r"^Password \(again\)")).fill(PASSWORD)
        page.get_by_label("I want to work on tasks").set_checked(not requester)
        page.get_by_label("I want to publish tasks").set_checked(requester)
        page.get_by_role("button", name="Sign up").click()
        expect(page.get_by_role("button", name=re.compile("Log out"))).to_be_visible()

    def fits_the_screen(self) -> bool:
        return self.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def answer_with_keys(page, keys: list[str]) -> None:
    """Press keys on the task panel and wait for htmx to swap in what comes next."""
    panel = page.locator("#task-panel")
    before = [panel.get_attribute("data-state"), page.locator("#task-panel h2").inner_text()]
    for key in keys:
        page.keyboard.press(key)
    page.wait_for_function(
        """([state, title]) => {
            const panel = document.getElementById("task-panel");
            const heading = panel && panel.querySelector("h2");
            return panel && panel.querySelector("[data-feedback]")
                && (panel.dataset.state !== state || heading.textContent !== title);
        }""",
        arg=before,
    )


def test_the_whole_loop_in_a_browser(open_context, site, screenshot, tmp_path):
    from django.contrib.auth import get_user_model

    from payments.services import balance_credit
    from tasks.models import Assignment

    # -- the requester signs up, creates a bundle, uploads items, publishes ------------------
    req = Browser(open_context, site, viewport={"width": 1200, "height": 900})
    req.go("/accounts/signup/")
    screenshot(req.page, "01-signup")
    req.signup("ada@requester.test", requester=True)

    req.go("/bundles/new/")
    page = req.page
    page.get_by_label("Title").fill("Is this review positive?")
    page.get_by_label("Instructions", exact=False).first.fill(
        "Read the review.\n\nPick **Positive** or Negative."
    )
    # the markdown preview (htmx) shows what workers will see
    expect(page.locator("#instructions-preview strong")).to_have_text("Positive")
    page.get_by_label("Question type").select_option("single_choice")
    page.get_by_label("Choices").fill("pos | Positive\nneg | Negative")
    page.get_by_label("Reward").fill("0.05")
    page.get_by_label("Overlap").fill("2")
    expect(page.locator("[data-estimate]")).to_contain_text("Each answer costs 0.06")
    screenshot(page, "02-create-bundle")
    page.get_by_role("button", name="Create draft").click()
    expect(page.locator("[data-status]")).to_have_text("Draft")
    bundle_url = page.url

    bad = tmp_path / "bad.csv"
    bad.write_text(BAD_CSV)
    page.get_by_label("Items file").set_input_files(str(bad))
    page.get_by_role("button", name="Upload").click()
    expect(page.locator(".field.has-error")).to_contain_text("Row 2")
    screenshot(page, "03-upload-row-error")

    good = tmp_path / "items.csv"
    good.write_text(ITEMS_CSV)
    page.get_by_label("Items file").set_input_files(str(good))
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_text("Uploaded 3 items.")).to_be_visible()
    expect(page.locator("[data-total-cost]")).to_have_text("$0.36")

    page.get_by_role("button", name=re.compile("Publish")).click()
    expect(page.get_by_role("alert")).to_contain_text("$0.36 missing")
    screenshot(page, "04-publish-insufficient-funds")

    with site.lock:  # the admin credit path (an invoice paid), as `credit_balance` does
        requester = get_user_model().objects.get(email="ada@requester.test")
        balance_credit(
            requester=requester, amount_minor=1_000, currency="usd", reference="e2e-1", by=None
        )
    page.get_by_role("button", name=re.compile("Publish")).click()
    expect(page.locator("[data-status]")).to_have_text("Published")
    expect(page.locator("[data-progress]")).to_contain_text("0 / 3")
    screenshot(page, "05-bundle-published")

    # -- worker 1 (desktop) answers all three with the keyboard ------------------------------
    one = Browser(open_context, site, viewport={"width": 1200, "height": 900})
    one.signup("grace@worker.test", requester=False)
    one.go("/work/")
    expect(one.page.get_by_text("Is this review positive?")).to_be_visible()
    screenshot(one.page, "06-find-work")
    one.page.get_by_role("button", name=re.compile("Start working")).focus()
    one.page.keyboard.press("Enter")
    expect(one.page.locator("#task-panel")).to_have_attribute("data-state", "task")
    expect(one.page.locator(".countdown")).to_have_text(re.compile(r"^(9|10):\d\d$"))
    one.page.evaluate("window.__sameDocument = true")
    screenshot(one.page, "07-task")
    answer_with_keys(one.page, ["1", "Enter"])
    answer_with_keys(one.page, ["2", "Enter"])
    answer_with_keys(one.page, ["1", "Enter"])
    expect(one.page.locator("#task-panel")).to_have_attribute("data-state", "empty")
    assert one.page.evaluate("window.__sameDocument === true"), "a task loaded by full reload"
    screenshot(one.page, "08-no-more-tasks")

    # -- worker 2 (375 px phone) skips one, answers two; the progress bar moves --------------
    two = Browser(open_context, site, viewport={"width": 375, "height": 812}, is_mobile=True)
    two.signup("alan@worker.test", requester=False)
    two.go("/work/")
    two.page.get_by_role("button", name=re.compile("Start working")).focus()
    two.page.keyboard.press("Enter")
    expect(two.page.locator("#task-panel")).to_have_attribute("data-state", "task")
    assert two.fits_the_screen(), "the task page overflows a 375 px screen"
    screenshot(two.page, "09-task-375px")
    answer_with_keys(two.page, ["s"])
    expect(two.page.locator("[data-feedback]")).to_have_text("Task skipped.")
    answer_with_keys(two.page, ["1", "Enter"])
    expect(req.page.locator("[data-progress]")).to_contain_text("1 / 3")  # htmx polling
    answer_with_keys(two.page, ["1", "Enter"])
    expect(req.page.locator("[data-progress]")).to_contain_text("2 / 3")
    expect(two.page.locator("#task-panel")).to_have_attribute("data-state", "empty")
    screenshot(req.page, "10-progress-moved")

    # -- the requester reviews: a reason is required to reject; then approves the rest -------
    req.go(bundle_url.replace(site.url, "") + "review/")
    page = req.page
    with site.lock:
        rejected_id = (
            Assignment.objects.filter(worker__email="alan@worker.test", status="submitted")
            .order_by("id")
            .values_list("id", flat=True)
            .first()
        )
    page.locator(f"#a-{rejected_id}").check()
    page.get_by_role("button", name="Reject selected").click()
    expect(page.locator(".field.has-error")).to_contain_text("Give a reason to reject")
    screenshot(page, "11-review-reason-required")
    page.get_by_label(re.compile("^Reason")).fill("Please read the review to the end.")
    page.get_by_role("button", name="Reject selected").click()
    expect(page.get_by_text("Rejected 1 answer(s).")).to_be_visible()
    page.get_by_label("Select all answers").check()
    screenshot(page, "12-review-queue")
    page.get_by_role("button", name="Approve selected").click()
    expect(page.get_by_text("Approved 4 answer(s).")).to_be_visible()

    req.go(bundle_url.replace(site.url, ""))
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    csv_text = download.value.path().read_text(encoding="utf-8")
    assert csv_text.splitlines()[0].startswith("item_id")
    for external_id in ("r1", "r2", "r3"):
        assert external_id in csv_text
    screenshot(page, "13-bundle-after-review")
    req.go("/balance/")
    expect(page.get_by_role("heading", name="Statement")).to_be_visible()
    screenshot(page, "16-requester-balance")

    # -- the workers see their earnings and the reason -----------------------------------------
    one.go("/work/earnings/")
    expect(one.page.locator("[data-available]").first).to_have_text("$0.15")
    screenshot(one.page, "14-earnings")
    two.go("/work/earnings/")
    expect(two.page.get_by_text("Reason: Please read the review to the end.")).to_be_visible()
    expect(two.page.locator("[data-available]").first).to_have_text("$0.05")
    assert two.fits_the_screen(), "the earnings page overflows a 375 px screen"
    screenshot(two.page, "15-earnings-375px-rejected")

    for person in (req, one, two):
        assert person.errors == [], person.errors
