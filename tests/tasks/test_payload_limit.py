"""Issue 16, finding 4: one item's payload is bounded (ITEM_PAYLOAD_MAX_BYTES of JSON) on every
upload path, the row named with a stable code, nothing written."""

from __future__ import annotations

import io
import json

import pytest

from tasks import ingest
from tasks.ingest import items_load
from tasks.models import Item
from tests.conftest import client_for
from tests.factories import BundleFactory

pytestmark = pytest.mark.django_db


def _jsonl(payloads: list[dict]) -> str:
    return "".join(
        json.dumps({"external_id": f"r{i}", "payload": p}) + "\n" for i, p in enumerate(payloads)
    )


def _json_array(payloads: list[dict]) -> str:
    return json.dumps([{"external_id": f"r{i}", "payload": p} for i, p in enumerate(payloads)])


def _csv(payloads: list[dict]) -> str:
    return "external_id,text\n" + "".join(f"r{i},{p['text']}\n" for i, p in enumerate(payloads))


FORMATS = {"csv": _csv, "jsonl": _jsonl, "json": _json_array}


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_payload_over_the_default_limit_is_refused_naming_its_row(requester, fmt, settings):
    assert settings.ITEM_PAYLOAD_MAX_BYTES == 64 * 1024
    bundle = BundleFactory(requester=requester)
    payloads = [{"text": "ok"}, {"text": "x" * (64 * 1024)}, {"text": "fine"}]
    data = FORMATS[fmt](payloads).encode()
    with pytest.raises(ingest.InvalidUpload) as caught:
        items_load(bundle=bundle, source=io.BytesIO(data), fmt=fmt)
    error = caught.value
    assert error.code == "invalid_upload" and error.extra["row"] == 2
    assert error.extra["errors"][0]["code"] == "payload_too_large"
    assert "larger than 65,536 bytes" in error.detail
    assert Item.objects.count() == 0


def test_the_limit_counts_utf8_bytes_not_characters(requester, settings):
    settings.ITEM_PAYLOAD_MAX_BYTES = 1000
    bundle = BundleFactory(requester=requester)
    # 600 characters, 1,200 bytes: under the limit in characters, over it in bytes.
    data = _jsonl([{"text": "é" * 600}]).encode()
    with pytest.raises(ingest.InvalidUpload) as caught:
        items_load(bundle=bundle, source=io.BytesIO(data), fmt="jsonl")
    assert caught.value.extra["errors"][0]["code"] == "payload_too_large"


def test_a_payload_at_the_limit_is_accepted(requester, settings):
    settings.ITEM_PAYLOAD_MAX_BYTES = 1000
    bundle = BundleFactory(requester=requester)
    text = "a" * (1000 - len(json.dumps({"text": ""})))
    assert len(json.dumps({"text": text})) == 1000
    summary = items_load(
        bundle=bundle, source=io.BytesIO(_jsonl([{"text": text}]).encode()), fmt="jsonl"
    )
    assert summary.created == 1


def test_the_api_answers_the_row_and_code(requester, settings):
    settings.ITEM_PAYLOAD_MAX_BYTES = 1000
    bundle = BundleFactory(requester=requester)
    response = client_for(requester).post(
        f"/api/v1/bundles/{bundle.pk}/items/",
        [{"payload": {"text": "ok"}}, {"payload": {"text": "x" * 2000}}],
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_upload" and body["row"] == 2
    assert body["errors"] == [
        {"row": 2, "line": None, "detail": body["errors"][0]["detail"], "code": "payload_too_large"}
    ]
    assert Item.objects.count() == 0
