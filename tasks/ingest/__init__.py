"""Item upload: CSV, JSON array or JSONL into a bundle, streamed, validated, all-or-nothing.

Why it is built this way:

- Uploads can be hundreds of megabytes, so nothing here holds the whole file, its rows or a
  set of every external id: bytes are read in chunks (the size limit is checked while reading),
  decoded and parsed incrementally (JSON arrays too), validated row by row, and written in
  batches. Memory stays flat whatever the file size.
- PostgreSQL is loaded with `COPY ... FROM STDIN` per batch: rows are rendered straight into
  COPY text (no model instances, the payload serialised once), which is several times faster
  than `bulk_create`. Other databases (SQLite, the embedded default) use `bulk_create`.
- Every batch runs in one savepoint of one transaction, so any error leaves nothing behind.
- Duplicate external ids (within the file, or against items already in the bundle) are caught
  by the database's unique constraint `item_external_id_unique` as each batch lands; only then
  is the batch looked at again to name the offending row. This keeps memory flat at millions of
  rows, where a Python set of every id would not be.
- One bad row rejects the upload with `DomainError(code="invalid_upload", row=N)`. `row` is the
  1-based number of the item in the file in every format: the first item is row 1 (a CSV header
  is not counted; blank lines are not counted). For CSV and JSONL the detail also gives the line
  of the file, so a spreadsheet user can find it: "Row 17 (line 18): ...". A row whose payload
  is over ITEM_PAYLOAD_MAX_BYTES of JSON is such a row; its entry in `errors` carries
  `"code": "payload_too_large"`.
  When a row has a problem, the rows before it are still checked for duplicates first, so the
  row reported is the first bad one.
- A zip upload holds media files plus one CSV/JSON/JSONL manifest naming them (`archive`);
  the manifest is parsed exactly like an upload of that format, and each named file is checked
  and stored as its row passes (`media`). A bad file does not stop the check: the error lists
  every bad file with its row and code. Files stored for an upload that fails are deleted
  before the error leaves this module; `ImportSummary.media_keys` lets the caller delete them
  if its own transaction fails later.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, BinaryIO

from django.conf import settings
from django.db import transaction

from tasks.media import media_delete
from tasks.models import Bundle
from tasks.schema import question_validate

from .archive import Archive, archive_open
from .errors import InvalidUpload, UnsupportedFormat, UploadTooLarge, too_large
from .media import MediaRecords
from .parsing import (
    Record,
    RowProblem,
    csv_records,
    json_array_records,
    jsonl_records,
    payload_size_problem,
    row_detail,
)
from .reading import text_chunks
from .writing import sink_for

__all__ = [
    "FORMATS",
    "ImportSummary",
    "MAX_ROW_PROBLEMS",
    "InvalidUpload",
    "UnsupportedFormat",
    "UploadTooLarge",
    "items_load",
    "upload_format",
]

FORMATS = ("csv", "json", "jsonl", "zip")
DEFAULT_BATCH_SIZE = 20_000
_CONTENT_TYPES = {
    "text/csv": "csv",
    "application/csv": "csv",
    "application/json": "json",
    "text/json": "json",
    "application/x-ndjson": "jsonl",
    "application/ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/x-jsonl": "jsonl",
    "application/jsonlines": "jsonl",
    "application/x-jsonlines": "jsonl",
    "application/zip": "zip",
    "application/x-zip-compressed": "zip",
    "application/x-zip": "zip",
}
_EXTENSIONS = {
    ".csv": "csv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".zip": "zip",
}


@dataclass(frozen=True)
class ImportSummary:
    created: int
    gold: int
    #: Media files stored (zip uploads) and their storage keys, for the caller's cleanup.
    media: int = 0
    media_keys: tuple[str, ...] = ()


def upload_format(content_type: str | None, filename: str | None) -> str:
    """Name the upload's format ("csv", "json" or "jsonl") from its file name or content type.

    The file extension wins when it is known: browsers label uploaded CSV files with all sorts of
    types (`application/vnd.ms-excel`, `application/octet-stream`), and JSONL has no registered
    type, but they pick the type from the extension anyway. A raw body has only a content type.
    """
    if filename:
        fmt = _EXTENSIONS.get(PurePath(filename).suffix.lower())
        if fmt:
            return fmt
    if content_type:
        fmt = _CONTENT_TYPES.get(content_type.split(";", 1)[0].strip().lower())
        if fmt:
            return fmt
    raise UnsupportedFormat(
        "Upload items as CSV (text/csv, .csv), a JSON array (application/json, .json), JSON "
        "lines (application/x-ndjson, .jsonl) or a zip of media files with one of those naming "
        "them (application/zip, .zip); got "
        f"{content_type or 'no content type'}{f' ({filename})' if filename else ''}."
    )


def items_load(
    *, bundle: Bundle, source: BinaryIO, fmt: str, batch_size: int | None = None
) -> ImportSummary:
    """Add the items in `source` to `bundle`, all of them or none.

    `source` only needs `read(n)` (an uploaded file, a request body stream, an open file); a
    zip that cannot seek is spooled to a temporary file first (under MEDIA_MAX_ZIP_BYTES).
    Gold answers are validated against the bundle's question and stored normalised; gold items
    take no overlap slots (gold is served by its own path), other items get `min_overlap`.
    Raises InvalidUpload (400, with `row` when a row is at fault), UploadTooLarge (413) or
    UnsupportedFormat (415); on any error nothing is written. The caller checks the bundle's
    state and holds its lock; this function opens its own savepoint so it is atomic either way.
    """
    if fmt not in FORMATS:
        raise UnsupportedFormat(f"Unknown upload format {fmt!r}; use one of {', '.join(FORMATS)}.")
    question = question_validate(bundle.question)
    if batch_size is None:
        batch_size = getattr(settings, "ITEM_UPLOAD_BATCH_SIZE", DEFAULT_BATCH_SIZE)
    archive: Archive | None = None
    if fmt == "zip":
        archive = archive_open(source)
        source, fmt = archive.manifest_stream(), archive.manifest_format
    media = MediaRecords(bundle_id=bundle.pk, question=question, archive=archive)
    try:
        return _load(bundle, source, fmt, question, batch_size, media)
    except BaseException:
        media_delete(media.keys)
        raise
    finally:
        if archive is not None:
            archive.close()


# An upload lists at most this many bad rows (a file of a million bad rows says so in 50).
MAX_ROW_PROBLEMS = 50


def _rows_error(problems: list[RowProblem]) -> InvalidUpload:
    """One InvalidUpload naming the first bad row in its detail (and `row`), with every bad
    row found (up to MAX_ROW_PROBLEMS) in `errors`: row, line and detail each."""
    first = problems[0]
    more = f" ({len(problems) - 1} more problem(s) listed in errors)" if len(problems) > 1 else ""
    errors = [
        {"row": p.row, "line": p.line, "detail": row_detail(p.row, p.line, p.reason)}
        | ({"code": p.code} if p.code else {})
        for p in problems
    ]
    return InvalidUpload(
        row_detail(first.row, first.line, first.reason) + more, row=first.row, errors=errors
    )


def _load(
    bundle: Bundle,
    source: BinaryIO,
    fmt: str,
    question: dict[str, Any],
    batch_size: int,
    media: MediaRecords,
) -> ImportSummary:
    limit: int = settings.ITEM_UPLOAD_MAX_BYTES
    payload_limit: int = settings.ITEM_PAYLOAD_MAX_BYTES
    short_payload = payload_limit // 4  # characters that cannot reach the limit in UTF-8
    size = getattr(source, "size", None)
    if isinstance(size, int) and size > limit:
        raise too_large(limit)
    chunks = text_chunks(source, limit)
    records: Iterator[Record | RowProblem]
    if fmt == "csv":
        records = csv_records(chunks, question)
    elif fmt == "jsonl":
        records = jsonl_records(chunks, question)
    else:
        records = json_array_records(chunks, question)

    with transaction.atomic():
        sink = sink_for(bundle=bundle, batch_size=batch_size)
        problems: list[RowProblem] = []
        try:
            for entry in records:
                # Most payloads are short: one length check, no call, decides them.
                if type(entry) is Record and len(entry.payload_json) > short_payload:
                    entry = payload_size_problem(entry, payload_limit) or entry
                if isinstance(entry, RowProblem):
                    problems.append(entry)
                elif not problems:  # after a bad row nothing is stored: only rows are checked
                    sink.add(media.record(entry))
                if len(problems) >= MAX_ROW_PROBLEMS:
                    break
        except RowProblem as problem:  # unreadable text, or a row's media: the check ends here
            problems.append(problem)
        if problems:
            sink.flush()  # a duplicate among the rows before the first bad one comes first
            raise _rows_error(problems)
        media.finish()
        sink.flush()
        if sink.created == 0:
            raise InvalidUpload("The upload has no items: add at least one data row.")
    return ImportSummary(
        created=sink.created, gold=sink.gold, media=media.stored_files, media_keys=tuple(media.keys)
    )
