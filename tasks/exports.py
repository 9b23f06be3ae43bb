"""Result exports (CSV, JSONL, JSON), produced as a stream of text chunks.

CSV carries the same fields as JSONL, flat: payload columns by name (prefixed `payload.` only
when a payload key would clash with a result column), judgments as a JSON cell.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from .models import Bundle
from .selectors import bundle_payload_keys, bundle_result_rows

FORMATS = {"csv": "text/csv", "jsonl": "application/x-ndjson", "json": "application/json"}
RESULT_COLUMNS = ["item_id", "external_id", "is_gold", "label", "confidence", "method"]


def bundle_results_export(bundle: Bundle, fmt: str) -> tuple[str, Iterator[str]]:
    producers = {"csv": _csv, "jsonl": _jsonl, "json": _json}
    return FORMATS[fmt] + "; charset=utf-8", producers[fmt](bundle)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _jsonl(bundle: Bundle) -> Iterator[str]:
    for row in bundle_result_rows(bundle):
        yield _dumps(row) + "\n"


def _json(bundle: Bundle) -> Iterator[str]:
    yield "["
    for n, row in enumerate(bundle_result_rows(bundle)):
        yield ("," if n else "") + "\n" + _dumps(row)
    yield "\n]\n"


def _csv(bundle: Bundle) -> Iterator[str]:
    keys = bundle_payload_keys(bundle)
    taken = set(RESULT_COLUMNS) | {"judgments"}
    headers = [f"payload.{k}" if k in taken else k for k in keys]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*RESULT_COLUMNS, *headers, "judgments"])
    for row in bundle_result_rows(bundle):
        payload = row["payload"] if isinstance(row["payload"], dict) else {}
        label = row["label"]
        writer.writerow(
            [
                row["item_id"],
                row["external_id"],
                row["is_gold"],
                _dumps(label)
                if isinstance(label, list | dict)
                else ("" if label is None else label),
                "" if row["confidence"] is None else row["confidence"],
                row["method"] or "",
                *[_cell(payload.get(k)) for k in keys],
                _dumps(row["judgments"]),
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
        return _dumps(value)
    return value
