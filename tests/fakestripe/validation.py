"""Stripe's error shape, parameter validation and list pagination for the fake.

Kept apart from the resources so every endpoint validates and fails the same way Stripe does:
``{"error": {"type", "code", "message", "param", ...}}`` with the HTTP status that makes
stripe-python raise its matching exception class.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

API_VERSION = "2026-10-28.endive"
DOC_URL = "https://docs.stripe.com/error-codes"

Obj = dict[str, Any]
Params = dict[str, Any]


class ApiError(Exception):
    """An error response. ``store`` says whether the idempotency layer remembers it.

    Stripe stores a key's outcome only once the endpoint started executing: validation errors
    (bad or missing parameters, unknown ids) are not stored and may be retried with the same
    key; business outcomes decided while executing (a decline, insufficient balance) are.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        store: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.store = store
        self.extra = extra or {}

    def body(self, request_id: str) -> Obj:
        error: Obj = {"type": self.type, "message": self.message}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"{DOC_URL}#{self.code.replace('_', '-')}"
        if self.param:
            error["param"] = self.param
        error["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
        error.update(self.extra)
        return {"error": error}


def missing(param: str) -> ApiError:
    return ApiError(400, f"Missing required param: {param}.", code="parameter_missing", param=param)


def no_such(kind: str, object_id: str, param: str = "id", status: int = 404) -> ApiError:
    return ApiError(status, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)


def balance_insufficient() -> ApiError:
    return ApiError(
        400,
        "You have insufficient available funds in your Stripe account. Try adding funds "
        "directly to your available balance by creating Charges using the 4000000000000077 "
        "test card. See: https://stripe.com/docs/testing#available-balance",
        code="balance_insufficient",
        store=True,
    )


def card_declined() -> ApiError:
    return ApiError(
        402,
        "Your card was declined.",
        type="card_error",
        code="card_declined",
        store=True,
        extra={"decline_code": "generic_decline"},
    )


def string_param(params: Params, name: str, *, required: bool = False) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise missing(name)
        return None
    if not isinstance(value, str):
        raise ApiError(400, f"Invalid string: {name}", code="parameter_invalid_string", param=name)
    return value


def int_param(value: Any, name: str, *, minimum: int | None = None) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ApiError(
            400, f"Invalid integer: {value}", code="parameter_invalid_integer", param=name
        ) from None
    if minimum is not None and number < minimum:
        raise ApiError(
            400,
            f"This value must be greater than or equal to {minimum}.",
            code="parameter_invalid_integer",
            param=name,
        )
    return number


def bool_param(value: Any, name: str) -> bool:
    if value in ("true", True):
        return True
    if value in ("false", False):
        return False
    raise ApiError(400, f"Invalid boolean: {value}", code="parameter_invalid_boolean", param=name)


def currency_param(params: Params) -> str:
    currency = (string_param(params, "currency", required=True) or "").lower()
    if len(currency) != 3 or not currency.isalpha():
        raise ApiError(400, f"Invalid currency: {currency}", param="currency")
    return currency


def metadata_param(params: Params, existing: dict[str, str] | None = None) -> dict[str, str]:
    """Merge ``metadata[...]`` like Stripe: an empty value deletes the key; at most 50 keys."""
    result = dict(existing or {})
    raw = params.get("metadata")
    if raw is None or raw == "":
        return result
    if not isinstance(raw, dict):
        raise ApiError(400, "Invalid object", param="metadata")
    for key, value in raw.items():
        if not isinstance(value, str):
            raise ApiError(400, "Invalid metadata value", param=f"metadata[{key}]")
        if value == "":
            result.pop(key, None)
        else:
            result[key] = value
    if len(result) > 50:
        raise ApiError(400, "Metadata can have at most 50 keys.", param="metadata")
    return result


def created_filter(params: Params) -> Callable[[int], bool]:
    """``created=<ts>`` or ``created[gt|gte|lt|lte]=<ts>`` as a predicate."""
    raw = params.get("created")
    if raw is None:
        return lambda _ts: True
    if isinstance(raw, str):
        exact = int_param(raw, "created")
        return lambda ts: ts == exact
    if not isinstance(raw, dict):
        raise ApiError(400, "Invalid created filter", param="created")
    bounds = {op: int_param(v, f"created[{op}]") for op, v in raw.items()}
    unknown = set(bounds) - {"gt", "gte", "lt", "lte"}
    if unknown:
        raise ApiError(400, f"Received unknown parameter: created[{unknown.pop()}]")

    def check(ts: int) -> bool:
        return (
            ("gt" not in bounds or ts > bounds["gt"])
            and ("gte" not in bounds or ts >= bounds["gte"])
            and ("lt" not in bounds or ts < bounds["lt"])
            and ("lte" not in bounds or ts <= bounds["lte"])
        )

    return check


def paginate(items: list[Obj], params: Params, url: str, kind: str) -> Obj:
    """Build a Stripe list object from ``items`` (already newest first and filtered)."""
    limit = int_param(params.get("limit", 10), "limit", minimum=1)
    if limit > 100:
        raise ApiError(400, "This value must be less than or equal to 100.", param="limit")
    after = string_param(params, "starting_after")
    before = string_param(params, "ending_before")
    ids = [item["id"] for item in items]
    if after is not None:
        if after not in ids:
            raise no_such(kind, after, param="starting_after", status=400)
        start = ids.index(after) + 1
        page = items[start : start + limit]
        has_more = start + limit < len(items)
    elif before is not None:
        if before not in ids:
            raise no_such(kind, before, param="ending_before", status=400)
        end = ids.index(before)
        page = items[max(0, end - limit) : end]
        has_more = end - limit > 0
    else:
        page = items[:limit]
        has_more = len(items) > limit
    return {"object": "list", "data": page, "has_more": has_more, "url": url}


def stripe_card_fee(amount: int, currency: str) -> int:
    """Stripe's standard US card pricing: 2.9% + 30 (minor units), half-up rounding."""
    return (amount * 29 + 500) // 1000 + 30
