"""Zip uploads: media files plus a CSV/JSONL manifest naming them; per-file errors; nothing
written (no item, no stored file) when anything is wrong; unsafe archives refused."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest

from accounts.models import User
from payments.ledger import InsufficientFunds
from tasks import ingest, services
from tasks.ingest import items_load, upload_format
from tasks.ingest.archive import Archive
from tasks.ingest.media import MediaRecords
from tasks.ingest.parsing import Record, RowProblem
from tasks.media import media_inspect
from tasks.media.files import MediaRefused
from tasks.models import Bundle, BundleStatus, Item
from tests.conftest import client_for
from tests.factories import BundleFactory, RequesterFactory, publish
from tests.media import jpeg, make_zip, png, stored_files, wav

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def bundle() -> Bundle:
    requester = User.objects.create(email="uploader@example.com")
    return BundleFactory(requester=requester, question={"type": "single_choice",
                                                        "choices": ["pos", "neg"]})  # fmt: skip


def load(bundle: Bundle, data: bytes) -> ingest.ImportSummary:
    return items_load(bundle=bundle, source=io.BytesIO(data), fmt="zip")


def refused(bundle: Bundle, data: bytes, media_root) -> ingest.InvalidUpload:
    with pytest.raises(ingest.InvalidUpload) as caught:
        load(bundle, data)
    assert caught.value.code == "invalid_upload"
    assert Item.objects.count() == 0
    assert not media_root.exists() or stored_files(media_root) == []
    return caught.value


CSV = "external_id,image,note\nr1,img/a.png,first\nr2,img/b.png,second\n"


def test_zip_with_csv_stores_each_file_and_describes_it_in_media(bundle, media_root):
    summary = load(bundle, make_zip({"items.csv": CSV, "img/a.png": png(64, 48),
                                     "img/b.png": png(30, 20)}))  # fmt: skip

    assert (summary.created, summary.media) == (2, 2)
    first, second = bundle.items.order_by("id")
    assert first.payload["image"] == "img/a.png"  # the manifest's name stays for the requester
    assert first.payload["note"] == "first"
    entry = first.payload["_media"]["image"]
    assert (entry["width"], entry["height"], entry["content_type"]) == (64, 48, "image/png")
    # Never derived from the uploaded name: the bundle's folder, 32 random hex digits, the
    # extension. (`"a.png" not in key` failed whenever the random part ended in "a".)
    assert re.fullmatch(rf"media/b{bundle.pk}/[0-9a-f]{{32}}\.png", entry["key"]), entry["key"]
    assert second.payload["_media"]["image"]["width"] == 30
    assert stored_files(media_root) == sorted(
        [first.payload["_media"]["image"]["key"], second.payload["_media"]["image"]["key"]]
    )
    assert sorted(summary.media_keys) == stored_files(media_root)


def test_manifest_in_a_folder_names_files_relative_to_it_and_jsonl_works(bundle, media_root):
    lines = [
        {"external_id": "a", "payload": {"photo": "./pics/one.webp"}},
        {"external_id": "b", "payload": {"photo": "pics/one.webp", "other": "pics/two.gif"}},
    ]
    webp, gif = io.BytesIO(), io.BytesIO()
    from PIL import Image

    Image.new("RGB", (10, 12)).save(webp, "WEBP")
    Image.new("P", (7, 5)).save(gif, "GIF")
    data = make_zip({
        "export/items.jsonl": "\n".join(json.dumps(line) for line in lines),
        "export/pics/one.webp": webp.getvalue(), "export/pics/two.gif": gif.getvalue(),
        "__MACOSX/export/._items.jsonl": "junk", "export/.DS_Store": "junk",
    })  # fmt: skip

    summary = load(bundle, data)

    a, b = bundle.items.order_by("id")
    assert summary.media == 2  # one file named by two rows is stored once
    assert a.payload["_media"]["photo"] == b.payload["_media"]["photo"]
    assert a.payload["_media"]["photo"]["content_type"] == "image/webp"
    assert b.payload["_media"]["other"]["content_type"] == "image/gif"
    assert len(stored_files(media_root)) == 2


def test_type_comes_from_the_bytes_and_exif_rotation_swaps_the_size(bundle):
    csv = "image\nphoto.png\nturned.jpg\n"
    load(bundle, make_zip({"m.csv": csv, "photo.png": jpeg(20, 10),
                           "turned.jpg": jpeg(40, 30, orientation=6)}))  # fmt: skip
    named_png, turned = (i.payload["_media"]["image"] for i in bundle.items.order_by("id"))
    assert named_png["content_type"] == "image/jpeg" and named_png["key"].endswith(".jpg")
    assert (turned["width"], turned["height"]) == (30, 40)


def test_every_bad_file_is_listed_with_its_row_and_code_and_nothing_is_kept(
    bundle, media_root, settings
):
    settings.MEDIA_MAX_FILE_BYTES = 4000
    csv = (
        "image\n"
        "ok.png\n"  # row 1: fine (stored, then deleted when the upload fails)
        "missing.png\n"  # row 2
        "page.png\n"  # row 3: HTML named .png
        "big.png\n"  # row 4: over the per-file limit
        "broken.png\n"  # row 5: a truncated PNG
        "ok.png\n"  # row 6: fine again, not reported
    )
    data = make_zip({"items.csv": csv, "ok.png": png(), "page.png": "<html>hi</html>",
                     "big.png": png(400, 400, "white") + b"\x00" * 5000,
                     "broken.png": png(200, 200)[:120]})  # fmt: skip

    error = refused(bundle, data, media_root)

    assert [(e["row"], e["file"], e["code"]) for e in error.extra["errors"]] == [
        (2, "missing.png", "media_missing"),
        (3, "page.png", "media_type_not_allowed"),
        (4, "big.png", "media_too_large"),
        (5, "broken.png", "media_unreadable"),
    ]
    assert error.extra["row"] == 2 and error.extra["file"] == "missing.png"
    assert error.detail.startswith("Row 2: missing.png: is not in the zip")


def test_a_row_problem_after_stored_files_deletes_them(bundle, media_root):
    csv = "external_id,image\nr1,a.png\nr1,a.png\n"  # a repeated external id
    error = refused(bundle, make_zip({"items.csv": csv, "a.png": png()}), media_root)
    assert error.extra["row"] == 2


def test_media_key_in_a_payload_is_refused_in_every_format(bundle, media_root):
    forged = {"image": {"key": "media/b1/someone-elses.png", "width": 1, "height": 1}}
    jsonl = json.dumps({"payload": {"image": "x", "_media": forged}})
    with pytest.raises(ingest.InvalidUpload, match="reserved"):
        items_load(bundle=bundle, source=io.BytesIO(jsonl.encode()), fmt="jsonl")
    with pytest.raises(ingest.InvalidUpload, match="reserved"):
        items_load(bundle=bundle, source=io.BytesIO(b"text,_media\nhi,x\n"), fmt="csv")
    refused(bundle, make_zip({"i.jsonl": jsonl}), media_root)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../evil.png", "climbs out"),
        ("img/../../evil.png", "climbs out"),
        ("/etc/evil.png", "absolute"),
        ("C:/evil.png", "absolute"),
        ("img\\evil.png", "backslash"),
    ],
)
def test_path_traversal_is_refused_naming_the_member(bundle, media_root, name, reason):
    error = refused(bundle, make_zip({"items.csv": "image\nok.png\n", "ok.png": png(),
                                      name: png()}), media_root)  # fmt: skip
    assert error.extra["errors"] == [
        {"file": name, "code": "unsafe_path", "detail": error.extra["errors"][0]["detail"]}
    ]
    assert reason in error.extra["errors"][0]["detail"]


def test_symlinks_are_refused(bundle, media_root):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("items.csv", "image\nlink.png\n")
        link = zipfile.ZipInfo("link.png")
        link.create_system = 3
        link.external_attr = (0o120777 << 16) | 0
        archive.writestr(link, "/etc/passwd")
    error = refused(bundle, buffer.getvalue(), media_root)
    assert error.extra["errors"][0]["code"] == "unsafe_path"
    assert "symbolic link" in error.extra["errors"][0]["detail"]


def test_zip_bombs_are_refused_before_anything_is_unpacked(bundle, media_root, settings):
    bomb = b"\x00" * (4 << 20)  # 4 MiB of zeros deflate to ~4 KiB: a ratio near 1000
    error = refused(bundle, make_zip({"items.csv": "image\nz.png\n", "z.png": bomb}), media_root)
    assert error.extra["errors"][0]["code"] == "zip_bomb"
    settings.MEDIA_MAX_UNPACKED_BYTES = 100
    data = make_zip({"items.csv": "image\na.png\n", "a.png": png()},
                    compression=zipfile.ZIP_STORED)  # fmt: skip
    with pytest.raises(ingest.InvalidUpload, match="unpacks to"):
        load(bundle, data)


def test_archive_level_problems_have_clear_messages(bundle, media_root, settings):
    with pytest.raises(ingest.InvalidUpload, match="not a valid zip"):
        load(bundle, b"PK\x03\x04 definitely not a zip")
    with pytest.raises(ingest.InvalidUpload, match="holds none"):
        load(bundle, make_zip({"a.png": png()}))
    with pytest.raises(ingest.InvalidUpload, match="it holds 2: a.csv, b.jsonl"):
        load(bundle, make_zip({"a.csv": "image\n", "b.jsonl": "{}", "a.png": png()}))
    settings.MEDIA_MAX_ZIP_MEMBERS = 2
    with pytest.raises(ingest.InvalidUpload, match="more than the limit of 2"):
        load(bundle, make_zip({"a.csv": "image\na.png\n", "a.png": png(), "b.png": png()}))
    settings.MEDIA_MAX_ZIP_BYTES = 100
    with pytest.raises(ingest.UploadTooLarge):
        load(bundle, make_zip({"a.csv": "image\na.png\n", "a.png": png()}))


def test_audio_only_where_a_transcription_question_takes_it():
    info = media_inspect(wav(), audio_allowed=True)
    assert (info.kind, info.content_type, info.entry("k")) == (
        "audio", "audio/wav", {"key": "k", "content_type": "audio/wav"}
    )  # fmt: skip
    with pytest.raises(MediaRefused) as caught:
        media_inspect(wav())
    assert caught.value.code == "media_type_not_allowed"


def _records(question, payloads, archive=None):
    wrapper = MediaRecords(bundle_id=1, question=question, archive=archive)
    records = (Record(n, n + 1, "", json.dumps(p), None) for n, p in enumerate(payloads, 1))
    return [json.loads(r.payload_json) for r in wrapper.records(records)]


def test_an_image_field_outside_a_zip_must_be_an_http_url():
    boxes = {"type": "bounding_box", "image_field": "image", "labels": ["car"]}
    url = {"image": "https://cdn.example.com/a.jpg", "image_width": 640, "image_height": 480}
    assert _records(boxes, [url]) == [url]  # shown as is: no _media for URL images
    for bad in ("img/0001.png", "javascript:alert(1)", "ftp://host/a.png", ""):
        with pytest.raises(RowProblem):
            _records(boxes, [{"image": bad}])
    with pytest.raises(RowProblem, match="needs 'image'"):
        _records(boxes, [{"text": "no image"}])


def test_pairwise_candidates_are_media_only_when_they_name_a_file():
    question = {"type": "pairwise", "left_field": "a", "right_field": "b"}
    archive = zipfile.ZipFile(io.BytesIO(make_zip({"m.csv": "", "x.png": png()})))
    holder = Archive(zip=archive, manifest=archive.getinfo("m.csv"), manifest_format="csv",
                     members={"x.png": archive.getinfo("x.png")}, base="")  # fmt: skip
    [payload] = _records(question, [{"a": "x.png", "b": "A plain answer."}], holder)
    assert set(payload["_media"]) == {"a"} and payload["b"] == "A plain answer."


def test_upload_format_knows_zip():
    assert upload_format("application/zip", None) == "zip"
    assert upload_format("application/octet-stream", "Images.ZIP") == "zip"


def test_api_upload_of_a_zip_as_a_file_and_as_a_raw_body(media_root):
    requester = RequesterFactory()
    bundle = BundleFactory(requester=requester)
    client = client_for(requester)
    data = make_zip({"items.csv": "external_id,image\nr1,a.png\n", "a.png": png()})
    upload = io.BytesIO(data)
    upload.name = "batch.zip"
    response = client.post(f"/api/v1/bundles/{bundle.pk}/items/", {"file": upload},
                           format="multipart")  # fmt: skip
    assert response.status_code == 201, response.json()
    assert response.json() == {"created": 1, "gold": 0, "media": 1}
    data = make_zip({"items.csv": "external_id,image\nr2,a.png\n", "a.png": png()})
    response = client.generic("POST", f"/api/v1/bundles/{bundle.pk}/items/", data,
                              content_type="application/zip")  # fmt: skip
    assert response.status_code == 201, response.json()
    bad = make_zip({"items.csv": "external_id,image\nr3,nope.png\n"})
    response = client.generic("POST", f"/api/v1/bundles/{bundle.pk}/items/", bad,
                              content_type="application/zip")  # fmt: skip
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_upload" and body["row"] == 1
    assert body["errors"] == [{"file": "nope.png", "code": "media_missing",
                               "detail": "is not in the zip", "row": 1}]  # fmt: skip
    assert len(stored_files(media_root)) == 2


def test_files_are_deleted_when_the_live_upload_cannot_be_paid_for(media_root):
    requester = RequesterFactory()
    bundle = BundleFactory(requester=requester, reward_minor=1_000_000)
    services.bundle_add_items(bundle=bundle, by=requester, source=io.BytesIO(b"text\nfirst\n"),
                              content_type="text/csv", filename=None)  # fmt: skip
    bundle = publish(bundle)  # funds exactly what the first item needs (and a lot more)
    assert bundle.status == BundleStatus.PUBLISHED
    many = "image\n" + "a.png\n" * 200
    with pytest.raises(InsufficientFunds):
        services.bundle_add_items(bundle=bundle, by=requester,
                                  source=io.BytesIO(make_zip({"i.csv": many, "a.png": png()})),
                                  content_type="application/zip", filename=None)  # fmt: skip
    assert bundle.items.count() == 1
    assert stored_files(media_root) == []


def test_gold_boxes_of_a_zip_upload_are_judged_against_the_uploaded_image(media_root):
    requester = RequesterFactory()
    question = {"type": "bounding_box", "image_field": "image", "labels": ["car"]}
    bundle = services.bundle_create(
        requester=requester, data={"title": "boxes", "question": question, "reward_minor": 5}
    )
    inside = {"boxes": [{"label": "car", "x": 10, "y": 10, "w": 40, "h": 30}]}
    outside = {"boxes": [{"label": "car", "x": 50, "y": 10, "w": 40, "h": 30}]}  # 64 px wide
    lines = [{"payload": {"image": "a.png"}, "gold": inside},
             {"payload": {"image": "a.png"}, "gold": outside}]  # fmt: skip
    data = make_zip({"i.jsonl": "\n".join(map(json.dumps, lines)), "a.png": png(64, 48)})
    error = refused(bundle, data, media_root)
    assert error.extra["row"] == 2 and "gold" in error.detail
    summary = load(bundle, make_zip({"i.jsonl": json.dumps(lines[0]), "a.png": png(64, 48)}))
    assert summary.gold == 1
