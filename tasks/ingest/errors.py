"""The errors an upload can end with (stable codes the API returns)."""

from __future__ import annotations

from marketplace.errors import DomainError


class InvalidUpload(DomainError):
    code = "invalid_upload"
    http_status = 400


class UploadTooLarge(DomainError):
    code = "upload_too_large"
    http_status = 413


class UnsupportedFormat(DomainError):
    code = "unsupported_format"
    http_status = 415


def too_large(limit: int) -> UploadTooLarge:
    return UploadTooLarge(
        f"The upload is larger than the limit of {_human_bytes(limit)}; split it into several "
        "uploads.",
        limit_bytes=limit,
    )


def _human_bytes(n: int) -> str:
    return f"{n / (1 << 20):.4g} MiB" if n >= 1 << 20 else f"{n} bytes"
