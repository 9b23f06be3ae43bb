"""The console with media: a zip uploaded through the form, its images shown by signed URL,
every bad file named next to the file field, and the export links that fit the question."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.factories import BundleFactory, RequesterFactory
from tests.media import make_zip, png, stored_files
from tests.tasks.annotated import box_bundle

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def test_console_zip_upload_stores_files_and_shows_them_by_signed_url(client, media_root):
    requester = RequesterFactory()
    bundle = BundleFactory(requester=requester)
    client.force_login(requester)
    data = make_zip({"items.csv": "external_id,image\nr1,pics/a.png\n", "pics/a.png": png()})
    upload = SimpleUploadedFile("batch.zip", data, content_type="application/zip")
    response = client.post(f"/bundles/{bundle.pk}/items/", {"file": upload}, follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Uploaded 1 items and 1 media files." in page
    assert 'href="/api/v1/media/' in page
    assert "media/b" not in page and "_media" not in page
    assert len(stored_files(media_root)) == 1


def test_console_zip_upload_names_each_bad_file(client, media_root):
    requester = RequesterFactory()
    bundle = BundleFactory(requester=requester)
    client.force_login(requester)
    data = make_zip({"items.csv": "image\nmissing.png\nok.png\n", "ok.png": png()})
    upload = SimpleUploadedFile("batch.zip", data, content_type="application/zip")
    response = client.post(f"/bundles/{bundle.pk}/items/", {"file": upload})
    assert response.status_code == 400
    assert "Row 1: missing.png: is not in the zip" in response.content.decode()
    assert bundle.items.count() == 0 and stored_files(media_root) == []


def test_bundle_page_offers_the_exports_of_its_question_type(client):
    world = box_bundle(RequesterFactory())
    bundle = world["bundle"]
    client.force_login(bundle.requester)
    page = client.get(f"/bundles/{bundle.pk}/").content.decode()
    for fmt in ("csv", "labelstudio", "coco", "yolo", "voc"):
        assert f"/api/v1/bundles/{bundle.pk}/results/?format={fmt}" in page
    assert "format=spacy" not in page
