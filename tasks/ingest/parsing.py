"""Parsing an upload into validated item records, one streaming pass per format.

Each parser yields `Record`s (payload already serialised to JSON text, gold normalised) and
raises `RowProblem` for a bad row; file-level problems (empty file, bad header) raise
InvalidUpload directly.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from operator import add, itemgetter
from typing import Any

from tasks.models import Item
from tasks.schema import InvalidAnswer, annotation_type, answer_from_text, answer_validate

from .errors import InvalidUpload
from .reading import MAX_RECORD_CHARS, BadText, lines

EXTERNAL_ID_MAX_LENGTH: int = Item._meta.get_field("external_id").max_length  # type: ignore[assignment]
RESERVED_COLUMNS = ("external_id", "gold")
JSON_FIELDS = frozenset(("external_id", "payload", "gold"))
_JSON_WS = re.compile(r"[ \t\n\r]*")
_SURROGATE = re.compile("[\ud800-\udfff]")
# A JSON-escaped NUL (`\u0000`) whose backslash is not itself escaped.
_ESCAPED_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


class RowProblem(Exception):
    """One bad row; `code` names the kind of problem where a client may act on it (e.g.
    `payload_too_large`), listed with the row in the upload error's `errors`."""

    def __init__(self, row: int, line: int | None, reason: str, code: str | None = None) -> None:
        super().__init__(reason)
        self.row, self.line, self.reason, self.code = row, line, reason, code


PAYLOAD_TOO_LARGE = "payload_too_large"


def payload_size_problem(record: Record, limit: int) -> RowProblem | None:
    """The row's problem when its serialised payload is over `limit` UTF-8 bytes. A payload of
    at most limit/4 characters cannot be (a character is at most 4 bytes): no encoding then."""
    chars = len(record.payload_json)
    if chars <= limit // 4 or (
        chars <= limit and len(record.payload_json.encode("utf-8", "surrogatepass")) <= limit
    ):
        return None
    return RowProblem(
        record.row,
        record.line,
        f"the payload is larger than {limit:,} bytes of JSON; keep large data behind a URL.",
        code=PAYLOAD_TOO_LARGE,
    )


def row_detail(row: int, line: int | None, reason: str) -> str:
    where = f"Row {row} (line {line})" if line else f"Row {row}"
    return f"{where}: {reason}"


@dataclass(slots=True)
class Record:
    row: int
    line: int | None
    external_id: str
    payload_json: str  # the payload object serialised as JSON (once, here)
    gold: Any  # normalised gold answer, or None


def _gold_from_text(question: dict[str, Any], cell: str, payload: dict[str, Any] | None) -> Any:
    if not cell.strip():
        return None
    return answer_from_text(question, cell, payload=payload)


