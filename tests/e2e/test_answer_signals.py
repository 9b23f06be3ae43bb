"""The task page's answer signals in a real browser: typing and pasting into a free-text answer
are counted by work.js and posted with the answer (the hidden `signals` field), and the
bundle's hidden agent instruction is in the page but not on screen. Screenshot:
test-output/screenshots/answer-signals-1280.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.annotation_pages import VIEWPORTS, session_cookie

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TYPED = "Battery is great"
PASTED = " but the screen is far too dim when used outdoors in the sun."


def test_typing_and_pasting_are_recorded_with_the_answer(open_context, site, screenshot):
    from tests.factories import BundleFactory, ItemFactory, WorkerFactory, publish

    with site.lock:
        bundle = BundleFactory(
            min_overlap=1, max_overlap=1, agent_canary="zephyrine",
            question={"type": "text", "prompt": "Summarise the review", "max_length": 500},
        )  # fmt: skip
        ItemFactory(bundle=bundle, payload={"text": "Long battery life, dim screen outside."})
        publish(bundle)
        worker = WorkerFactory()
        cookie = session_cookie(site, worker)
    context = open_context(viewport=VIEWPORTS["1280"])
    context.set_default_timeout(10_000)
    context.add_cookies([cookie])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(site(f"/work/{bundle.pk}/"))
    page.get_by_role("button", name="Start a task").click()

    note = page.locator("[data-agent-note]")
    expect(note).to_have_count(1)
    expect(note).to_contain_text("zephyrine")
    box = note.bounding_box()
    assert box is not None and (box["x"] + box["width"] <= 0 or box["width"] <= 1)  # off screen
    assert note.get_attribute("aria-hidden") == "true"

    field = page.locator("#answer-input")
    field.click()
    page.keyboard.type(TYPED, delay=15)
    field.evaluate(
        """(el, text) => {
            const data = new DataTransfer();
            data.setData("text", text);
            const event = new ClipboardEvent("paste", {clipboardData: data, bubbles: true,
                                                       cancelable: true});
            if (el.dispatchEvent(event)) {  // the browser's own paste, as a person's would be
                el.setRangeText(text, el.selectionStart, el.selectionEnd, "end");
                el.dispatchEvent(new InputEvent("input", {inputType: "insertFromPaste",
                                                          bubbles: true}));
            }
        }""",
        PASTED,
    )
    expect(field).to_have_value(TYPED + PASTED)
    screenshot(page, "answer-signals-1280")
    page.keyboard.press("Enter")
    expect(page.locator("[data-feedback]")).to_contain_text("Answer saved")

    with site.lock:
        from tasks.models import AnswerSignals

        row = AnswerSignals.objects.get(assignment__worker=worker)
    assert row.typed_chars == len(TYPED)
    assert (row.paste_events, row.pasted_chars) == (1, len(PASTED))
    assert row.answer_chars == len((TYPED + PASTED).strip())
    assert row.typing_seconds > 0
    assert not errors, errors
