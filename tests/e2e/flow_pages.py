"""Helpers of the annotation flow test (test_annotation_flow.py): people's browsers, a zip of
images with its JSONL manifest, and the requester's steps from the gallery to the download."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.e2e.annotation_pages import VIEWPORTS, session_cookie


class Person:
    """One signed-in person's browser context, recording JavaScript errors."""

    def __init__(self, open_context, site, user, viewport: str) -> None:
        with site.lock:
            cookie = session_cookie(site, user)
        self.user = user
        self.context = open_context(viewport=VIEWPORTS[viewport], device_scale_factor=1)
        self.context.set_default_timeout(10_000)
        self.context.add_cookies([cookie])
        self.page = self.context.new_page()
        self.site = site
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("console", self._console)

    def _console(self, message) -> None:
        # A form answered 400/402 on purpose is logged as a failed resource; not a bug.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)

    def go(self, path: str) -> None:
        self.page.goto(self.site(path))

    def start_task(self, bundle_id: int) -> None:
        self.go(f"/work/{bundle_id}/")
        self.page.get_by_role("button", name="Start a task").click()
        tool = self.page.locator("#task-panel[data-state=task] [data-anno][data-anno-ready]")
        expect(tool).to_be_visible()


def images_zip(path: Path, images: dict[str, bytes], manifest: list[dict[str, Any]]) -> Path:
    """A zip of `images` (name -> bytes) plus `items.jsonl` naming them."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in images.items():
            archive.writestr(name, data)
        archive.writestr("items.jsonl", "".join(json.dumps(row) + "\n" for row in manifest))
    path.write_bytes(buffer.getvalue())
    return path


def create_from_gallery(page, template: str, *, gold_rate: int = 0, expected: bool = False) -> int:
    """On /bundles/new/: pick a gallery template, set the gold options, create the draft;
    returns the new bundle's id (from the page's URL)."""
    page.get_by_role("button", name=template).click()
    if gold_rate:
        page.get_by_label("Gold rate (%)").fill(str(gold_rate))
        page.get_by_label("Tell workers whether their gold answers were correct").check()
    if expected:
        page.get_by_label(re.compile("^Show workers the expected answer")).check()
    page.get_by_role("button", name="Create draft").click()
    expect(page.locator("[data-status]")).to_have_text("Draft")
    return int(re.search(r"/bundles/(\d+)/", page.url).group(1))


def upload(page, path: Path, message: str) -> None:
    page.get_by_label("Items file").set_input_files(str(path))
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_text(message)).to_be_visible()


def fund_and_publish(person: Person, site, amount_minor: int = 10_000) -> None:
    """The admin credit path (an invoice paid, as `credit_balance` does), then Publish."""
    from payments.services import balance_credit

    with site.lock:
        balance_credit(
            requester=person.user,
            amount_minor=amount_minor,
            currency="usd",
            reference=f"e2e-flow-{person.user.pk}",
            by=None,
        )
    person.page.reload()
    person.page.get_by_role("button", name=re.compile("Publish")).click()
    expect(person.page.locator("[data-status]")).to_have_text("Published")


def approve_all(page, site, bundle_id: int, count: int) -> None:
    page.goto(site(f"/bundles/{bundle_id}/review/"))
    page.get_by_label("Select all answers").check()
    page.get_by_role("button", name="Approve selected").click()
    expect(page.get_by_text(f"Approved {count} answer(s).")).to_be_visible()


def download(page, site, bundle_id: int, link: str) -> Path:
    page.goto(site(f"/bundles/{bundle_id}/"))
    with page.expect_download() as started:
        page.get_by_role("link", name=link, exact=True).click()
    return Path(started.value.path())


class GoldDraws:
    """Decides the claims' gold draws (`random.random()` in tasks.work.claim): the next `gold`
    claims draw 0 (gold), every other one 0.99 (real work), so a test knows who gets gold."""

    def __init__(self) -> None:
        self.gold = 0

    def random(self) -> float:
        if self.gold > 0:
            self.gold -= 1
            return 0.0
        return 0.99
