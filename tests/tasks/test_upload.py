"""Item upload (CSV, JSON array, JSONL): validation, row numbers, all-or-nothing, streaming.

Row numbers: `row` is the 1-based number of the item in the file (the CSV header and blank
lines are not counted); CSV and JSONL details also name the file line.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.db import connection
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts.models import User
from tasks import ingest
from tasks.ingest import ImportSummary, items_load, upload_format
from tasks.models import Bundle, Item, ItemState
from tests.factories import BundleFactory, ItemFactory

SINGLE = {"type": "single_choice", "choices": ["pos", "neg"]}
MULTIPLE = {"type": "multiple_choice", "choices": ["a", "b", "c"]}
TEXT = {"type": "text", "max_length": 50}
NUMBER = {"type": "number", "min": 0, "max": 100}
RATING = {"type": "rating", "min": 1, "max": 5}


@pytest.fixture
def requester(db) -> User:
    # No password: hashing one costs more than most of these tests.
    return User.objects.create(email="uploader@example.com")


@pytest.fixture
def bundle(requester) -> Bundle:
    return BundleFactory(requester=requester, question=SINGLE, min_overlap=3, max_overlap=5)


def load(bundle: Bundle, data: str | bytes, fmt: str = "csv", **kwargs) -> ImportSummary:
    raw = data.encode() if isinstance(data, str) else data
    return items_load(bundle=bundle, source=io.BytesIO(raw), fmt=fmt, **kwargs)


def refused(bundle: Bundle, data: str | bytes, fmt: str = "csv", **kwargs) -> ingest.InvalidUpload:
    """Load and expect invalid_upload with nothing written; return the error."""
    before = Item.objects.count()
    with pytest.raises(ingest.InvalidUpload) as caught:
        load(bundle, data, fmt, **kwargs)
    assert caught.value.code == "invalid_upload"
    assert caught.value.http_status == 400
    assert Item.objects.count() == before
    return caught.value


def items(bundle: Bundle) -> list[Item]:
    return list(bundle.items.order_by("id"))


# ---------------------------------------------------------------------------------------------
# Happy paths


def test_csv_creates_items_with_payload_gold_and_slots(bundle):
    summary = load(
        bundle,
        "external_id,text,lang,gold\n"
        "r1,Great product,en,pos\n"
        "r2,Terrible,en,\n"
        'r3,"Okay, I guess",en,neg\n',
    )

    assert summary == ImportSummary(created=3, gold=2)
    r1, r2, r3 = items(bundle)
    assert (r1.external_id, r1.payload, r1.gold, r1.is_gold) == (
        "r1",
        {"text": "Great product", "lang": "en"},
        "pos",
        True,
    )
    assert (r2.payload, r2.gold, r2.is_gold) == ({"text": "Terrible", "lang": "en"}, None, False)
    assert r3.payload == {"text": "Okay, I guess", "lang": "en"}
    # Gold is served by its own path and never takes overlap slots.
    assert [i.slots_open for i in (r1, r2, r3)] == [0, 3, 0]
    for item in (r1, r2, r3):
        assert item.state == ItemState.OPEN
        assert item.priority == 0
        assert item.judgments_submitted == 0
        assert item.created_at is not None


def test_csv_without_external_id_or_gold_columns(bundle):
    summary = load(bundle, "text\nfirst\nsecond\n")

    assert summary == ImportSummary(created=2, gold=0)
    assert [(i.external_id, i.payload, i.is_gold) for i in items(bundle)] == [
        ("", {"text": "first"}, False),
        ("", {"text": "second"}, False),
    ]


def test_csv_payload_text_survives_quoting_escapes_and_unicode(bundle):
    tricky = [
        'She said "hi", then left',
        "back\\slash \\n not a newline",
        "tab\there",
        "two\nlines\r\nand CRLF",
        "héllo ✓ 日本語 😀",
        "  padded  ",
        "",
    ]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["external_id", "text"])
    for n, text in enumerate(tricky):
        writer.writerow([f"id\\{n}\t", text])  # ids with a backslash (a tab is stripped)

    load(bundle, buffer.getvalue())

    assert [(i.external_id, i.payload["text"]) for i in items(bundle)] == [
        (f"id\\{n}", text) for n, text in enumerate(tricky)
    ]


def test_json_array_creates_items(bundle):
    data = [
        {"external_id": "r1", "payload": {"text": "good", "meta": {"n": [1, 2.5, None]}}},
        {"external_id": 2, "payload": {"text": 'q"uote\\'}, "gold": "neg"},
        {"payload": {"text": "no id"}, "gold": None},
    ]

    summary = load(bundle, json.dumps(data, indent=2), "json")

    assert summary == ImportSummary(created=3, gold=1)
    r1, r2, r3 = items(bundle)
    assert r1.payload == {"text": "good", "meta": {"n": [1, 2.5, None]}}
    assert (r2.external_id, r2.payload, r2.gold, r2.slots_open) == (
        "2",
        {"text": 'q"uote\\'},
        "neg",
        0,
    )
    assert (r3.external_id, r3.is_gold, r3.slots_open) == ("", False, 3)


def test_jsonl_skips_blank_lines_and_accepts_crlf(bundle):
    data = (
        '{"external_id": "r1", "payload": {"text": "a"}, "gold": "pos"}\r\n'
        "\n"
        "   \n"
        '{"external_id": "r2", "payload": {"text": "b"}}\r\n'
        '{"external_id": "r3", "payload": {"text": "c"}}'  # no final newline
    )

    summary = load(bundle, data, "jsonl")

    assert summary == ImportSummary(created=3, gold=1)
    assert [i.external_id for i in items(bundle)] == ["r1", "r2", "r3"]


@pytest.mark.parametrize(
    ("question", "cell", "stored"),
    [
        (SINGLE, "neg", "neg"),
        (MULTIPLE, "c|a", ["a", "c"]),
        (MULTIPLE, '["b", "a", "b"]', ["a", "b"]),
        (TEXT, "A cat", "A cat"),
        (NUMBER, " 42 ", 42),
        (NUMBER, "2.50", 2.5),
        (RATING, "4", 4),
    ],
)
def test_csv_gold_is_validated_and_normalised_per_question_type(requester, question, cell, stored):
    bundle = BundleFactory(requester=requester, question=question)
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["text", "gold"], ["x", cell]])

    summary = load(bundle, buffer.getvalue())

    assert summary.gold == 1
    (item,) = items(bundle)
    assert (item.gold, item.is_gold, item.slots_open) == (stored, True, 0)


@pytest.mark.parametrize(
    ("question", "gold", "stored"),
    [
        (SINGLE, "pos", "pos"),
        (MULTIPLE, ["c", "a"], ["a", "c"]),
        (MULTIPLE, "b", ["b"]),
        (TEXT, "A cat", "A cat"),
        (NUMBER, 7.0, 7),
        (NUMBER, 0.25, 0.25),
        (RATING, 5, 5),
    ],
)
@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_json_gold_is_validated_and_normalised_per_question_type(
    requester, fmt, question, gold, stored
):
    bundle = BundleFactory(requester=requester, question=question)
    record = {"external_id": "g1", "payload": {"text": "x"}, "gold": gold}
    data = json.dumps([record]) if fmt == "json" else json.dumps(record) + "\n"

    assert load(bundle, data, fmt) == ImportSummary(created=1, gold=1)
    (item,) = items(bundle)
    assert (item.gold, item.is_gold, item.slots_open) == (stored, True, 0)


@pytest.mark.parametrize(
    ("fmt", "data"),
    [
        ("csv", "external_id,text\nr1,a\nr2,b\n"),
        ("json", '[{"external_id": "r1", "payload": {"text": "a"}},'
                 ' {"external_id": "r2", "payload": {"text": "b"}}]'),
        ("jsonl", '{"external_id": "r1", "payload": {"text": "a"}}\n'
                  '{"external_id": "r2", "payload": {"text": "b"}}\n'),
    ],
)  # fmt: skip
def test_utf8_bom_is_ignored(bundle, fmt, data):
    assert load(bundle, b"\xef\xbb\xbf" + data.encode(), fmt).created == 2
    assert [i.external_id for i in items(bundle)] == ["r1", "r2"]


def test_tiny_reads_still_parse(bundle):
    """A request body may hand out a few bytes at a time (BOM and characters split)."""

    class Trickle(io.BytesIO):
        def read(self, size: int = -1) -> bytes:
            return super().read(min(size, 2) if size and size > 0 else 2)

    data = "\ufeffexternal_id,text\nr1,héllo ✓\nr2,😀\n".encode()

    items_load(bundle=bundle, source=Trickle(data), fmt="csv")

    assert [i.payload["text"] for i in items(bundle)] == ["héllo ✓", "😀"]


def test_same_external_id_in_another_bundle_and_blank_ids_are_fine(bundle):
    other = BundleFactory(requester=bundle.requester, question=SINGLE)
    ItemFactory(bundle=other, external_id="r1")

    assert load(bundle, "external_id,text\nr1,a\n,b\n,c\n").created == 3


def test_large_file_is_loaded_in_batches(bundle, monkeypatch):
    """Batches of 700 rows: the COPY path on PostgreSQL, bulk_create elsewhere."""
    from tasks.ingest import writing

    writes: list[str] = []
    for sink_class in (writing.CopySink, writing.BulkSink):
        original = sink_class._write

        def spy(self, original=original, name=sink_class.__name__):
            writes.append(name)
            return original(self)

        monkeypatch.setattr(sink_class, "_write", spy)
    rows = "".join(f"r{n},text {n},{'pos' if n % 20 == 0 else ''}\n" for n in range(5000))

    summary = load(bundle, "external_id,text,gold\n" + rows, batch_size=700)

    assert summary == ImportSummary(created=5000, gold=250)
    expected = "CopySink" if connection.vendor == "postgresql" else "BulkSink"
    assert writes == [expected] * 8  # ceil(5000 / 700)
    assert bundle.items.count() == 5000
    assert bundle.items.filter(is_gold=True, slots_open=0).count() == 250
    last = bundle.items.get(external_id="r4999")
    assert (last.payload, last.slots_open) == ({"text": "text 4999"}, 3)


@pytest.mark.postgres
def test_postgres_loads_with_copy(bundle):
    """The production path: rows go in through COPY, not INSERT."""
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        load(bundle, "external_id,text,gold\nr1,a,pos\nr2,b,\n")

    statements = [q["sql"] for q in queries.captured_queries]
    assert any(sql.startswith("COPY ") for sql in statements)
    assert not any("INSERT" in sql for sql in statements)
    assert bundle.items.count() == 2


@hypothesis_settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.text(
            alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
            max_size=40,
        ),
        min_size=1,
        max_size=5,
    )
)
def test_any_text_round_trips_through_csv(requester, texts):
    bundle = BundleFactory(requester=requester, question=SINGLE)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["external_id", "text"])
    writer.writerows([f"id{n}", text] for n, text in enumerate(texts))

    load(bundle, buffer.getvalue())

    assert [i.payload["text"] for i in items(bundle)] == texts


# ---------------------------------------------------------------------------------------------
# Refusals: one bad row rejects the whole upload, with its row number.


@pytest.mark.parametrize(
    ("data", "row", "where", "reason"),
    [
        ("external_id,text\nr1,a\nr2,b,extra\n", 2, "Row 2 (line 3)", "has 3 cells"),
        ("external_id,text\nr1,a\nr2\n", 2, "Row 2 (line 3)", "has 1 cells"),
        ('external_id,text\nr1,a\nr2,"b"c\n', 2, "Row 2 (line 3)", "not valid CSV"),
        ('external_id,text\nr1,a\nr2,"never closed\nr3,c\n', 2, "Row 2 (line", "not valid CSV"),
        (b"external_id,text\nr1,a\nr2,b\x00c\n", 2, "Row 2 (line 3)", "NUL byte"),
        (b"external_id,text\nr1,a\nr2,caf\xe9\n", 2, "Row 2 (line 3)", "not valid UTF-8"),
        (b"external_id,text\nr1,a\nr2,caf\xc3", 2, "Row 2", "UTF-8"),
    ],
    ids=["extra-cell", "missing-cell", "bad-quote", "unclosed-quote", "nul", "latin1", "cut-utf8"],
)
def test_malformed_csv_is_refused_with_its_row(bundle, data, row, where, reason):
    error = refused(bundle, data)

    assert error.extra["row"] == row
    assert error.detail.startswith(where)
    assert reason in error.detail


def test_bad_bytes_far_into_a_big_file_are_pinned_to_their_row(bundle):
    padding = "x" * 300
    rows = "".join(f"r{n},{padding}\n" for n in range(4000))  # > one 1 MiB read chunk
    data = ("external_id,text\n" + rows).encode() + b"r4000,bad \xff byte\n"

    error = refused(bundle, data, batch_size=1000)

    assert error.extra["row"] == 4001
    assert error.detail.startswith("Row 4001 (line 4002): the file is not valid UTF-8")


def test_csv_row_numbers_skip_blank_lines_and_follow_multiline_cells(bundle):
    data = 'external_id,text,gold\n\nr1,"two\nlines",pos\n\nr2,b,maybe\n'

    error = refused(bundle, data)

    assert error.extra["row"] == 2
    assert error.detail.startswith("Row 2 (line 6): gold:")


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("external_id,,text", "Column 2 of the header has no name"),
        ("text,text", "repeats column name(s): text"),
        ("external_id,gold", "at least one payload column"),
    ],
)
def test_bad_csv_header_is_refused(bundle, header, reason):
    error = refused(bundle, header + "\n" + ",".join("x" * len(header.split(","))) + "\n")

    assert reason in error.detail
    assert "row" not in error.extra


@pytest.mark.parametrize(
    ("question", "cell", "reason"),
    [
        (SINGLE, "maybe", "answer must be one of: pos, neg"),
        (MULTIPLE, "a|z", "unknown choice value(s): z"),
        (NUMBER, "lots", "is not a number"),
        (NUMBER, "101", "at most 100"),
        (RATING, "9", "integer from 1 to 5"),
        (RATING, "2.5", "integer from 1 to 5"),
    ],
)
def test_csv_gold_outside_the_question_is_refused(requester, question, cell, reason):
    bundle = BundleFactory(requester=requester, question=question)

    error = refused(bundle, f"external_id,text,gold\nr1,a,\nr2,b,{cell}\n")

    assert error.extra["row"] == 2
    assert error.detail.startswith("Row 2 (line 3): gold: ")
    assert reason in error.detail


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"external_id": "r2", "payload": "text"}, "payload must be an object, not a string"),
        ({"external_id": "r2", "payload": ["a"]}, "payload must be an object, not an array"),
        ({"external_id": "r2"}, "payload is missing"),
        ({"external_id": ["r2"], "payload": {}}, "external_id must be a string or a number"),
        ({"external_id": True, "payload": {}}, "external_id must be a string or a number"),
        ({"external_id": "r2", "payload": {}, "gold": "maybe"}, "gold: answer must be one of"),
        ({"external_id": "r2", "payload": {}, "gold": 1}, "gold: answer must be one of"),
        ({"external_id": "r2", "text": "flat"}, "unknown field(s) 'text'"),
        ({"external_id": "x" * 201, "payload": {}}, "longer than 200 characters"),
        ({"payload": {"text": "nul \x00 here"}}, "NUL character"),
        (["not", "an", "object"], "must be an object"),
        (42, "must be an object"),
    ],
)
@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_json_wrong_types_are_refused_with_their_row(bundle, fmt, record, reason):
    records = [{"external_id": "r1", "payload": {"text": "fine"}}, record]
    data = json.dumps(records) if fmt == "json" else "\n".join(map(json.dumps, records))

    error = refused(bundle, data, fmt)

    assert error.extra["row"] == 2
    assert error.detail.startswith("Row 2 (line 2): " if fmt == "jsonl" else "Row 2: ")
    assert reason in error.detail


def test_json_literal_backslash_u0000_text_is_not_a_nul(bundle):
    text = "a literal \\u0000 is fine"

    load(bundle, json.dumps([{"payload": {"text": text}}]), "json")

    assert items(bundle)[0].payload == {"text": text}


@pytest.mark.parametrize(
    ("data", "row", "reason"),
    [
        ('[{"payload": {}}, {"payload": {"n": NaN}}]', 2, "NaN is not a valid JSON number"),
        ('[{"payload": {}}, {"payload": {"n": 1e999}}]', 2, "out of range"),
        ('[{"payload": {"s": "\\ud800"}}]', 1, "unpaired surrogate"),
        ('[{"payload": {}}, {"payload": {"a": 1,}}]', 2, "not valid JSON"),
        ('[{"payload": {}}, {"payload": {"a": "unterminated}}]', 2, "not valid JSON"),
        ('[{"payload": {}},]', 2, "unexpected ']' after a comma"),
        ('[{"payload": {}} {"payload": {}}]', 2, "expected ',' or ']' after row 1"),
        ('[{"payload": {}},\n', 2, "the array ends early"),
        ('[{"payload": {}}', 2, "the array ends early"),
    ],
)
def test_malformed_json_array_is_refused_with_its_row(bundle, data, row, reason):
    error = refused(bundle, data, "json")

    assert error.extra["row"] == row
    assert reason in error.detail


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ('{"payload": {}}', "must be an array of item objects (for one object per line"),
        ('"text"', "must be an array of item objects"),
        ('[{"payload": {}}] trailing', "Unexpected data after the end of the JSON array"),
    ],
)
def test_json_that_is_not_one_array_is_refused(bundle, data, reason):
    assert reason in refused(bundle, data, "json").detail


def test_jsonl_bad_line_names_row_and_line(bundle):
    data = '{"payload": {}}\n\n{"payload": {}\n'

    error = refused(bundle, data, "jsonl")

    assert error.extra["row"] == 2
    assert error.detail.startswith("Row 2 (line 3): not valid JSON")


# ---------------------------------------------------------------------------------------------
# Duplicate external ids


@pytest.mark.parametrize(
    ("fmt", "data"),
    [
        ("csv", "external_id,text\nr1,a\nr2,b\n r1 ,c\n"),
        ("jsonl", '{"external_id": "r1", "payload": {}}\n{"external_id": "r2", "payload": {}}\n'
                  '{"external_id": "r1", "payload": {}}\n'),
        ("json", '[{"external_id": 1, "payload": {}}, {"external_id": "2", "payload": {}},'
                 ' {"external_id": "1", "payload": {}}]'),
    ],
)  # fmt: skip
def test_duplicate_external_id_in_the_file_is_refused(bundle, fmt, data):
    error = refused(bundle, data, fmt)

    assert error.extra["row"] == 3
    assert "repeats row 1" in error.detail


def test_duplicate_external_id_in_an_earlier_batch_is_refused(bundle):
    rows = "".join(f"r{n},t\n" for n in range(1, 8)) + "r2,again\n"

    error = refused(bundle, "external_id,text\n" + rows, batch_size=3)

    assert error.extra["row"] == 8
    assert error.detail == (
        "Row 8 (line 9): external_id 'r2' is already used by an earlier row of this file."
    )


def test_external_id_already_in_the_bundle_is_refused(bundle):
    ItemFactory(bundle=bundle, external_id="r7")

    error = refused(bundle, "external_id,text\nr5,a\nr6,b\nr7,c\n", batch_size=2)

    assert error.extra["row"] == 3
    assert "external_id 'r7' is already used by an item already in this bundle" in error.detail
    assert bundle.items.count() == 1


def test_the_first_bad_row_is_reported(bundle):
    """A duplicate at row 3 is reported before a bad gold answer at row 4 in the same batch."""
    error = refused(bundle, "external_id,text,gold\nr1,a,\nr2,b,\nr1,c,\nr4,d,maybe\n")

    assert error.extra["row"] == 3


def test_an_error_after_several_batches_leaves_nothing(bundle):
    rows = "".join(f"r{n},t,\n" for n in range(50)) + "r50,t,maybe\n"

    error = refused(bundle, "external_id,text,gold\n" + rows, batch_size=7)

    assert error.extra["row"] == 51


# ---------------------------------------------------------------------------------------------
# Empty and oversized files


@pytest.mark.parametrize(
    ("fmt", "data", "reason"),
    [
        ("csv", "", "The file is empty"),
        ("csv", "\ufeff", "The file is empty"),
        ("csv", "\n\n", "The file is empty"),
        ("csv", "external_id,text,gold\n", "has no items"),
        ("csv", "external_id,text\n\n\n", "has no items"),
        ("json", "", "The file is empty"),
        ("json", "  \n ", "The file is empty"),
        ("json", "[]", "has no items"),
        ("json", " [ \n ] \n", "has no items"),
        ("jsonl", "", "The file is empty"),
        ("jsonl", "\n \n", "has no items"),
    ],
)
def test_empty_uploads_are_refused(bundle, fmt, data, reason):
    error = refused(bundle, data, fmt)

    assert reason in error.detail
    assert "row" not in error.extra


class FiftyMegabytes(io.RawIOBase):
    """A 50 MB CSV produced on the fly (never held whole), counting the bytes handed out."""

    SIZE = 50 * 1024 * 1024
    ROW = b"some review text, long enough to fill a file quickly " * 5

    def __init__(self) -> None:
        self.sent = 0
        self.pending = b"external_id,text\n"
        self.n = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = 1 << 20 if size is None or size < 0 else size
        while len(self.pending) < size and self.sent + len(self.pending) < self.SIZE:
            rows = range(self.n, self.n + 500)
            self.pending += b"".join(b'r%d,"%s"\n' % (i, self.ROW) for i in rows)
            self.n += 500
        chunk, self.pending = self.pending[:size], self.pending[size:]
        chunk = chunk[: max(0, self.SIZE - self.sent)]
        self.sent += len(chunk)
        return chunk


def test_a_50mb_file_over_the_limit_is_refused_while_streaming(bundle, settings):
    settings.ITEM_UPLOAD_MAX_BYTES = 1024 * 1024
    ItemFactory(bundle=bundle, external_id="kept")
    source = FiftyMegabytes()

    with pytest.raises(ingest.UploadTooLarge) as caught:
        items_load(bundle=bundle, source=source, fmt="csv", batch_size=500)

    assert (caught.value.code, caught.value.http_status) == ("upload_too_large", 413)
    assert "1 MiB" in caught.value.detail
    # Refused as soon as the limit was passed, not after reading 50 MB; batches written
    # before that were rolled back.
    assert source.sent <= 2 * 1024 * 1024
    assert list(bundle.items.values_list("external_id", flat=True)) == ["kept"]


def test_an_upload_with_a_known_size_over_the_limit_is_refused_unread(bundle, settings):
    settings.ITEM_UPLOAD_MAX_BYTES = 1024

    class Uploaded(io.BytesIO):
        size = 4096

    source = Uploaded(b"text\n" + b"x\n" * 2045)

    with pytest.raises(ingest.UploadTooLarge):
        items_load(bundle=bundle, source=source, fmt="csv")

    assert source.tell() == 0


def test_an_upload_at_the_limit_is_accepted(bundle, settings):
    data = b"text\na\nb\n"
    settings.ITEM_UPLOAD_MAX_BYTES = len(data)

    assert load(bundle, data).created == 2


# ---------------------------------------------------------------------------------------------
# Format detection


@pytest.mark.parametrize(
    ("content_type", "filename", "fmt"),
    [
        ("text/csv", None, "csv"),
        ("text/csv; charset=utf-8", None, "csv"),
        ("application/json", None, "json"),
        ("Application/JSON; charset=UTF-8", None, "json"),
        ("application/x-ndjson", None, "jsonl"),
        ("application/jsonl", None, "jsonl"),
        ("application/vnd.ms-excel", "reviews.CSV", "csv"),
        ("application/octet-stream", "items.jsonl", "jsonl"),
        (None, "items.ndjson", "jsonl"),
        ("application/json", "items.jsonl", "jsonl"),
        (None, "items.json", "json"),
    ],
)
def test_upload_format(content_type, filename, fmt):
    assert upload_format(content_type, filename) == fmt


@pytest.mark.parametrize(
    ("content_type", "filename"),
    [(None, None), ("text/plain", None), ("application/octet-stream", "items.xlsx")],
)
def test_upload_format_refuses_unknown_formats(content_type, filename):
    with pytest.raises(ingest.UnsupportedFormat) as caught:
        upload_format(content_type, filename)

    assert caught.value.code == "unsupported_format"
