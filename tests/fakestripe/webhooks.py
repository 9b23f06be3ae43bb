"""Webhook signing and delivery with Stripe's real scheme.

Stripe signs ``f"{t}.{payload}"`` with HMAC-SHA256 under the endpoint secret and sends
``Stripe-Signature: t=<unix time>,v1=<hex digest>``; receivers check the digest and that ``t``
is within a tolerance (stripe-python: 300 s). Producing the exact bytes plus header lets a test
post them with Django's test client, and ``deliver`` posts them to a live server.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """Return a valid ``Stripe-Signature`` header for ``payload``."""
    t = int(time.time()) if timestamp is None else timestamp
    signed = f"{t}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def encode_event(event: dict[str, Any]) -> bytes:
    """Serialise an event the way Stripe sends it (pretty-printed JSON, UTF-8)."""
    return json.dumps(event, indent=2).encode()


@dataclass(frozen=True)
class SignedPayload:
    """An event body and its ``Stripe-Signature`` header, ready to post.

    With Django's test client::

        client.post(url, data=sp.payload, content_type="application/json", headers=sp.headers)
    """

    payload: bytes
    header: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Stripe-Signature": self.header}


@dataclass(frozen=True)
class Delivery:
    """One POST of an event to a webhook URL; ``status`` is None when it never got an answer."""

    event_id: str
    url: str
    status: int | None
    body: str


def post(url: str, signed: SignedPayload, *, timeout: float = 10.0) -> tuple[int | None, str]:
    """POST a signed event; return (status, start of the response body)."""
    request = urllib.request.Request(  # noqa: S310 - loopback URL chosen by the test
        url,
        data=signed.payload,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": signed.header,
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, response.read(500).decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(500).decode(errors="replace")
    except OSError as exc:
        return None, repr(exc)
