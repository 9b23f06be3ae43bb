"""A zip written as a stream of byte chunks (nothing held but the current member).

`zipfile` writes to a sink that cannot seek by using data descriptors, so each member's bytes
can be handed to the response as soon as they are written.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Iterator
from typing import Any

from django.utils import timezone

from tasks.media import media_open

#: (name in the zip, bytes or text) or (name, None, storage key) for a stored media file.
Member = tuple[str, bytes | str | None, str | None]


class _Sink(io.RawIOBase):
    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.offset = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.parts.append(chunk)
        self.offset += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self.offset

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


def zip_stream(members: Iterable[Member]) -> Iterator[bytes]:
    """The zip of `members`, chunk by chunk. Stored media are read from storage one at a time
    (each is at most MEDIA_MAX_FILE_BYTES) and deflated lightly: every member is deflated, as
    readers that stream a zip (Java's ZipInputStream) refuse stored members with descriptors."""
    sink = _Sink()
    stamp = timezone.now().timetuple()[:6]
    with zipfile.ZipFile(sink, "w") as archive:
        for name, content, storage_key in members:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            if storage_key is not None:
                with media_open(storage_key) as source:
                    data = source.read()
                archive.writestr(info, data, compresslevel=1)
            else:
                data = content.encode() if isinstance(content, str) else (content or b"")
                archive.writestr(info, data, compresslevel=6)
            yield sink.take()
    yield sink.take()
