"""Bounding boxes in a real browser, at 1280 and 375 px: draw (too small is refused), move,
resize by a handle, label by key and by the list, delete, undo/redo, submit; "nothing to mark"
on the next image. The stored answer is the DESIGN shape in the image's own pixels, whatever
size the image was shown at. Screenshots: test-output/screenshots/annotate-boxes-*.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.annotation_support import SCENE_SIZE
from tests.e2e.annotation_pages import Stage, close_to, fits_the_screen, open_task, submit_and_wait

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

BOXES = {
    "type": "bounding_box",
    "image_field": "image",
    "labels": [{"value": "car", "label": "Car"}, {"value": "person", "label": "Person"}],
    "min_size": 8,
    "allow_empty": True,
}


@pytest.fixture
def annotating(settings):
    """The site's URLs plus the test image (tests.e2e.media_urls)."""
    settings.ROOT_URLCONF = "tests.e2e.media_urls"


def scene(site) -> dict:
    width, height = SCENE_SIZE
    return {"image": site("/test-media/scene.png"), "image_width": width, "image_height": height}


@pytest.mark.parametrize("viewport", ["1280", "375"])
def test_boxes_drawn_edited_and_submitted(open_context, site, screenshot, annotating, viewport):
    task = open_task(
        open_context, site, question=BOXES, payloads=[scene(site), scene(site)], viewport=viewport
    )
    page = task.page
    rows = page.locator("[data-list] li")
    status = page.locator("[data-anno] [data-status]")
    stage = Stage(page, *SCENE_SIZE)
    tolerance = stage.scale + 1

    # Draw the car with the first label (checked by default).
    stage.drag((80, 220), (280, 330))
    expect(rows).to_have_count(1)
    # Deselect, pick "Person" with its key, draw the person.
    page.keyboard.press("Escape")
    page.keyboard.press("2")
    stage.drag((420, 120), (490, 320))
    expect(rows).to_have_count(2)
    expect(rows.nth(1).locator("select")).to_have_value("person")
    # A box under the minimum size is refused, with the reason.
    stage.drag((10, 10), (13, 14))
    expect(status).to_contain_text("Too small")
    expect(rows).to_have_count(2)

    # Move the car by (+10, -10), then resize it from its bottom-right handle by (+20, +10).
    stage.drag((180, 275), (190, 265))
    stage.drag((290, 320), (310, 330))
    expect(rows.nth(0)).to_have_class("lc0 selected")

    # Next box (the person), relabel it "Car" with its key, undo that.
    page.keyboard.press("n")
    page.keyboard.press("1")
    expect(rows.nth(1).locator("select")).to_have_value("car")
    page.keyboard.press("Control+z")
    expect(rows.nth(1).locator("select")).to_have_value("person")

    # Add a box with the keyboard, delete it, undo, redo.
    page.keyboard.press("b")
    expect(rows).to_have_count(3)
    page.keyboard.press("Delete")
    expect(rows).to_have_count(2)
    page.keyboard.press("Control+z")
    expect(rows).to_have_count(3)
    page.keyboard.press("Control+y")
    expect(rows).to_have_count(2)
    # Relabel through the list (touch-friendly), then back.
    rows.nth(1).locator("select").select_option("car")
    rows.nth(1).locator("select").select_option("person")

    page.keyboard.press("n")  # select the car: its handles show in the screenshot
    screenshot(page, f"annotate-boxes-{viewport}")
    if viewport == "375":
        assert fits_the_screen(page)
    submit_and_wait(page)

    # Second image: nothing there. Enter alone is refused until "Nothing to mark" is ticked.
    expect(page.locator("[data-anno][data-anno-ready]")).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator("[data-anno] [data-status]")).to_contain_text("Nothing to mark")
    page.get_by_label("Nothing to mark in this image").check()
    submit_and_wait(page)
    expect(page.locator("#task-panel")).to_have_attribute("data-state", "empty")

    with site.lock:
        first, second = task.stored_answers()
    car, person = first["boxes"]
    assert list(first) == ["boxes"] and len(first["boxes"]) == 2
    assert close_to(car, {"label": "car", "x": 90, "y": 210, "w": 220, "h": 120}, tolerance)
    assert close_to(person, {"label": "person", "x": 420, "y": 120, "w": 70, "h": 200}, tolerance)
    assert all(isinstance(car[k], int) for k in "xywh")
    assert second == {"boxes": []}
    assert task.errors == []