def csv_records(chunks: Iterator[str], question: dict[str, Any]) -> Iterator[Record | RowProblem]:
    """CSV with a header row: `external_id` and `gold` are optional, every other column is a
    payload field (kept as text). Ragged rows, bad quoting and blank column names are refused.

    A row that parses but is invalid (cell count, external_id, gold) is yielded as a
    RowProblem and the file goes on, so an upload reports all its bad rows; text that cannot
    be read (bad quoting, bad bytes) raises, as nothing after it can be trusted."""
    reader = csv.reader(lines(chunks), strict=True)
    row = 0
    try:
        header = next((r for r in reader if r), None)
    except csv.Error as exc:
        raise InvalidUpload(f"The header row is not valid CSV: {exc}.") from None
    except BadText as exc:
        raise InvalidUpload(f"The header row is unreadable: {exc.reason}.") from None
    if header is None:
        raise InvalidUpload("The file is empty: expected a header row and at least one data row.")
    names = [name.strip() for name in header]
    for i, name in enumerate(names, start=1):
        if not name:
            raise InvalidUpload(f"Column {i} of the header has no name.")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InvalidUpload(f"The header repeats column name(s): {', '.join(repeated)}.")
    payload_idx = [i for i, name in enumerate(names) if name not in RESERVED_COLUMNS]
    if not payload_idx:
        raise InvalidUpload(
            "The header needs at least one payload column besides external_id and gold."
        )
    width = len(names)
    ext_idx = names.index("external_id") if "external_id" in names else None
    gold_idx = names.index("gold") if "gold" in names else None
    keys = [json.dumps(names[i], ensure_ascii=False) + ": " for i in payload_idx]
    values_of = itemgetter(*payload_idx)
    single = len(payload_idx) == 1
    escape = json.encoder.encode_basestring  # C, no ASCII escaping
    # Annotation gold is judged against the row's payload (the image's size, the text of
    # spans); the plain types never need it, so their rows build no dict.
    payload_names = [names[i] for i in payload_idx] if annotation_type(question) else None
    prev_line = reader.line_num
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise RowProblem(row + 1, reader.line_num, f"not valid CSV: {exc}.") from None
        except BadText as exc:
            raise RowProblem(row + 1, reader.line_num + 1, f"{exc.reason}.") from None
        if not cells:  # a blank line
            prev_line = reader.line_num
            continue
        row += 1
        line = prev_line + 1
        prev_line = reader.line_num
        if len(cells) != width:
            yield RowProblem(
                row, line, f"has {len(cells)} cells but the header has {width} columns."
            )
            continue
        values = values_of(cells)
        if single:
            payload_json = f"{{{keys[0]}{escape(values)}}}"
        else:
            payload_json = "{" + ", ".join(map(add, keys, map(escape, values))) + "}"
        external_id = cells[ext_idx].strip() if ext_idx is not None else ""
        if len(external_id) > EXTERNAL_ID_MAX_LENGTH:
            yield RowProblem(
                row, line, f"external_id is longer than {EXTERNAL_ID_MAX_LENGTH} characters."
            )
            continue
        gold = None
        if gold_idx is not None and cells[gold_idx]:
            payload = None
            if payload_names is not None:
                payload = dict(zip(payload_names, [values] if single else values, strict=True))
            try:
                gold = _gold_from_text(question, cells[gold_idx], payload)
            except InvalidAnswer as exc:
                yield RowProblem(row, line, f"gold: {exc.detail}")
                continue
        yield Record(row, line, external_id, payload_json, gold)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range for a number")
    return value


# NaN, Infinity and overflowing numbers are refused: PostgreSQL's jsonb cannot store them.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)


