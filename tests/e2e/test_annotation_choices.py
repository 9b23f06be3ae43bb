"""The tools that are mostly form fields, in a real browser at 1280 px: image classification
(zoom with keys and buttons, pick with 1-9, Enter submits), transcription (Ctrl+Enter submits
the text box) and pairwise (arrow keys pick a side, a required reason). Screenshots:
test-output/screenshots/annotate-classify-1280.png, annotate-pairwise-1280.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.annotation_support import SCENE_SIZE
from tests.e2e.annotation_pages import open_task, submit_and_wait

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def annotating(settings):
    """The site's URLs plus the test image (tests.e2e.media_urls)."""
    settings.ROOT_URLCONF = "tests.e2e.media_urls"


def test_image_classification_zoom_and_keys(open_context, site, screenshot, annotating):
    question = {
        "type": "image_classification",
        "image_field": "image",
        "choices": [{"value": "street", "label": "Street"}, {"value": "indoor", "label": "Indoor"}],
    }
    width, height = SCENE_SIZE
    payload = {"image": site("/test-media/scene.png"), "image_width": width, "image_height": height}
    task = open_task(open_context, site, question=question, payloads=[payload], viewport="1280")
    page = task.page
    viewport = page.locator("[data-viewport]")
    page.keyboard.press("+")
    expect(viewport).to_have_attribute("data-zoom", "1.50")
    page.get_by_role("button", name="Zoom in").click()
    expect(viewport).to_have_attribute("data-zoom", "2.25")
    viewport.focus()  # (Enter on the focused zoom button would zoom again)
    page.keyboard.press("0")
    expect(viewport).to_have_attribute("data-zoom", "1.00")
    page.keyboard.press("Enter")  # nothing picked: refused in the page
    expect(page.locator("[data-anno] [data-status]")).to_have_text("Pick an option.")
    page.keyboard.press("1")
    expect(page.get_by_label("Street")).to_be_checked()
    screenshot(page, "annotate-classify-1280")
    submit_and_wait(page)
    with site.lock:
        assert task.stored_answers() == ["street"]
    assert task.errors == []


def test_transcription_and_pairwise(open_context, site, screenshot, annotating):
    question = {"type": "transcription", "media_field": "image", "normalize": ["case"]}
    width, height = SCENE_SIZE
    payload = {"image": site("/test-media/scene.png"), "image_width": width, "image_height": height}
    task = open_task(open_context, site, question=question, payloads=[payload], viewport="1280")
    page = task.page
    expect(page.locator("#answer-input")).to_be_focused()
    page.keyboard.type("A red car\nand a person")
    title = page.locator("#task-panel h2").inner_text()
    page.keyboard.press("Control+Enter")
    expect(page.locator("#task-panel h2")).not_to_have_text(title)
    with site.lock:
        assert task.stored_answers() == ["A red car\nand a person"]

    pair = {"type": "pairwise", "left_field": "a", "right_field": "b", "reason": "required"}
    item = {"a": "Boil it for 7 minutes.", "b": "Eggs are food.", "a_id": "m1", "b_id": "m2"}
    task = open_task(open_context, site, question=pair, payloads=[item], viewport="1280")
    page = task.page
    page.keyboard.press("ArrowRight")
    expect(page.locator('input[name="choice"][value="right"]')).to_be_checked()
    page.keyboard.press("ArrowLeft")
    expect(page.locator('input[name="choice"][value="left"]')).to_be_checked()
    page.keyboard.press("Enter")  # the reason is required: the browser asks for it first
    reason = page.get_by_label("Why?")
    expect(reason).to_be_focused()
    expect(page.locator("#task-panel")).to_have_attribute("data-state", "task")
    reason.fill("It answers the question.")
    screenshot(page, "annotate-pairwise-1280")
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#task-panel")).to_have_attribute("data-state", "empty")
    with site.lock:
        assert task.stored_answers() == [{"choice": "left", "reason": "It answers the question."}]
    assert task.errors == []
