"""Result exports as CSV, JSONL and JSON, produced as a stream of text chunks.

CSV carries the same fields as JSONL, flat: payload columns by name (prefixed `payload.` only
when a payload key would clash with a result column), judgments as a JSON cell. Uploaded media
are signed URLs in their payload column (and, in JSON and JSONL, described under `media`).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from marketplace.csvsafe import SafeWriter
from tasks.models import Bundle
from tasks.selectors import bundle_payload_keys

from .common import dumps, public_row, result_rows, visible_payload_keys

RESULT_COLUMNS = ["item_id", "external_id", "is_gold", "label", "confidence", "method"]
#: The closed loop's columns (DESIGN.md), after the payload's, before the judgments.
PROVENANCE_COLUMNS = ["provenance", "audited", "model_version"]


def jsonl(bundle: Bundle, base_url: str = "") -> Iterator[str]:
    for row in result_rows(bundle):
        yield dumps(public_row(row, base_url=base_url)) + "\n"


def json_array(bundle: Bundle, base_url: str = "") -> Iterator[str]:
    yield "["
    for n, row in enumerate(result_rows(bundle)):
        yield ("," if n else "") + "\n" + dumps(public_row(row, base_url=base_url))
    yield "\n]\n"


def csv_rows(bundle: Bundle, base_url: str = "") -> Iterator[str]:
    keys = visible_payload_keys(bundle_payload_keys(bundle))
    taken = set(RESULT_COLUMNS) | set(PROVENANCE_COLUMNS) | {"judgments"}
    headers = [f"payload.{k}" if k in taken else k for k in keys]
    buffer = io.StringIO()
    writer = SafeWriter(buffer)
    writer.writerow([*RESULT_COLUMNS, *headers, *PROVENANCE_COLUMNS, "judgments"])
    for raw in result_rows(bundle):
        row = public_row(raw, base_url=base_url)
        payload = row["payload"] if isinstance(row["payload"], dict) else {}
        label = row["label"]
        writer.writerow(
            [
                row["item_id"],
                row["external_id"],
                row["is_gold"],
                dumps(label)
                if isinstance(label, list | dict)
                else ("" if label is None else label),
                "" if row["confidence"] is None else row["confidence"],
                row["method"] or "",
                *[_cell(payload.get(k)) for k in keys],
                *[_cell(row.get(k)) for k in PROVENANCE_COLUMNS],
                dumps(row["judgments"]),
            ]
        )
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return dumps(value)
    return value
