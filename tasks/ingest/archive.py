"""A zip upload: media files plus one manifest (CSV, JSON array or JSONL) naming them.

The archive is checked whole before anything is read or stored, and every refusal names the
member at fault: unsafe names (absolute, `..`, backslashes, drive letters), links, encrypted
members, repeated names, too many members, and zip bombs (a declared unpacked size past the
limits, or a compression ratio no image or audio file has). Sizes are enforced again while
reading, since a zip's headers can lie. Nothing is ever extracted to disk by its name.

The manifest names files relative to its own folder (`img/0001.png` next to `items.csv`, or
inside the same top folder when the zip holds one). Finder and Explorer leftovers
(`__MACOSX/`, `._*`, `.DS_Store`, `Thumbs.db`) are ignored.
"""

from __future__ import annotations

import posixpath
import tempfile
import zipfile
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO

from django.conf import settings

from .errors import InvalidUpload, too_large

MANIFEST_FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json"}
_JUNK_NAMES = frozenset((".ds_store", "thumbs.db", "desktop.ini"))
# Files smaller than this are not judged by their compression ratio (tiny files vary wildly).
_RATIO_FLOOR_BYTES = 1 << 20
_SPOOL_MEMORY_BYTES = 8 << 20
_S_IFMT, _S_IFLNK = 0o170000, 0o120000
MAX_LISTED_PROBLEMS = 100


@dataclass
class FileProblem:
    """One bad file of an upload: which file, which row named it, a stable code and a reason."""

    file: str
    code: str
    detail: str
    row: int | None = None

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"file": self.file, "code": self.code, "detail": self.detail}
        if self.row is not None:
            found["row"] = self.row
        return found


def problems_error(problems: list[FileProblem], total: int | None = None) -> InvalidUpload:
    """One InvalidUpload listing every bad file (the first hundred), nothing written."""
    total = total if total is not None else len(problems)
    first = problems[0]
    where = f"Row {first.row}: " if first.row is not None else ""
    more = f" ({total - 1} more problem(s) listed in errors)" if total > 1 else ""
    extra: dict[str, Any] = {"file": first.file, "errors": [p.as_dict() for p in problems]}
    if first.row is not None:
        extra["row"] = first.row
    return InvalidUpload(f"{where}{first.file}: {first.detail}{more}.", **extra)


@dataclass
class Archive:
    zip: zipfile.ZipFile
    manifest: zipfile.ZipInfo
    manifest_format: str
    members: dict[str, zipfile.ZipInfo]  # media candidates by name (not the manifest, no junk)
    base: str  # the manifest's folder, with a trailing slash ("" at the root)
    spool: IO[bytes] | None = None
    unpacked: int = field(default=0)

    def manifest_stream(self) -> BinaryIO:
        return self.zip.open(self.manifest)  # type: ignore[return-value]

    def member(self, value: str) -> zipfile.ZipInfo | None:
        """The member a manifest cell names (relative to the manifest's folder), if any."""
        name = value.strip().replace("\\", "/")
        while name.startswith("./"):
            name = name[2:]
        if not name or name.startswith("/") or ".." in name.split("/"):
            return None
        return self.members.get(posixpath.normpath(self.base + name))

    def read(self, info: zipfile.ZipInfo) -> bytes:
        """A member's bytes, at most MEDIA_MAX_FILE_BYTES + 1 of them (the caller refuses the
        extra byte), counted against the unpacked total whatever the header said."""
        limit: int = settings.MEDIA_MAX_FILE_BYTES
        with self.zip.open(info) as handle:
            data = handle.read(limit + 1)
        self.unpacked += len(data)
        if self.unpacked > settings.MEDIA_MAX_UNPACKED_BYTES:
            raise InvalidUpload(
                "The zip unpacks to more than the limit of "
                f"{settings.MEDIA_MAX_UNPACKED_BYTES:,} bytes.",
                file=info.filename,
            )
        return data

    def close(self) -> None:
        self.zip.close()
        if self.spool is not None:
            self.spool.close()


