"""AWS Signature Version 4 verification for service `mturk-requester`, as botocore signs.

The server rebuilds the canonical request from what it received (method, path, query, the
headers the client says it signed, the body's SHA-256), derives the signing key from the
stored secret and compares signatures in constant time. A request dated more than
`MAX_SKEW` away from our clock is refused, so a captured request cannot be replayed later.
Reference: AWS's "Create a signed AWS API request" (SigV4) and botocore.auth.SigV4Auth.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote

from django.http import HttpRequest

from .errors import MTurkRequestError
from .keys import access_key_active, secret_decrypt
from .models import AccessKey

SERVICE = "mturk-requester"
ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = timedelta(minutes=15)  # AWS's own window
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+)\s*,\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+)\s*,\s*Signature=(?P<signature>[0-9a-f]{64})\s*$"
)


def _refused(message: str, code: str) -> MTurkRequestError:
    return MTurkRequestError(message, f"AWS.MechanicalTurk.{code}")


@dataclass(frozen=True)
class Credential:
    access_key_id: str
    date: str
    region: str
    service: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


def _header(request: HttpRequest, name: str) -> str | None:
    if name == "content-type":
        return request.META.get("CONTENT_TYPE")
    if name == "content-length":
        return request.META.get("CONTENT_LENGTH")
    return request.META.get("HTTP_" + name.upper().replace("-", "_"))


def _canonical_path(path: str) -> str:
    # botocore signs the path as sent (percent-encoded once) encoded once more, keeping "/~".
    return quote(quote(path or "/", safe="/~"), safe="/~")


def _canonical_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    encoded = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


def canonical_request(request: HttpRequest, signed_headers: list[str], body: bytes) -> str:
    lines = []
    for name in signed_headers:
        value = _header(request, name)
        if value is None:
            raise _refused(f"The signed header {name} is missing.", "InvalidSignature")
        lines.append(f"{name}:{' '.join(value.split())}\n")
    return "\n".join(
        [
            request.method or "POST",
            _canonical_path(request.path),
            _canonical_query(request.META.get("QUERY_STRING", "")),
            "".join(lines),
            ";".join(signed_headers),
            hashlib.sha256(body).hexdigest(),
        ]
    )


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signature(secret: str, credential: Credential, amz_date: str, canonical: str) -> str:
    string_to_sign = "\n".join(
        [ALGORITHM, amz_date, credential.scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = _hmac(("AWS4" + secret).encode(), credential.date)
    for part in (credential.region, credential.service, "aws4_request"):
        key = _hmac(key, part)
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def _parse_authorization(header: str) -> tuple[Credential, list[str], str]:
    match = _AUTH.match(header.strip())
    if match is None:
        raise _refused("The Authorization header is not an AWS4-HMAC-SHA256 one.", "MissingAuth")
    parts = match["credential"].split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise _refused("The credential scope is malformed.", "InvalidSignature")
    credential = Credential(*parts[:4])
    signed = match["signed"].split(";")
    if signed != sorted(signed) or "host" not in signed:
        raise _refused("SignedHeaders must be sorted and include host.", "InvalidSignature")
    return credential, signed, match["signature"]


def verify(request: HttpRequest, body: bytes, *, now: datetime | None = None) -> AccessKey:
    """The requester's key whose secret signed this request, or MTurkRequestError."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header:
        raise _refused("The request is not signed (no Authorization header).", "MissingAuth")
    credential, signed, claimed = _parse_authorization(header)
    if credential.service != SERVICE:
        raise _refused(f"The credential's service must be {SERVICE}.", "InvalidSignature")
    amz_date = _header(request, "x-amz-date") or ""
    try:
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise _refused("X-Amz-Date is missing or malformed.", "InvalidSignature") from None
    if "x-amz-date" not in signed or amz_date[:8] != credential.date:
        raise _refused("X-Amz-Date must be signed and match the scope.", "InvalidSignature")
    now = now or datetime.now(UTC)
    if abs(now - signed_at) > MAX_SKEW:
        raise _refused(
            f"Signature expired: {amz_date} is more than 15 minutes from our time "
            f"{now.strftime('%Y%m%dT%H%M%SZ')}.",
            "SignatureExpired",
        )
    key = access_key_active(credential.access_key_id)
    secret = secret_decrypt(key.secret_encrypted) if key is not None else None
    if key is None or secret is None:
        raise _refused("The access key is unknown or revoked.", "InvalidAccessKey")
    expected = signature(secret, credential, amz_date, canonical_request(request, signed, body))
    if not hmac.compare_digest(expected, claimed):
        raise _refused(
            "The request signature we calculated does not match the signature you provided.",
            "InvalidSignature",
        )
    return key
