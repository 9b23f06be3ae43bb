"""What an uploaded media file is: its type read from its bytes, an image's size read with Pillow.

A file's name and the client's content type are never trusted: a PNG named `.jpg` is a PNG, and
an HTML page named `.png` is refused. Allowed types, the size per file and the pixel count are
settings (`MEDIA_IMAGE_TYPES`, `MEDIA_AUDIO_TYPES`, `MEDIA_MAX_FILE_BYTES`, `MEDIA_MAX_PIXELS`).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from django.conf import settings
from PIL import Image, UnidentifiedImageError

# Pillow format -> (our type name, content type, file extension)
_IMAGES = {
    "PNG": ("png", "image/png", ".png"),
    "JPEG": ("jpeg", "image/jpeg", ".jpg"),
    "WEBP": ("webp", "image/webp", ".webp"),
    "GIF": ("gif", "image/gif", ".gif"),
}
_AUDIO = {
    "mp3": ("audio/mpeg", ".mp3"),
    "wav": ("audio/wav", ".wav"),
    "ogg": ("audio/ogg", ".ogg"),
}
# EXIF orientations that turn the picture a quarter: browsers show such a JPEG rotated, so its
# displayed width and height (the ones workers draw in) are swapped.
_QUARTER_TURNS = frozenset((5, 6, 7, 8))
_EXIF_ORIENTATION = 0x0112


class MediaRefused(Exception):
    """A file that may not be stored, with a stable code for the per-file error list."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


@dataclass(frozen=True)
class MediaInfo:
    kind: str  # "image" or "audio"
    type: str  # png, jpeg, webp, gif, mp3, wav, ogg
    content_type: str
    extension: str
    width: int | None = None
    height: int | None = None

    def entry(self, key: str) -> dict[str, object]:
        """The `_media` entry of a stored file (the contract in tasks.annotation.base)."""
        if self.kind == "audio":
            return {"key": key, "content_type": self.content_type}
        return {
            "key": key,
            "width": self.width,
            "height": self.height,
            "content_type": self.content_type,
        }


def media_inspect(data: bytes, *, audio_allowed: bool = False) -> MediaInfo:
    """Identify an uploaded file or raise MediaRefused (too large, a type not allowed, an image
    Pillow cannot read, too many pixels). `audio_allowed`: the field takes audio (a
    transcription question's media field)."""
    limit: int = settings.MEDIA_MAX_FILE_BYTES
    if len(data) > limit:
        raise MediaRefused("media_too_large", f"is larger than the limit of {_mib(limit)}")
    audio = _audio_type(data)
    if audio is not None:
        if not audio_allowed:
            raise MediaRefused(
                "media_type_not_allowed",
                f"is {audio} audio; audio is accepted only in a transcription question's "
                "media field",
            )
        if audio not in settings.MEDIA_AUDIO_TYPES:
            raise MediaRefused("media_type_not_allowed", f"is {audio} audio, not allowed here")
        content_type, extension = _AUDIO[audio]
        return MediaInfo("audio", audio, content_type, extension)
    return _image_info(data, audio_allowed=audio_allowed)


def _image_info(data: bytes, *, audio_allowed: bool) -> MediaInfo:
    allowed = [t for t in settings.MEDIA_IMAGE_TYPES if t in {v[0] for v in _IMAGES.values()}]
    wanted = f"{', '.join(allowed)} image"
    if audio_allowed:
        wanted += f" or {', '.join(settings.MEDIA_AUDIO_TYPES)} audio"
    try:
        with warnings.catch_warnings():
            # Pillow warns past its own pixel limit; ours (MEDIA_MAX_PIXELS) is checked below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                fmt = image.format or ""
                width, height = image.size
                orientation = image.getexif().get(_EXIF_ORIENTATION) if fmt == "JPEG" else None
                if fmt in _IMAGES and width * height <= settings.MEDIA_MAX_PIXELS:
                    image.verify()  # structure and checksums, without decoding every pixel
    except Image.DecompressionBombError:
        raise MediaRefused("media_too_many_pixels", "has too many pixels") from None
    except UnidentifiedImageError:
        raise MediaRefused("media_type_not_allowed", f"is not a {wanted}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise MediaRefused("media_unreadable", f"is a damaged image ({exc})") from None
    if fmt not in _IMAGES or _IMAGES[fmt][0] not in allowed:
        what = fmt or "unknown"
        raise MediaRefused("media_type_not_allowed", f"is a {what} file, not a {wanted}")
    if width * height > settings.MEDIA_MAX_PIXELS:
        raise MediaRefused(
            "media_too_many_pixels",
            f"has {width}x{height} pixels, more than the limit of {settings.MEDIA_MAX_PIXELS:,}",
        )
    if orientation in _QUARTER_TURNS:
        width, height = height, width
    name, content_type, extension = _IMAGES[fmt]
    return MediaInfo("image", name, content_type, extension, width, height)


def _audio_type(data: bytes) -> str | None:
    head = data[:12]
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3"
    return None


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.4g} MiB" if n >= 1 << 20 else f"{n} bytes"
