"""The media storage switch: local files by default, an S3-compatible bucket when asked (the
backend, and boto3 with it, is imported only then)."""

import environ
from django.conf import settings
from django.core.files.storage import FileSystemStorage, storages

from marketplace.settings import media_storage


def test_local_files_by_default(monkeypatch):
    monkeypatch.delenv("MEDIA_STORAGE", raising=False)
    assert media_storage(environ.Env()) == {
        "BACKEND": "django.core.files.storage.FileSystemStorage"
    }
    assert settings.STORAGES["default"]["BACKEND"].endswith("FileSystemStorage")
    assert isinstance(storages["default"], FileSystemStorage)


def test_s3_compatible_bucket_when_configured(monkeypatch):
    monkeypatch.setenv("MEDIA_STORAGE", "s3")
    monkeypatch.setenv("MEDIA_S3_BUCKET", "crowd-media")
    monkeypatch.setenv("MEDIA_S3_ENDPOINT_URL", "https://minio.internal:9000")
    config = media_storage(environ.Env())
    assert config["BACKEND"] == "storages.backends.s3.S3Storage"
    options = config["OPTIONS"]
    assert options["bucket_name"] == "crowd-media"
    assert options["endpoint_url"] == "https://minio.internal:9000"
    # Private bucket: files go out only through the access-checked view.
    assert options["default_acl"] is None and options["querystring_auth"] is False
