"""Helpers of the annotation browser tests: a published annotation bundle, a signed-in worker's
page on its first task, and screen <-> image pixel conversion for drawing with the mouse."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from playwright.sync_api import expect

VIEWPORTS = {"1280": {"width": 1280, "height": 900}, "375": {"width": 375, "height": 812}}


def session_cookie(site, user) -> dict[str, str]:
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return {"name": name, "value": client.cookies[name].value, "url": site.url}


@dataclass
class TaskPage:
    page: Any
    bundle: Any
    worker: Any
    errors: list[str] = field(default_factory=list)

    def stored_answers(self) -> list[Any]:
        from tasks.models import Assignment

        rows = Assignment.objects.filter(worker=self.worker, submitted_at__isnull=False)
        return list(rows.order_by("submitted_at", "id").values_list("answer", flat=True))


def open_task(
    open_context, site, *, question: dict, payloads: list[dict], viewport: str, **bundle_fields
) -> TaskPage:
    """Publish a bundle of `payloads` (one answer each) and open its first task as a worker."""
    from tests.factories import BundleFactory, ItemFactory, WorkerFactory, publish

    with site.lock:
        from tasks.schema import question_validate

        bundle = BundleFactory(
            question=question_validate(question), min_overlap=1, max_overlap=1, **bundle_fields
        )
        for payload in payloads:
            ItemFactory(bundle=bundle, payload=payload)
        bundle = publish(bundle)
        worker = WorkerFactory()
        cookie = session_cookie(site, worker)
    context = open_context(viewport=VIEWPORTS[viewport], device_scale_factor=1)
    context.set_default_timeout(10_000)
    context.add_cookies([cookie])
    page = context.new_page()
    task = TaskPage(page, bundle, worker)
    page.on("pageerror", lambda exc: task.errors.append(str(exc)))
    page.on(
        "console",
        lambda m: (
            task.errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.goto(site(f"/work/{bundle.pk}/"))
    page.get_by_role("button", name="Start a task").click()
    tool = page.locator("#task-panel[data-state=task] [data-anno][data-anno-ready]")
    expect(tool).to_be_visible()
    return task


class Stage:
    """Converts image pixels to screen pixels over the tool's SVG (the image's own size is the
    SVG's viewBox), so a test can say "drag from (80, 220) to (280, 330) in the image"."""

    def __init__(self, page, width: int, height: int) -> None:
        self.page, self.width, self.height = page, width, height
        svg = page.locator("[data-svg]")
        expect(svg).to_have_attribute("viewBox", f"0 0 {width} {height}")
        svg.scroll_into_view_if_needed()  # the mouse only reaches what is on screen
        self.box = svg.bounding_box()

    @property
    def scale(self) -> float:
        """Image pixels per screen pixel."""
        return self.width / self.box["width"]

    def screen(self, x: float, y: float) -> tuple[float, float]:
        return (
            self.box["x"] + x * self.box["width"] / self.width,
            self.box["y"] + y * self.box["height"] / self.height,
        )

    def drag(self, start: tuple[float, float], end: tuple[float, float]) -> None:
        mouse = self.page.mouse
        mouse.move(*self.screen(*start))
        mouse.down()
        mouse.move(*self.screen(*end), steps=6)
        mouse.up()

    def click(self, x: float, y: float) -> None:
        self.page.mouse.click(*self.screen(x, y))


def submit_and_wait(page) -> None:
    """Submit with Enter and wait for the panel to show the next state with its feedback."""
    title = page.locator("#task-panel h2").inner_text()
    page.keyboard.press("Enter")
    page.wait_for_function(
        """(title) => {
            const panel = document.getElementById("task-panel");
            return panel && panel.querySelector("[data-feedback]")
                && panel.querySelector("h2").textContent !== title;
        }""",
        arg=title,
    )


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def close_to(actual: dict, expected: dict, tolerance: float) -> bool:
    def near(key: str) -> bool:
        if isinstance(expected[key], str):
            return actual[key] == expected[key]
        return abs(actual[key] - expected[key]) <= tolerance

    return actual.keys() == expected.keys() and all(near(k) for k in expected)