def archive_open(source: BinaryIO) -> Archive:
    """Open and check a zip upload; raises InvalidUpload naming every unsafe member, or
    UploadTooLarge. A source that cannot seek (a raw request body) is spooled to a temporary
    file first, under MEDIA_MAX_ZIP_BYTES."""
    limit: int = settings.MEDIA_MAX_ZIP_BYTES
    size = getattr(source, "size", None)
    if isinstance(size, int) and size > limit:
        raise too_large(limit)
    spool = None
    seekable = getattr(source, "seekable", None)
    if not (callable(seekable) and seekable()):
        spool = _spool(source, limit)
        source = spool  # type: ignore[assignment]
    else:
        start = source.tell()
        if source.seek(0, 2) - start > limit:
            raise too_large(limit)
        source.seek(start)
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        if spool is not None:
            spool.close()
        raise InvalidUpload("The upload is not a valid zip file.") from None
    try:
        return _checked(archive, spool)
    except BaseException:
        archive.close()
        if spool is not None:
            spool.close()
        raise


def _spool(source: BinaryIO, limit: int) -> IO[bytes]:
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_MEMORY_BYTES)  # noqa: SIM115
    copied = 0
    while chunk := source.read(1 << 20):
        copied += len(chunk)
        if copied > limit:
            spool.close()
            raise too_large(limit)
        spool.write(chunk)
    spool.seek(0)
    return spool


def _is_junk(name: str) -> bool:
    base = name.rstrip("/").rsplit("/", 1)[-1]
    return (
        name.startswith("__MACOSX/")
        or "/__MACOSX/" in name
        or base.startswith("._")
        or base.lower() in _JUNK_NAMES
    )


def _unsafe(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    parts = name.split("/")
    if "\x00" in name or "\\" in name:
        return "has a backslash or NUL in its name"
    if name.startswith("/") or (parts and len(parts[0]) == 2 and parts[0][1] == ":"):
        return "has an absolute path"
    if ".." in parts:
        return "climbs out of the archive (..)"
    if info.create_system == 3 and (info.external_attr >> 16) & _S_IFMT == _S_IFLNK:
        return "is a symbolic link"
    if info.flag_bits & 0x1:
        return "is encrypted"
    return None


def _checked(archive: zipfile.ZipFile, spool: IO[bytes] | None) -> Archive:
    infos = archive.infolist()
    if len(infos) > settings.MEDIA_MAX_ZIP_MEMBERS:
        raise InvalidUpload(
            f"The zip holds {len(infos):,} entries, more than the limit of "
            f"{settings.MEDIA_MAX_ZIP_MEMBERS:,}."
        )
    problems: list[FileProblem] = []
    seen: set[str] = set()
    files: list[zipfile.ZipInfo] = []
    for info in infos:
        reason = _unsafe(info)
        if reason is not None:
            problems.append(FileProblem(info.filename, "unsafe_path", reason))
            continue
        if info.filename in seen:
            problems.append(FileProblem(info.filename, "duplicate_file", "appears twice"))
            continue
        seen.add(info.filename)
        if not info.is_dir() and not _is_junk(info.filename):
            files.append(info)
    manifests = [i for i in files if posixpath.splitext(i.filename)[1].lower() in MANIFEST_FORMATS]
    if not problems and len(manifests) != 1:
        names = ", ".join(i.filename for i in manifests[:10])
        raise InvalidUpload(
            "The zip must hold exactly one CSV, JSON or JSONL file naming its media files"
            + (f"; it holds {len(manifests)}: {names}." if manifests else "; it holds none.")
        )
    ratio: int = settings.MEDIA_MAX_COMPRESSION_RATIO
    declared = 0
    for info in files:
        if manifests and info is manifests[0]:
            continue  # its size is bounded while it is read, like any item upload
        declared += info.file_size
        if info.file_size > _RATIO_FLOOR_BYTES and info.file_size > ratio * max(
            info.compress_size, 1
        ):
            problems.append(
                FileProblem(
                    info.filename,
                    "zip_bomb",
                    f"expands {info.file_size // max(info.compress_size, 1):,} times "
                    f"(more than {ratio} is refused)",
                )
            )
    if declared > settings.MEDIA_MAX_UNPACKED_BYTES:
        raise InvalidUpload(
            f"The zip unpacks to {declared:,} bytes, more than the limit of "
            f"{settings.MEDIA_MAX_UNPACKED_BYTES:,}."
        )
    if problems:
        raise problems_error(problems[:MAX_LISTED_PROBLEMS], len(problems))
    manifest = manifests[0]
    folder = posixpath.dirname(manifest.filename)
    return Archive(
        zip=archive,
        manifest=manifest,
        manifest_format=MANIFEST_FORMATS[posixpath.splitext(manifest.filename)[1].lower()],
        members={i.filename: i for i in files if i is not manifest},
        base=f"{folder}/" if folder else "",
        spool=spool,
    )
