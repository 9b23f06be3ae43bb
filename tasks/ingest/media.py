"""Media fields of uploaded items: checked in every upload, stored from a zip upload.

Which payload fields are media:
- the question's `image_field` / `media_field`: a file in the zip or an http(s) URL, always;
- a pairwise question's `left_field` / `right_field`: a file when it names one, else text;
- in a zip upload, any other value that ends like a media file (`.png`, `.jpg`, `.mp3`, ...)
  and is not a URL: it must be a file in the zip.

A stored file is described in the reserved payload key `_media`; the field keeps the name the
manifest gave it. `_media` in an uploaded payload is refused (it would let a payload point at
files it does not own). A zip upload checks every named file before reporting: the error lists
each bad file with its row and code, and once any file is bad nothing more is stored (what was
stored is deleted by the caller, `items_load`).
"""

from __future__ import annotations

import json
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from typing import Any

from tasks.annotation.base import MEDIA_KEY
from tasks.annotation.registry import TYPES
from tasks.media import MediaRefused, is_http_url, media_fields, media_inspect, media_save
from tasks.schema import InvalidAnswer

from .archive import MAX_LISTED_PROBLEMS, Archive, FileProblem, problems_error
from .parsing import Record, RowProblem

MEDIA_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".mp3", ".wav", ".ogg")
_RESERVED = f'"{MEDIA_KEY}"'


class MediaRecords:
    """Wraps the parsed records of one upload: media fields checked, zip files stored."""

    def __init__(
        self, *, bundle_id: int, question: Mapping[str, Any], archive: Archive | None
    ) -> None:
        self.bundle_id = bundle_id
        self.archive = archive
        self.question = question
        self.kind = TYPES.get(str(question.get("type")))
        self.required, self.optional = media_fields(question)
        media_field = question.get("media_field")
        self.audio_fields = (
            {media_field}
            if question.get("type") == "transcription" and isinstance(media_field, str)
            else set()
        )
        self.keys: list[str] = []
        self.stored: dict[tuple[str, bool], dict[str, Any]] = {}
        self.refused: set[tuple[str, bool]] = set()
        self.problems: list[FileProblem] = []
        self.problem_count = 0

    @property
    def stored_files(self) -> int:
        return len(self.keys)

    def records(self, records: Iterator[Record]) -> Iterator[Record]:
        for record in records:
            yield self._record(record)

    def record(self, record: Record) -> Record:
        """One row's media checked and stored; raises RowProblem for a bad row."""
        return self._record(record)

    def finish(self) -> None:
        """Raise InvalidUpload listing every bad file, if any was found."""
        if self.problem_count:
            raise problems_error(self.problems, self.problem_count)

    def _record(self, record: Record) -> Record:
        text = record.payload_json
        if not (self.required or self.optional or self.archive) and _RESERVED not in text:
            return record  # nothing to look at: the common case costs one substring search
        payload = json.loads(text)
        if MEDIA_KEY in payload:
            raise RowProblem(record.row, record.line, f"{MEDIA_KEY!r} is a reserved payload field.")
        media: dict[str, dict[str, Any]] = {}
        for field in self.required:
            self._required(record, payload, field, media)
        for field, value in payload.items():
            if field in self.required or not isinstance(value, str) or self.archive is None:
                continue
            if is_http_url(value):
                continue
            named = self.archive.member(value)
            name = value.strip()
            looks_like_file = name.lower().endswith(MEDIA_EXTENSIONS) and not any(
                c.isspace() for c in name
            )
            if named is not None or looks_like_file:
                self._store(record, field, value, named, media)
        if media:
            payload[MEDIA_KEY] = media
            record.payload_json = json.dumps(payload, ensure_ascii=False)
            if record.gold is not None and self.kind is not None:
                record.gold = self._gold(record, payload)
        return record

    def _gold(self, record: Record, payload: dict[str, Any]) -> Any:
        """Gold judged again now that the payload knows its images' sizes (the parser judged it
        before the files were read: a gold box outside a 640x480 image is caught here)."""
        assert self.kind is not None
        try:
            return self.kind.answer(
                self.question, record.gold, self.kind.context(self.question, payload)
            )
        except InvalidAnswer as exc:
            raise RowProblem(record.row, record.line, f"gold: {exc.detail}") from None

    def _required(
        self, record: Record, payload: dict[str, Any], field: str, media: dict[str, Any]
    ) -> None:
        value = payload.get(field)
        what = "a file in the zip or an http(s) URL" if self.archive else "an http(s) URL"
        if not isinstance(value, str) or not value.strip():
            raise RowProblem(record.row, record.line, f"the payload needs {field!r}: {what}.")
        if is_http_url(value):
            return
        if self.archive is None:
            raise RowProblem(
                record.row,
                record.line,
                f"{field} must be an http(s) URL, not {value[:80]!r} (to upload files, send a "
                "zip holding them and a CSV or JSONL that names them).",
            )
        self._store(record, field, value, self.archive.member(value), media)

    def _store(
        self,
        record: Record,
        field: str,
        value: str,
        named: zipfile.ZipInfo | None,
        media: dict[str, Any],
    ) -> None:
        assert self.archive is not None
        if named is None:
            self._problem(FileProblem(value, "media_missing", "is not in the zip", record.row))
            return
        audio = field in self.audio_fields
        seen = (named.filename, audio)
        if seen in self.stored:
            media[field] = self.stored[seen]
            return
        if seen in self.refused:
            return  # reported once, at the first row naming it
        try:
            data = self.archive.read(named)
            info = media_inspect(data, audio_allowed=audio)
        except MediaRefused as exc:
            self.refused.add(seen)
            self._problem(FileProblem(value, exc.code, exc.reason, record.row))
            return
        except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError):
            self.refused.add(seen)
            self._problem(FileProblem(value, "media_unreadable", "cannot be unpacked", record.row))
            return
        if self.problem_count:
            return  # the upload fails anyway: check the rest, store nothing more
        key = media_save(bundle_id=self.bundle_id, data=data, extension=info.extension)
        self.keys.append(key)
        self.stored[seen] = media[field] = info.entry(key)

    def _problem(self, problem: FileProblem) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_LISTED_PROBLEMS:
            self.problems.append(problem)
