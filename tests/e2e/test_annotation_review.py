"""The review page in a real browser: each worker's boxes over the image with the aggregate
(dashed), lined up with the image at 1280 and 375 px; spans highlighted in the text.
Screenshots: test-output/screenshots/review-boxes-*.png, review-spans-1280.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.annotation_support import SCENE_OBJECTS, SCENE_SIZE
from tests.e2e.annotation_pages import VIEWPORTS, fits_the_screen, session_cookie
from tests.e2e.test_annotation_boxes import BOXES
from tests.e2e.test_annotation_polygons_spans import SPANS, TEXT

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def annotating(settings):
    """The site's URLs plus the test image (tests.e2e.media_urls)."""
    settings.ROOT_URLCONF = "tests.e2e.media_urls"


def _bundle_with_answers(site, question, payload, answers, aggregate):
    from tasks import services, work
    from tasks.models import ItemResult
    from tasks.schema import question_validate
    from tests.factories import BundleFactory, ItemFactory, RequesterFactory, WorkerFactory, publish

    with site.lock:
        requester = RequesterFactory()
        bundle = BundleFactory(
            requester=requester, question=question_validate(question), min_overlap=3, max_overlap=3
        )
        item = ItemFactory(bundle=bundle, payload=payload)
        bundle = publish(bundle)
        for answer in answers:
            worker = WorkerFactory()
            claimed = work.assignment_claim(bundle=bundle, worker=worker)
            services.assignment_submit(assignment_id=claimed.pk, worker=worker, answer=answer)
        ItemResult.objects.update_or_create(
            item=item,
            defaults={"label": aggregate, "confidence": 0.83, "method": "boxes", "judgments": 3},
        )
        return bundle, session_cookie(site, requester)


def _box(label, x, y, w, h, **extra):
    return {"label": label, "x": x, "y": y, "w": w, "h": h, **extra}


@pytest.mark.parametrize("viewport", ["1280", "375"])
def test_review_shows_each_workers_boxes_and_the_aggregate(
    open_context, site, screenshot, annotating, viewport
):
    width, height = SCENE_SIZE
    car, person = SCENE_OBJECTS["car"], SCENE_OBJECTS["person"]
    payload = {"image": site("/test-media/scene.png"), "image_width": width, "image_height": height}
    answers = [
        {"boxes": [_box("car", *car), _box("person", *person)]},
        {"boxes": [_box("car", car[0] + 6, car[1] - 4, car[2] - 10, car[3] + 6)]},
        {"boxes": [_box("person", 10, 10, 600, 380)]},  # a spammer's one big box
    ]
    aggregate = {
        "boxes": [_box("car", *car, confidence=0.9), _box("person", *person, confidence=0.6)]
    }
    bundle, cookie = _bundle_with_answers(site, BOXES, payload, answers, aggregate)

    context = open_context(viewport=VIEWPORTS[viewport])
    context.add_cookies([cookie])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(site(f"/bundles/{bundle.pk}/review/"))
    figures = page.locator("figure.overlay-figure")
    expect(figures).to_have_count(3)
    first = figures.nth(0)
    expect(first.locator("img")).to_be_visible()
    expect(first).to_contain_text("Dashed: the aggregate (confidence 83%)")
    # The overlay covers the image exactly, so image pixels line up with the drawn shapes.
    image_box = first.locator("img").bounding_box()
    svg_box = first.locator("svg").bounding_box()
    assert abs(image_box["width"] - svg_box["width"]) < 1 and abs(image_box["x"] - svg_box["x"]) < 1
    car_rect = first.locator('[data-layer="aggregate"] rect.shape-body').first.bounding_box()
    scale = image_box["width"] / width
    assert abs(car_rect["x"] - (image_box["x"] + car[0] * scale)) < 3  # (stroke width)
    assert abs(car_rect["width"] - car[2] * scale) < 3
    expect(first.locator('[data-layer="other"] rect.shape-body')).to_have_count(2)
    screenshot(page, f"review-boxes-{viewport}")
    if viewport == "375":
        assert fits_the_screen(page)
    assert errors == []


def test_review_highlights_spans(open_context, site, screenshot, annotating):
    ada, london = TEXT.index("Ada Lovelace"), TEXT.index("London")
    answers = [
        {"spans": [{"start": ada, "end": ada + 12, "label": "PER"}]},
        {"spans": [{"start": london, "end": london + 6, "label": "LOC"}]},
        {"spans": []},
    ]
    aggregate = {"spans": [{"start": ada, "end": ada + 12, "label": "PER", "confidence": 0.7}]}
    bundle, cookie = _bundle_with_answers(site, SPANS, {"text": TEXT}, answers, aggregate)
    context = open_context(viewport=VIEWPORTS["1280"])
    context.add_cookies([cookie])
    page = context.new_page()
    page.goto(site(f"/bundles/{bundle.pk}/review/"))
    first = page.locator(".span-views").first
    expect(first.locator("mark[data-tag='Person']").first).to_have_text("Ada Lovelace")
    expect(first).to_contain_text("Aggregate (confidence 83%)")
    screenshot(page, "review-spans-1280")
