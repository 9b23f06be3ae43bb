"""Issue 15, bug 6: an upload with several bad rows reported only the first. Every bad row is
now reported (up to MAX_ROW_PROBLEMS) with its row and line; nothing is written."""

from __future__ import annotations

import io

import pytest

from tasks import ingest
from tasks.ingest import MAX_ROW_PROBLEMS, items_load
from tasks.models import Item
from tests.factories import BundleFactory

pytestmark = pytest.mark.django_db

SINGLE = {
    "type": "single_choice",
    "choices": [{"value": "pos", "label": "Positive"}, {"value": "neg", "label": "Negative"}],
}


def refused(bundle, data: str, fmt: str = "csv") -> ingest.InvalidUpload:
    with pytest.raises(ingest.InvalidUpload) as caught:
        items_load(bundle=bundle, source=io.BytesIO(data.encode()), fmt=fmt)
    assert Item.objects.count() == 0
    return caught.value


def test_every_bad_csv_row_is_listed_with_its_row(requester):
    bundle = BundleFactory(requester=requester, question=SINGLE)
    data = "external_id,text,gold\nr1,ok,pos\nr2,bad,maybe\nr3,ok,neg\nr4,short\nr5,bad,what\n"
    error = refused(bundle, data)
    assert error.extra["row"] == 2
    assert error.detail.startswith("Row 2 (line 3): gold")
    assert "2 more problem(s)" in error.detail
    assert [p["row"] for p in error.extra["errors"]] == [2, 4, 5]
    assert error.extra["errors"][1]["detail"].startswith("Row 4 (line 5): has 2 cells")


def test_every_bad_jsonl_line_is_listed(requester):
    bundle = BundleFactory(requester=requester, question=SINGLE)
    data = '{"payload": {"t": 1}}\nnot json\n{"payload": 3}\n{"payload": {"t": 2}}\n'
    error = refused(bundle, data, "jsonl")
    assert [(p["row"], p["line"]) for p in error.extra["errors"]] == [(2, 2), (3, 3)]


def test_the_list_stops_at_the_limit(requester):
    bundle = BundleFactory(requester=requester, question=SINGLE)
    rows = "".join(f"r{n},x,nope\n" for n in range(MAX_ROW_PROBLEMS + 20))
    error = refused(bundle, "external_id,text,gold\n" + rows)
    assert len(error.extra["errors"]) == MAX_ROW_PROBLEMS
    assert f"{MAX_ROW_PROBLEMS - 1} more problem(s)" in error.detail


def test_the_upload_page_lists_every_bad_row(client, requester):
    from django.core.files.uploadedfile import SimpleUploadedFile

    bundle = BundleFactory(requester=requester)
    bad = SimpleUploadedFile("items.csv", b"external_id,text,gold\na,x,maybe\nb,y\nc,z,nope\n")
    client.force_login(requester)
    response = client.post(f"/bundles/{bundle.pk}/items/", {"file": bad})
    html = response.content.decode()
    assert response.status_code == 400
    for row in ("Row 1 (line 2)", "Row 2 (line 3)", "Row 3 (line 4)"):
        assert row in html


def test_the_api_lists_every_bad_row(requester):
    from tests.conftest import client_for

    bundle = BundleFactory(requester=requester)
    data = b"external_id,text,gold\na,x,maybe\nb,y\n"
    response = client_for(requester).generic(
        "POST", f"/api/v1/bundles/{bundle.pk}/items/", data, content_type="text/csv"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_upload" and body["row"] == 1
    assert [(e["row"], e["line"]) for e in body["errors"]] == [(1, 2), (2, 3)]
