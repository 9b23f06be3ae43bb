"""The template gallery on /bundles/new/ in a real browser: a template fills the question
schema and shows a live preview of the worker's page, rendered by the task page's own
templates and tools (a box drawn and a span marked in the preview give the DESIGN answer
shape); the draft is then created from the filled form. At 1280 and 375 px. Screenshots:
test-output/screenshots/gallery-*.png."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.e2e.annotation_pages import VIEWPORTS, Stage, fits_the_screen, session_cookie

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _requester_page(open_context, site, viewport: str):
    from tests.factories import RequesterFactory

    with site.lock:
        requester = RequesterFactory()
        cookie = session_cookie(site, requester)
    context = open_context(viewport=VIEWPORTS[viewport])
    context.set_default_timeout(10_000)
    context.add_cookies([cookie])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(site("/bundles/new/"))
    return page, requester, errors


def _preview_answer(page) -> dict:
    page.get_by_role("button", name="Submit (preview)").click()
    output = page.locator("[data-preview-answer]")
    expect(output).not_to_be_empty()
    return json.loads(output.inner_text())


def test_gallery_fills_the_question_and_previews_the_tools(open_context, site, screenshot):
    page, requester, errors = _requester_page(open_context, site, "1280")
    preview = page.locator("#task-preview")

    page.get_by_role("button", name="Object detection").click()
    expect(page.get_by_label("Title")).to_have_value("Draw a box around every car and person")
    expect(page.get_by_label("Question type")).to_have_value("bounding_box")
    schema = json.loads(page.get_by_label("Question schema (JSON)").input_value())
    assert schema["type"] == "bounding_box" and schema["labels"][0]["value"] == "car"
    expect(preview.locator("[data-anno][data-anno-ready] [data-svg]")).to_be_visible()
    stage = Stage(page, 640, 400)
    stage.drag((60, 245), (250, 370))  # the sample's car
    assert _preview_answer(page) == {
        "boxes": [{"label": "car", "x": 60, "y": 245, "w": 190, "h": 125}]
    }
    screenshot(page, "gallery-object-detection-1280")

    page.get_by_role("button", name="Named entities (NER)").click()
    expect(page.get_by_label("Question type")).to_have_value("text_spans")
    text = preview.locator("[data-text]")
    expect(text).to_have_class("anno-text ready")
    text.focus()
    page.keyboard.press("Home")
    page.keyboard.press("Shift+Control+ArrowRight")
    page.keyboard.press("Shift+Control+ArrowRight")
    page.keyboard.press("1")
    assert _preview_answer(page) == {"spans": [{"start": 0, "end": 12, "label": "PER"}]}
    screenshot(page, "gallery-ner-1280")

    # The filled form creates the draft (the preview's own fields are not posted with it).
    page.get_by_role("button", name="Create draft").click()
    expect(page.locator(".messages")).to_contain_text("Bundle created as a draft")
    with site.lock:
        from tasks.models import Bundle

        bundle = Bundle.objects.get(requester=requester)
    assert bundle.title == "Mark the names in each sentence"
    assert bundle.question["type"] == "text_spans"
    assert [label["value"] for label in bundle.question["labels"]] == ["PER", "ORG", "LOC", "MISC"]
    assert errors == []


def test_gallery_on_a_phone(open_context, site, screenshot):
    page, _, errors = _requester_page(open_context, site, "375")
    preview = page.locator("#task-preview")

    page.get_by_role("button", name="Response preference").click()
    expect(preview.get_by_text("Eggs are a good source of protein.")).to_be_visible()
    preview.get_by_text("Put the egg in boiling water").click()
    preview.get_by_label("Why? (optional)").fill("It answers the question.")
    assert _preview_answer(page) == {"choice": "left", "reason": "It answers the question."}
    screenshot(page, "gallery-preference-375")
    assert fits_the_screen(page)

    page.get_by_role("button", name="Sentiment").click()
    expect(page.get_by_label("Question type")).to_have_value("single_choice")
    expect(preview.get_by_text("Positive")).to_be_visible()
    expect(page.get_by_label("Question schema (JSON)")).to_be_hidden()
    page.get_by_role("button", name="Segmentation").click()
    expect(preview.locator("[data-anno][data-anno-ready] [data-svg]")).to_be_visible()
    screenshot(page, "gallery-segmentation-375")
    assert fits_the_screen(page)
    assert errors == []
