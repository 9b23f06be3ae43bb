"""The rows every export streams: a chunk reads its judgments and results by its id range
within the bundle, so items of another bundle whose ids fall inside that range lend it
nothing; the CSV header lists payload keys in the order items first show them."""

import csv
import io

import pytest

from tasks import exports
from tasks.selectors import bundle_payload_keys, bundle_result_rows
from tests.factories import BundleFactory, ItemFactory, RequesterFactory
from tests.tasks.annotated import judge, result

pytestmark = pytest.mark.django_db


def test_chunks_read_only_their_own_bundles_judgments_and_results():
    mine, other = BundleFactory(), BundleFactory()
    items = []
    for n in range(5):  # ids interleaved: mine, other, mine, other, ...
        items.append(ItemFactory(bundle=mine, payload={"text": f"mine {n}"}))
        stranger = ItemFactory(bundle=other, payload={"text": f"other {n}"})
        judge(stranger, ["neg"])
        result(stranger, "neg")
    judge(items[0], ["pos", "neg"])
    judge(items[3], ["pos"])
    result(items[3], "pos")

    rows = list(bundle_result_rows(mine, chunk_size=2))

    assert [r["item_id"] for r in rows] == [i.pk for i in items]
    assert [[j["answer"] for j in r["judgments"]] for r in rows] == [
        ["pos", "neg"], [], [], ["pos"], []
    ]  # fmt: skip
    assert [r["label"] for r in rows] == [None, None, None, "pos", None]


def test_the_csv_header_lists_payload_keys_as_items_first_show_them():
    bundle = BundleFactory(requester=RequesterFactory())
    ItemFactory(bundle=bundle, payload={"text": "a"})
    ItemFactory(bundle=bundle, payload={"text": "b", "url": "https://example.com/1"})
    ItemFactory(bundle=bundle, payload=["not", "an", "object"])  # no keys, no error
    ItemFactory(bundle=bundle, payload={"extra": 1})
    ItemFactory(bundle=BundleFactory(), payload={"elsewhere": 1})

    assert bundle_payload_keys(bundle) == ["text", "url", "extra"]
    _, chunks = exports.bundle_results_export(bundle, "csv")
    header = next(csv.reader(io.StringIO("".join(chunks))))
    assert header[header.index("method") + 1 :][:3] == ["text", "url", "extra"]