def json_record(obj: Any, row: int, line: int | None, question: dict[str, Any]) -> Record:
    """Validate one JSON item `{"external_id": ..., "payload": {...}, "gold": ...}`."""
    if type(obj) is not dict:
        raise RowProblem(
            row, line, 'must be an object like {"external_id": "r1", "payload": {...}}.'
        )
    unknown = obj.keys() - JSON_FIELDS
    if unknown:
        raise RowProblem(
            row,
            line,
            f"unknown field(s) {', '.join(sorted(map(repr, unknown)))}; an item has external_id, "
            "payload and gold (put item data inside payload).",
        )
    payload = obj.get("payload")
    if type(payload) is not dict:
        what = "is missing" if payload is None else f"must be an object, not {_json_type(payload)}"
        raise RowProblem(row, line, f"payload {what}.")
    raw_id = obj.get("external_id")
    if raw_id is None:
        external_id = ""
    elif isinstance(raw_id, str):
        external_id = raw_id.strip()
    elif isinstance(raw_id, int | float) and not isinstance(raw_id, bool):
        external_id = str(int(raw_id)) if float(raw_id).is_integer() else repr(raw_id)
    else:
        raise RowProblem(
            row, line, f"external_id must be a string or a number, not {_json_type(raw_id)}."
        )
    if len(external_id) > EXTERNAL_ID_MAX_LENGTH:
        raise RowProblem(
            row, line, f"external_id is longer than {EXTERNAL_ID_MAX_LENGTH} characters."
        )
    if "\x00" in external_id or _SURROGATE.search(external_id):
        raise RowProblem(row, line, "external_id contains a NUL or an unpaired surrogate.")
    raw_gold = obj.get("gold")
    gold = None
    if raw_gold is not None and not (isinstance(raw_gold, str) and not raw_gold.strip()):
        try:
            gold = answer_validate(question, raw_gold, payload=payload)
        except InvalidAnswer as exc:
            raise RowProblem(row, line, f"gold: {exc.detail}") from None
        if isinstance(gold, str) and ("\x00" in gold or _SURROGATE.search(gold)):
            raise RowProblem(row, line, "gold contains a NUL or an unpaired surrogate.")
    payload_json = json.dumps(payload, ensure_ascii=False)
    # Text a database cannot store: checked on the serialised form, one scan of a short string.
    if ("\\u0000" in payload_json and _ESCAPED_NUL.search(payload_json)) or _SURROGATE.search(
        payload_json
    ):
        raise RowProblem(
            row, line, "payload contains a NUL character (\\u0000) or an unpaired surrogate."
        )
    return Record(row, line, external_id, payload_json, gold)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _json_error(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON: {exc.msg} (column {exc.colno})."
    return f"not valid JSON: {exc}."


def jsonl_records(chunks: Iterator[str], question: dict[str, Any]) -> Iterator[Record | RowProblem]:
    """One JSON object per line; blank lines are skipped and not counted as rows. A bad line
    is yielded as a RowProblem and the next line is read (each line stands alone)."""
    decode = _DECODER.decode
    row = 0
    line = 0
    source_lines = lines(chunks)
    while True:
        try:
            text = next(source_lines)
        except StopIteration:
            if row == 0 and line == 0:
                raise InvalidUpload(
                    "The file is empty: expected one JSON object per line."
                ) from None
            return
        except BadText as exc:
            raise RowProblem(row + 1, line + 1, f"{exc.reason}.") from None
        line += 1
        if not text or text.isspace():
            continue
        row += 1
        try:
            obj = decode(text)
        except RecursionError:
            yield RowProblem(row, line, "the JSON is nested too deeply.")
            continue
        except ValueError as exc:
            yield RowProblem(row, line, _json_error(exc))
            continue
        yield _checked_record(obj, row, line, question)


def _checked_record(
    obj: Any, row: int, line: int | None, question: dict[str, Any]
) -> Record | RowProblem:
    """`json_record`, with an invalid item returned as its problem rather than raised."""
    try:
        return json_record(obj, row, line, question)
    except RowProblem as problem:
        return problem


def json_array_records(
    chunks: Iterator[str], question: dict[str, Any]
) -> Iterator[Record | RowProblem]:
    """A JSON array of item objects, parsed incrementally: `raw_decode` one element at a time
    from a sliding buffer, reading more text only when an element is cut off at its end."""
    raw_decode = _DECODER.raw_decode
    skip_ws = _JSON_WS.match
    buf = ""
    pos = 0
    eof = False
    row = 0

    def more() -> bool:
        nonlocal buf, pos, eof
        if eof:
            return False
        try:
            text = next(chunks)
        except StopIteration:
            eof = True
            return False
        except BadText as exc:
            raise RowProblem(row + 1, None, f"{exc.reason}.") from None
        buf = buf[pos:] + text
        pos = 0
        return True

    def peek() -> str:
        """The next non-whitespace character ('' at the end of the file)."""
        nonlocal pos
        while True:
            pos = skip_ws(buf, pos).end()  # type: ignore[union-attr]
            if pos < len(buf):
                return buf[pos]
            if not more():
                return ""

    first = peek()
    if not first:
        raise InvalidUpload("The file is empty: expected a JSON array of items.")
    if first != "[":
        hint = " (for one object per line, upload JSON lines: .jsonl)" if first == "{" else ""
        raise InvalidUpload(f"A JSON upload must be an array of item objects{hint}.")
    pos += 1
    if peek() == "]":
        pos += 1
    else:
        while True:
            char = peek()
            if char != "{":
                reason = "the array ends early." if not char else "must be an object."
                if char == "]":
                    reason = "unexpected ']' after a comma."
                raise RowProblem(row + 1, None, reason)
            while True:
                try:
                    obj, end = raw_decode(buf, pos)
                    break
                except json.JSONDecodeError as exc:
                    cut_off = exc.pos >= len(buf) - 8 or exc.msg.startswith("Unterminated string")
                    if cut_off and len(buf) - pos <= MAX_RECORD_CHARS and more():
                        continue
                    if cut_off and not eof:
                        reason = f"an item is longer than {MAX_RECORD_CHARS:,} characters."
                        raise RowProblem(row + 1, None, reason) from None
                    raise RowProblem(row + 1, None, _json_error(exc)) from None
                except RecursionError:
                    raise RowProblem(row + 1, None, "the JSON is nested too deeply.") from None
                except ValueError as exc:
                    raise RowProblem(row + 1, None, _json_error(exc)) from None
            row += 1
            pos = end
            yield _checked_record(obj, row, None, question)
            char = peek()
            pos += 1
            if char == "]":
                break
            if char != ",":
                raise RowProblem(
                    row + 1,
                    None,
                    "the array ends early."
                    if not char
                    else f"expected ',' or ']' after row {row}.",
                )
    if peek():
        raise InvalidUpload(f"Unexpected data after the end of the JSON array (after row {row}).")
