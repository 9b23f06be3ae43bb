"""Polygons and text spans in a real browser, at 1280 and 375 px.

Polygons: click points and close on the first point; a second one closed with Enter; drag a
vertex; label by key; submit: points in the image's own pixels. Spans: one marked with the
mouse, others with the keyboard only (caret, Shift/Ctrl+arrows, label keys), an overlap
refused, one removed at the caret; offsets are Python indices into the original text even
after an emoji (two UTF-16 units, one code point). Screenshots:
test-output/screenshots/annotate-polygon-*.png and annotate-spans-*.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.annotation_support import SCENE_SIZE
from tests.e2e.annotation_pages import Stage, fits_the_screen, open_task, submit_and_wait

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

POLYGON = {
    "type": "polygon",
    "image_field": "image",
    "labels": [{"value": "road", "label": "Road"}, {"value": "car", "label": "Car"}],
}
SPANS = {
    "type": "text_spans",
    "text_field": "text",
    "labels": [
        {"value": "PER", "label": "Person"},
        {"value": "ORG", "label": "Organisation"},
        {"value": "LOC", "label": "Place"},
    ],
    "allow_overlap": False,
}
TEXT = "😀 Ada Lovelace met  Charles Babbage in London.\nThey wrote to each other."


@pytest.fixture
def annotating(settings):
    """The site's URLs plus the test image (tests.e2e.media_urls)."""
    settings.ROOT_URLCONF = "tests.e2e.media_urls"


@pytest.mark.parametrize("viewport", ["1280", "375"])
def test_polygons_drawn_edited_and_submitted(open_context, site, screenshot, annotating, viewport):
    width, height = SCENE_SIZE
    payload = {"image": site("/test-media/scene.png"), "image_width": width, "image_height": height}
    task = open_task(open_context, site, question=POLYGON, payloads=[payload], viewport=viewport)
    page = task.page
    rows = page.locator("[data-list] li")
    stage = Stage(page, width, height)
    tolerance = stage.scale + 1

    # The road: four clicks (inside the image's edges), closed by clicking the first point.
    for point in [(2, 300), (638, 300), (638, 398), (2, 398)]:
        stage.click(*point)
    expect(rows).to_have_count(0)  # still drawing
    stage.click(2, 300)
    expect(rows).to_have_count(1)
    # The car with label 2, closed with Enter (which must not submit the task).
    page.keyboard.press("Escape")
    page.keyboard.press("2")
    for point in [(80, 220), (280, 220), (280, 330)]:
        stage.click(*point)
    page.keyboard.press("Enter")
    expect(rows).to_have_count(2)
    expect(page.locator("#task-panel")).to_have_attribute("data-state", "task")
    # Enter with two points only is refused with a message; Escape drops that polygon.
    stage.click(500, 50)
    stage.click(560, 50)
    page.keyboard.press("Enter")
    expect(page.locator("[data-anno] [data-status]")).to_contain_text("at least 3 points")
    page.keyboard.press("Escape")
    # Drag the car's third point to (280, 330) -> (80, 330): a triangle along the car's side.
    stage.drag((280, 330), (80, 330))
    expect(rows.nth(1).locator("select")).to_have_value("car")

    screenshot(page, f"annotate-polygon-{viewport}")
    if viewport == "375":
        assert fits_the_screen(page)
    submit_and_wait(page)

    with site.lock:
        (answer,) = task.stored_answers()
    road, car = answer["polygons"]
    assert road["label"] == "road" and car["label"] == "car"
    expected_road = [(2, 300), (638, 300), (638, 398), (2, 398)]
    expected_car = [(80, 220), (280, 220), (80, 330)]
    for got, want in ((road["points"], expected_road), (car["points"], expected_car)):
        assert len(got) == len(want)
        for (x, y), (wx, wy) in zip(got, want, strict=True):
            assert abs(x - wx) <= tolerance and abs(y - wy) <= tolerance
            assert isinstance(x, int) and isinstance(y, int)
    assert task.errors == []


def _char_box(page, index: int) -> dict:
    return page.locator(f'[data-text] [data-i="{index}"]').bounding_box()


@pytest.mark.parametrize("viewport", ["1280", "375"])
def test_spans_marked_with_mouse_and_keyboard(open_context, site, screenshot, annotating, viewport):
    task = open_task(
        open_context, site, question=SPANS, payloads=[{"text": TEXT}], viewport=viewport
    )
    page = task.page
    rows = page.locator("[data-list] li")
    status = page.locator("[data-anno] [data-status]")
    ada = TEXT.index("Ada Lovelace")  # 2: the emoji is one code point

    # Mouse: choose "Person", drag over "Ada Lovelace" (from its first to its last letter).
    page.get_by_text("Person", exact=True).click()
    start, end = _char_box(page, ada), _char_box(page, ada + len("Ada Lovelace") - 1)
    page.mouse.move(start["x"] + 1, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(end["x"] + end["width"] - 1, end["y"] + end["height"] / 2, steps=8)
    page.mouse.up()
    expect(rows).to_have_count(1)
    expect(rows.nth(0)).to_contain_text("Person: “Ada Lovelace”")

    # Keyboard only from here: Home, then Ctrl+Right to the end of "met", Right over the two
    # spaces, Shift+Ctrl+Right twice selects "Charles Babbage", 1 marks it a Person.
    page.locator("[data-text]").focus()
    page.keyboard.press("Home")
    for _ in range(3):  # Ada | Lovelace | met (the emoji is no word)
        page.keyboard.press("Control+ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+Control+ArrowRight")
    page.keyboard.press("Shift+Control+ArrowRight")
    expect(status).to_contain_text("Selected “Charles Babbage”")
    page.keyboard.press("1")
    expect(rows).to_have_count(2)
    # "London": two words on, Shift+Ctrl+Right, 3 (Place).
    page.keyboard.press("Control+ArrowRight")  # "in"
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+Control+ArrowRight")
    page.keyboard.press("3")
    expect(rows).to_have_count(3)
    # An overlapping span ("London." with the dot selected from the caret back) is refused.
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+Control+ArrowLeft")
    page.keyboard.press("Shift+Control+ArrowLeft")
    page.keyboard.press("2")
    expect(status).to_contain_text("may not overlap")
    expect(rows).to_have_count(3)
    # A span at the end ("other", before the dot), then removed at the caret, undone, redone.
    page.keyboard.press("Escape")
    page.keyboard.press("End")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("Shift+Control+ArrowLeft")
    expect(status).to_contain_text("Selected “other”")
    page.keyboard.press("2")
    expect(rows).to_have_count(4)
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("Delete")
    expect(rows).to_have_count(3)
    page.keyboard.press("Control+z")
    expect(rows).to_have_count(4)
    page.keyboard.press("Control+y")
    expect(rows).to_have_count(3)

    screenshot(page, f"annotate-spans-{viewport}")
    if viewport == "375":
        assert fits_the_screen(page)
    submit_and_wait(page)

    with site.lock:
        (answer,) = task.stored_answers()
    spans = answer["spans"]
    assert [(TEXT[s["start"] : s["end"]], s["label"]) for s in spans] == [
        ("Ada Lovelace", "PER"),
        ("Charles Babbage", "PER"),
        ("London", "LOC"),
    ]
    assert spans[0] == {"start": 2, "end": 14, "label": "PER"}
    assert task.errors == []
