"""Reading an upload: bytes in chunks under the size limit, UTF-8 text, lines.

Nothing here holds more than a chunk (or one over-long line, up to MAX_RECORD_CHARS) at a time.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from .errors import too_large

READ_CHUNK_BYTES = 1 << 20
# One CSV line or one JSON record may not exceed this (bounds memory on a file without newlines).
MAX_RECORD_CHARS = 16 << 20
_UTF8_BOM = codecs.BOM_UTF8


class BadText(Exception):
    """Bytes that are not valid UTF-8 text (or a NUL). Raised only after every valid character
    before it has been handed on, so the parser can name the row the bad bytes fall in."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def byte_chunks(source: BinaryIO, limit: int) -> Iterator[bytes]:
    """The upload's bytes in chunks, refusing it as soon as it passes `limit` (never after
    reading it all)."""
    total = 0
    while True:
        chunk = source.read(READ_CHUNK_BYTES)
        if not chunk:
            return
        total += len(chunk)
        if total > limit:
            raise too_large(limit)
        yield bytes(chunk)


def text_chunks(source: BinaryIO, limit: int) -> Iterator[str]:
    """The upload as UTF-8 text in chunks, with a leading BOM dropped.

    Invalid UTF-8 and NUL characters end the stream with BadText, after the valid text before
    them, so a parser reports the row they are in rather than a row somewhere nearby.
    """
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    chunks = byte_chunks(source, limit)
    head = b""
    for chunk in chunks:  # gather enough bytes to recognise a BOM even in tiny reads
        head += chunk
        if len(head) >= len(_UTF8_BOM):
            break
    if head.startswith(_UTF8_BOM):
        head = head[len(_UTF8_BOM) :]
    for chunk in _prepend(head, chunks):
        try:
            text = decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            yield exc.object[: exc.start].decode("utf-8")
            raise BadText("the file is not valid UTF-8 text") from None
        nul = text.find("\x00")
        if nul >= 0:
            yield text[:nul]
            raise BadText("the file contains a NUL byte")
        if text:
            yield text
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise BadText("the file ends in the middle of a UTF-8 character") from None


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


def lines(chunks: Iterable[str]) -> Iterator[str]:
    """Split text into lines that keep their `\\n` (the csv module needs them to keep newlines
    inside quoted cells). Only `\\n` ends a line; a `\\r` before it stays, csv handles it."""
    pending = ""
    for text in chunks:
        cut = text.rfind("\n") + 1
        if not cut:
            pending += text
            if len(pending) > MAX_RECORD_CHARS:
                raise BadText(f"a line is longer than {MAX_RECORD_CHARS:,} characters")
            continue
        block = pending + text[:cut] if pending else text[:cut]
        pending = text[cut:]
        yield from io.StringIO(block, newline="\n")
    if pending:
        yield pending
