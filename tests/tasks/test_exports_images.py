"""Exports of boxes and polygons: COCO (loaded with pycocotools and re-imported), YOLO and VOC
zips, Label Studio (and back); no storage key ever leaves in an export."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET  # noqa: S405 - our own export, not untrusted XML
import zipfile

import pytest
from pycocotools.coco import COCO

from tasks import exports
from tasks.exports.coco import coco_labels
from tasks.exports.labelstudio import labelstudio_answer
from tests.conftest import client_for
from tests.factories import BundleFactory, ItemFactory, RequesterFactory
from tests.media import png
from tests.tasks.annotated import box_bundle, polygon_bundle, result

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def boxes():
    return box_bundle(RequesterFactory())


def _text(bundle, fmt: str) -> str:
    _, chunks = exports.bundle_results_export(bundle, fmt, base_url="http://testserver/")
    return "".join(chunks)


def _zip(bundle, fmt: str) -> zipfile.ZipFile:
    content_type, chunks = exports.bundle_results_export(bundle, fmt)
    assert content_type == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert archive.testzip() is None
    return archive


def test_coco_loads_in_pycocotools_with_categories_boxes_and_scores(boxes, tmp_path):
    text = _text(boxes["bundle"], "coco")
    path = tmp_path / "coco.json"
    path.write_text(text)
    api = COCO(str(path))

    assert [c["name"] for c in api.loadCats(api.getCatIds())] == ["car", "person"]
    first, gold, url, unknown = boxes["first"], boxes["gold"], boxes["url"], boxes["unknown"]
    assert sorted(api.getImgIds()) == sorted([first.pk, gold.pk, url.pk, unknown.pk])
    assert boxes["pending"].pk not in api.imgs  # no result yet: not an empty image
    image = api.loadImgs(first.pk)[0]
    assert (image["file_name"], image["width"], image["height"]) == ("img/cam-1.png", 200, 100)
    assert image["coco_url"].startswith("http://testserver/api/v1/media/")
    assert len(image["crowdmarket"]["judgments"]) == 2
    car, person = api.loadAnns(api.getAnnIds(imgIds=first.pk))
    assert (car["bbox"], car["area"], car["category_id"], car["score"]) == (
        [10, 20, 50, 30], 1500, 1, 0.92
    )  # fmt: skip
    assert (person["bbox"], person["iscrowd"], person["confidence"]) == (
        [100.5, 0, 20, 60],
        0,
        0.61,
    )
    [gold_ann] = api.loadAnns(api.getAnnIds(imgIds=gold.pk))
    assert gold_ann["score"] == 1.0
    assert api.getAnnIds(imgIds=url.pk) == []  # "nothing to mark" is an image with no boxes
    assert api.loadImgs(url.pk)[0]["file_name"] == "b c.jpg"
    assert "width" not in api.loadImgs(unknown.pk)[0]
    assert "media/b" not in text and "_media" not in text


def test_coco_polygons_give_masks_and_round_trip(tmp_path):
    world = polygon_bundle(RequesterFactory())
    document = json.loads(_text(world["bundle"], "coco"))
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(document))
    api = COCO(str(path))
    lane, road = api.loadAnns(api.getAnnIds(imgIds=world["item"].pk))
    assert lane["segmentation"] == [[10, 10, 60, 10, 60, 40, 10, 40]]
    assert (lane["bbox"], lane["area"]) == ([10, 10, 50, 30], 1500)
    assert road["area"] == 2450  # shoelace: no area given with the shape
    mask = api.annToMask(lane)
    assert mask.shape == (100, 100) and 1400 <= mask.sum() <= 1600
    back = coco_labels(document, world["bundle"].question)
    assert back == {world["item"].pk: {"polygons": [
        {k: v for k, v in world["lane"].items() if k != "area"}, world["road"]]}}  # fmt: skip


def test_coco_round_trips_to_our_box_shapes(boxes):
    document = json.loads(_text(boxes["bundle"], "coco"))
    back = coco_labels(document, boxes["bundle"].question)
    assert back[boxes["first"].pk] == {"boxes": [boxes["car"], boxes["person"]]}
    assert back[boxes["gold"].pk] == {"boxes": [{**boxes["gold_box"], "confidence": 1.0}]}
    assert back[boxes["url"].pk] == {"boxes": []}


def test_yolo_zip_normalises_boxes_and_carries_the_uploaded_images(boxes):
    archive = _zip(boxes["bundle"], "yolo")
    first = boxes["first"]
    stem = f"{first.pk}-cam-1"
    assert 'names:\n  0: "car"\n  1: "person"\n' in archive.read("data.yaml").decode()
    assert "nc: 2" in archive.read("data.yaml").decode()
    lines = archive.read(f"labels/{stem}.txt").decode().splitlines()
    # car: x 10..60 of 200, y 20..50 of 100 -> centre (0.175, 0.35), size (0.25, 0.3)
    assert lines == ["0 0.175000 0.350000 0.250000 0.300000",
                     "1 0.552500 0.300000 0.100000 0.600000"]  # fmt: skip
    assert archive.read(f"images/{stem}.png") == png(200, 100)
    url_stem = f"{boxes['url'].pk}-web_1"
    assert archive.read(f"labels/{url_stem}.txt") == b""
    sources = archive.read("sources.csv").decode()
    assert f"{url_stem}.jpg,b c.jpg,https://img.example.com/a/b%20c.jpg" in sources
    assert "image size unknown" in archive.read("skipped.txt").decode()
    confidence = archive.read("confidence.csv").decode()
    assert f"labels/{stem}.txt,1,car,0.92" in confidence
    assert not any("media/b" in n for n in archive.namelist())


def test_yolo_polygons_are_segmentation_lines():
    world = polygon_bundle(RequesterFactory())
    archive = _zip(world["bundle"], "yolo")
    [name] = [n for n in archive.namelist() if n.startswith("labels/")]
    lane = archive.read(name).decode().splitlines()[0]
    assert lane == "0 0.100000 0.100000 0.600000 0.100000 0.600000 0.400000 0.100000 0.400000"


def test_voc_zip_has_one_xml_per_image_in_voc_pixel_convention(boxes):
    archive = _zip(boxes["bundle"], "voc")
    first = boxes["first"]
    xml = archive.read(f"Annotations/{first.pk}-cam-1.xml")
    root = ET.fromstring(xml)  # noqa: S314
    assert root.findtext("filename") == f"{first.pk}-cam-1.png"
    assert root.findtext("source/image") == "img/cam-1.png"
    assert (root.findtext("size/width"), root.findtext("size/height")) == ("200", "100")
    car = root.findall("object")[0]
    assert car.findtext("name") == "car" and car.findtext("confidence") == "0.92"
    box = [car.findtext(f"bndbox/{k}") for k in ("xmin", "ymin", "xmax", "ymax")]
    assert box == ["11", "21", "60", "50"]
    assert archive.read(f"JPEGImages/{first.pk}-cam-1.png") == png(200, 100)
    listed = archive.read("ImageSets/Main/default.txt").decode().split()
    assert f"{first.pk}-cam-1" in listed and len(listed) == 4
    world = polygon_bundle(RequesterFactory())
    root = ET.fromstring(  # noqa: S314
        _zip(world["bundle"], "voc").read(f"Annotations/{world['item'].pk}-scene.xml")
    )
    lane = root.findall("object")[0]
    assert root.findtext("segmented") == "1"
    assert [p.findtext("x") for p in lane.findall("polygon/pt")] == ["10", "60", "60", "10"]


def test_label_studio_tasks_carry_judgments_and_the_aggregate_and_come_back(boxes):
    tasks = json.loads(_text(boxes["bundle"], "labelstudio"))
    by_id = {t["id"]: t for t in tasks}
    first = by_id[boxes["first"].pk]
    assert first["data"]["image"].startswith("http://testserver/api/v1/media/")
    assert "_media" not in first["data"]
    assert len(first["annotations"]) == 2
    [prediction] = first["predictions"]
    assert prediction["score"] == 0.8
    car = prediction["result"][0]
    assert car["type"] == "rectanglelabels" and car["to_name"] == "image"
    assert car["value"] == {"x": 5.0, "y": 20.0, "width": 25.0, "height": 30.0, "rotation": 0,
                            "rectanglelabels": ["car"]}  # fmt: skip
    assert car["score"] == 0.92
    question = boxes["bundle"].question
    assert labelstudio_answer(question, prediction["result"]) == {
        "boxes": [boxes["car"], boxes["person"]]
    }
    gold = by_id[boxes["gold"].pk]
    assert gold["predictions"] == [] and gold["annotations"][-1]["ground_truth"] is True
    assert by_id[boxes["unknown"].pk]["predictions"][0]["result"] == []  # no size, no percent


def test_label_studio_polygons_round_trip():
    world = polygon_bundle(RequesterFactory())
    [task] = json.loads(_text(world["bundle"], "labelstudio"))
    result_ = task["predictions"][0]["result"]
    assert result_[0]["value"]["points"][1] == [60.0, 10.0]
    back = labelstudio_answer(world["bundle"].question, result_)
    assert back["polygons"][0]["points"] == world["lane"]["points"]
    assert back["polygons"][1] == world["road"]


def test_results_endpoint_serves_the_formats_that_fit_the_question(boxes):
    bundle = boxes["bundle"]
    client = client_for(bundle.requester)
    response = client.get(f"/api/v1/bundles/{bundle.pk}/results/?format=yolo")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert f'filename="bundle-{bundle.pk}-results.yolo.zip"' in response["Content-Disposition"]
    assert zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))).testzip() is None
    response = client.get(f"/api/v1/bundles/{bundle.pk}/results/?format=spacy")
    assert response.status_code == 400 and response.json()["code"] == "invalid_format"
    assert "coco" in response.json()["detail"]
    sentiment = BundleFactory(requester=bundle.requester)
    response = client.get(f"/api/v1/bundles/{sentiment.pk}/results/?format=coco")
    assert response.status_code == 400 and response.json()["code"] == "invalid_format"
    response = client.get(f"/api/v1/bundles/{sentiment.pk}/results/?format=xml")
    assert response.status_code == 400


def test_tabular_exports_show_media_as_urls_and_never_the_storage_key(boxes):
    bundle = boxes["bundle"]
    rows = [json.loads(line) for line in _text(bundle, "jsonl").splitlines()]
    first = next(r for r in rows if r["item_id"] == boxes["first"].pk)
    assert first["payload"]["image"].startswith("http://testserver/api/v1/media/")
    assert first["media"]["image"]["file"] == "img/cam-1.png"
    assert first["media"]["image"]["width"] == 200
    assert first["label"]["boxes"][0]["confidence"] == 0.92
    for fmt in ("csv", "json", "jsonl", "labelstudio", "coco"):
        text = _text(bundle, fmt)
        assert "media/b" not in text and "_media" not in text, fmt
    header = _text(bundle, "csv").splitlines()[0]
    assert header.split(",")[6:9] == ["image", "image_width", "image_height"]


def test_label_studio_choices_for_a_plain_choice_bundle():
    bundle = BundleFactory(requester=RequesterFactory())
    item = ItemFactory(bundle=bundle, payload={"text": "nice"})
    result(item, "pos", 0.9, "dawid_skene")
    [task] = json.loads(_text(bundle, "labelstudio"))
    assert task["predictions"][0]["result"][0]["value"] == {"choices": ["pos"]}
    assert labelstudio_answer(bundle.question, task["predictions"][0]["result"]) == "pos"
