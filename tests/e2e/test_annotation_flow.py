"""Issue 12 done: a requester runs an object-detection and an NER bundle from the template
gallery to a COCO / spaCy export through the browser alone. The requester picks the template,
creates the draft, uploads a zip of images with a JSONL manifest (or a JSONL of sentences),
is credited (the admin path) and publishes; three workers (one on a 375 px phone) draw boxes
with the mouse or mark spans with mouse and keyboard; the bundle page shows progress and labels
as the run goes; a gold task's expected shape is shown after it is answered; the requester
approves and downloads the export, which pycocotools / the spaCy offsets read back.
Screenshots: test-output/screenshots/flow-*.png."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from tests.annotation_support import SCENE_OBJECTS, SCENE_SIZE, scene_png
from tests.e2e.annotation_pages import Stage, fits_the_screen, submit_and_wait
from tests.e2e.flow_pages import (
    GoldDraws,
    Person,
    approve_all,
    create_from_gallery,
    download,
    fund_and_publish,
    images_zip,
    upload,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _box(label: str) -> dict:
    x, y, w, h = SCENE_OBJECTS[label]
    return {"label": label, "x": x, "y": y, "w": w, "h": h}


@pytest.fixture
def gold_draws(monkeypatch) -> GoldDraws:
    draws = GoldDraws()
    monkeypatch.setattr("tasks.work.claim.random", draws)
    return draws


@pytest.fixture
def people(open_context, site):
    def make(factory, viewport: str = "1280") -> Person:
        with site.lock:
            user = factory()
        return Person(open_context, site, user, viewport)

    return make


def _beat_reaggregates(site) -> None:
    """What Celery beat does every few minutes: re-aggregate the live bundles with judgments
    newer than their labels. The batched live update after each answer usually got there
    first (then there is nothing to do); the labels the test reads next come from either."""
    from tasks.tasks import reaggregate_live_bundles_task

    with site.lock:
        assert reaggregate_live_bundles_task() in (0, 1)


def _draw_scene(worker: Person, jitter: int) -> None:
    """Box the car (label 1, checked first) and the person (key 2) with the mouse."""
    page = worker.page
    stage = Stage(page, *SCENE_SIZE)
    x, y, w, h = SCENE_OBJECTS["car"]
    stage.drag((x + jitter, y), (x + w + jitter, y + h))
    page.keyboard.press("Escape")
    page.keyboard.press("2")
    x, y, w, h = SCENE_OBJECTS["person"]
    stage.drag((x, y - jitter), (x + w, y + h - jitter))
    expect(page.locator("[data-list] li")).to_have_count(2)


def test_object_detection_from_gallery_to_coco(
    people, site, screenshot, tmp_path, gold_draws, settings
):
    from pycocotools.coco import COCO

    from tests.factories import RequesterFactory, WorkerFactory

    settings.MEDIA_ROOT = str(tmp_path / "media")
    req = people(RequesterFactory)
    req.go("/bundles/new/")
    bundle_id = create_from_gallery(req.page, "Object detection", gold_rate=10, expected=True)
    screenshot(req.page, "flow-detection-01-draft")

    gold = {"boxes": [_box("car"), _box("person")]}
    manifest = [
        {"external_id": "street-1", "payload": {"image": "img/street-1.png"}},
        {"external_id": "street-2", "payload": {"image": "img/street-2.png"}},
        {"external_id": "gold-1", "payload": {"image": "img/gold-1.png"}, "gold": gold},
    ]
    images = {f"img/{row['external_id']}.png": scene_png() for row in manifest}
    upload(req.page, images_zip(tmp_path / "street.zip", images, manifest),
           "Uploaded 3 items (1 gold) and 3 media files.")  # fmt: skip
    screenshot(req.page, "flow-detection-02-uploaded")
    fund_and_publish(req, site)
    expect(req.page.locator("[data-progress]")).to_contain_text("0 / 2")
    screenshot(req.page, "flow-detection-03-published")

    # Worker 1 (desktop) gets the gold task first: the expected boxes show after answering.
    gold_draws.gold = 1
    one = people(WorkerFactory)
    one.start_task(bundle_id)
    image = one.page.locator("[data-anno] image, [data-anno] img").first
    href = image.get_attribute("href") or image.get_attribute("src")
    # A signed URL of the media view, never the storage key (media/b<bundle>/<random>.png)
    # nor the manifest's name.
    assert re.search(r"/api/v1/media/[^/]+/$", href) or re.search(r"/media/[^/]+/$", href), href
    assert f"b{bundle_id}/" not in href and "street" not in href and "gold" not in href, href
    assert (
        one.page.evaluate(
            "(url) => fetch(url).then(r => r.ok && r.headers.get('content-type'))", href
        )
        == "image/png"
    )
    _draw_scene(one, jitter=0)
    screenshot(one.page, "flow-detection-04-worker-gold")
    submit_and_wait(one.page)
    expected = one.page.locator("[data-expected]")
    expect(expected).to_be_visible()
    expect(one.page.locator("[data-feedback]")).to_contain_text("Quality check: correct")
    assert json.loads(expected.locator("pre").inner_text()) == gold
    # The expected shapes wrap inside the panel (a long line of JSON overflowed it).
    assert one.page.evaluate(
        """() => {
            const shown = document.querySelector("[data-expected] pre");
            const panel = document.getElementById("task-panel").getBoundingClientRect();
            return shown.scrollWidth <= shown.clientWidth + 1
                && shown.getBoundingClientRect().right <= panel.right + 1;
        }"""
    ), "the expected answer overflows the task panel"
    screenshot(one.page, "flow-detection-05-gold-expected")
    for _ in range(2):
        _draw_scene(one, jitter=0)
        submit_and_wait(one.page)
    expect(one.page.locator("#task-panel")).to_have_attribute("data-state", "empty")

    # Worker 2 on a phone, worker 3 on a desktop; the requester's page moves meanwhile.
    two = people(WorkerFactory, "375")
    two.start_task(bundle_id)
    assert fits_the_screen(two.page)
    _draw_scene(two, jitter=2)
    screenshot(two.page, "flow-detection-06-worker-375")
    submit_and_wait(two.page)
    _draw_scene(two, jitter=2)
    submit_and_wait(two.page)
    three = people(WorkerFactory)
    three.start_task(bundle_id)
    for _ in range(2):
        _draw_scene(three, jitter=-2)
        submit_and_wait(three.page)
    expect(req.page.locator("[data-progress]")).to_contain_text("2 / 2")
    _beat_reaggregates(site)
    req.page.reload()
    chart = req.page.locator("#label-chart")
    expect(chart).to_contain_text("Car: 3")  # every item (the gold one too) has a car
    expect(chart).not_to_contain_text("2 boxes")
    screenshot(req.page, "flow-detection-07-progress-and-labels")

    approve_all(req.page, site, bundle_id, 7)
    path = download(req.page, site, bundle_id, "COCO")
    screenshot(req.page, "flow-detection-08-done")
    coco = COCO(str(path))
    names = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
    assert sorted(names.values()) == ["bicycle", "car", "person"]
    files = {img["file_name"]: img for img in coco.loadImgs(coco.getImgIds())}
    assert {"street-1.png", "street-2.png"} <= {name.split("/")[-1] for name in files}
    for img in files.values():
        assert (img["width"], img["height"]) == SCENE_SIZE
        boxes = {names[a["category_id"]]: a["bbox"] for a in coco.loadAnns(
            coco.getAnnIds(imgIds=[img["id"]]))}  # fmt: skip
        assert boxes.keys() == {"car", "person"}, boxes
        for label, (x, y, w, h) in boxes.items():
            truth = SCENE_OBJECTS[label]
            assert all(abs(a - b) <= 4 for a, b in zip((x, y, w, h), truth, strict=True))
    for person in (req, one, two, three):
        assert person.errors == [], person.errors


SENTENCES = [
    "Ada Lovelace wrote to Charles Babbage from London.",
    "Grace Hopper worked at Harvard in Cambridge.",
]
TRUTH = [
    [("Ada Lovelace", "PER"), ("Charles Babbage", "PER"), ("London", "LOC")],
    [("Grace Hopper", "PER"), ("Harvard", "ORG"), ("Cambridge", "LOC")],
]


def _mark(worker: Person, text: str, spans: list[tuple[str, str]]) -> None:
    """The first span with the mouse (label chosen first), the others with the keyboard: the
    caret moved by Home and Ctrl+Right, the span selected with Shift+Ctrl+Right, a label key."""
    page = worker.page
    keys = {"PER": "1", "ORG": "2", "LOC": "3"}
    first, label = spans[0]
    page.get_by_text({"PER": "Person", "ORG": "Organisation", "LOC": "Place"}[label],
                     exact=True).click()  # fmt: skip
    start = text.index(first)
    boxes = [_char_box(page, start), _char_box(page, start + len(first) - 1)]
    page.mouse.move(boxes[0]["x"] + 1, boxes[0]["y"] + boxes[0]["height"] / 2)
    page.mouse.down()
    page.mouse.move(boxes[1]["x"] + boxes[1]["width"] - 1,
                    boxes[1]["y"] + boxes[1]["height"] / 2, steps=8)  # fmt: skip
    page.mouse.up()
    rows = page.locator("[data-list] li")
    expect(rows).to_have_count(1)  # marked on release (after a tick): wait before the keys
    for marked, (words, label) in enumerate(spans[1:], 2):
        page.locator("[data-text]").focus()
        page.keyboard.press("Home")
        before = len(text[: text.index(words)].split())
        for _ in range(before):
            page.keyboard.press("Control+ArrowRight")
        page.keyboard.press("ArrowRight")
        for _ in range(len(words.split())):
            page.keyboard.press("Shift+Control+ArrowRight")
        expect(page.locator("[data-anno] [data-status]")).to_contain_text(f"Selected “{words}”")
        page.keyboard.press(keys[label])
        expect(rows).to_have_count(marked)


def _char_box(page, index: int) -> dict:
    return page.evaluate(
        """(index) => {
            const root = document.querySelector("[data-text]");
            const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
            let node, seen = 0;
            while ((node = walker.nextNode())) {
                if (index < seen + node.length) {
                    const range = document.createRange();
                    range.setStart(node, index - seen);
                    range.setEnd(node, index - seen + 1);
                    const r = range.getBoundingClientRect();
                    return {x: r.x, y: r.y, width: r.width, height: r.height};
                }
                seen += node.length;
            }
            return null;
        }""",
        index,
    )


def test_ner_from_gallery_to_spacy(people, site, screenshot, tmp_path, settings):
    from tests.factories import RequesterFactory, WorkerFactory

    req = people(RequesterFactory)
    req.go("/bundles/new/")
    bundle_id = create_from_gallery(req.page, "Named entities (NER)")
    manifest = tmp_path / "sentences.jsonl"
    manifest.write_text("".join(
        json.dumps({"external_id": f"s{n}", "payload": {"text": text}}) + "\n"
        for n, text in enumerate(SENTENCES, 1)))  # fmt: skip
    upload(req.page, manifest, "Uploaded 2 items.")
    fund_and_publish(req, site)
    screenshot(req.page, "flow-ner-01-published")

    for n, viewport in enumerate(("1280", "375", "1280")):
        worker = people(WorkerFactory, viewport)
        worker.start_task(bundle_id)
        for _ in SENTENCES:
            text = worker.page.locator("[data-text]").inner_text()
            _mark(worker, text, TRUTH[SENTENCES.index(text)])
            if n == 1:
                assert fits_the_screen(worker.page)
            screenshot(worker.page, f"flow-ner-02-worker-{n + 1}-{viewport}")
            submit_and_wait(worker.page)
        expect(worker.page.locator("#task-panel")).to_have_attribute("data-state", "empty")
        assert worker.errors == [], worker.errors
    expect(req.page.locator("[data-progress]")).to_contain_text("2 / 2")
    _beat_reaggregates(site)
    req.page.reload()
    chart = req.page.locator("#label-chart")
    expect(chart).to_contain_text("Person: 2")
    expect(chart).not_to_contain_text("3 spans")
    screenshot(req.page, "flow-ner-03-progress-and-labels")

    approve_all(req.page, site, bundle_id, 6)
    path = download(req.page, site, bundle_id, "spaCy")
    screenshot(req.page, "flow-ner-04-done")
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert sorted(line["text"] for line in lines) == sorted(SENTENCES)
    for line in lines:
        truth = TRUTH[SENTENCES.index(line["text"])]
        found = [(line["text"][s:e], label) for s, e, label in line["entities"]]
        assert found == truth
    assert req.errors == [], req.errors
