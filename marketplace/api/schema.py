"""OpenAPI post-processing: what every operation shares, written once instead of per view.

- Every error is `{"code", "detail", ...}` (marketplace.api.errors), so each operation lists
  the 4xx it can answer with that shape: 400 for writes and for lists with filters, 401/403
  unless the operation allows anyone, 404 where a path names an object, 409 for writes to an
  object (its state may refuse them), 413 for bodies over the limit, 429 where a throttle
  applies; 402, 502 and 503 where money or Stripe is involved (the sets below).
- An operation taking `?format=csv` also answers `text/csv`.
"""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "code": {"type": "string", "description": "stable machine code, e.g. `invalid`"},
        "detail": {"type": "string"},
        "errors": {
            "oneOf": [
                {"type": "object", "additionalProperties": True},
                {"type": "array", "items": {"type": "object", "additionalProperties": True}},
            ],
            "description": "per field (an object) on `invalid`; per row (a list) on "
            "`invalid_upload`",
        },
    },
    "required": ["code", "detail"],
    "additionalProperties": True,
}
_REF = {"$ref": "#/components/schemas/Error"}
_TEXT = {
    "400": "Invalid input (`code` says why).",
    "401": "Not signed in.",
    "403": "Signed in without the permission this needs.",
    "404": "Not found, or not yours (existence is never confirmed); on a list, no such page.",
    "402": "The requester's balance does not cover it, or they are in debt (`code` says which).",
    "409": "Refused in the object's current state (`code` says why, e.g. `invalid_transition`).",
    "413": "Request body too large.",
    "415": "Not a format this upload takes (`unsupported_format`).",
    "429": "Throttled.",
    "502": "Stripe refused the request.",
    "503": "Stripe is not answering (or not configured); try again.",
}
# Beyond the rules by shape (below), what particular operations answer (found by fuzzing them).
_API = "/api/v1/"
PAYMENT_REQUIRED = {  # they reserve or spend a requester's money
    ("post", _API + "bundles/{id}/publish/"),
    ("post", _API + "bundles/{id}/items/"),
    ("post", _API + "bundles/{id}/resume/"),
    ("post", _API + "bonuses/"),
}
CONFLICTS = {  # collection writes refused by the caller's state (no balance, no account...)
    ("post", _API + "topups/"),  # a client_token reused for a different top-up
    ("post", _API + "work/payouts/"),
    ("post", _API + "work/payout-account/"),
}
NAMES_OBJECTS_IN_BODY = {  # a 404 for an object named in the body, not in the path
    ("post", _API + "bonuses/"),
    ("post", _API + "appeals/"),  # the rejected answer or the block appealed
    ("post", _API + "blocks/"),  # the worker (and bundle) blocked
    ("post", _API + "reports/"),  # the bundle reported
    ("post", _API + "threads/"),  # the bundle asked about
}
UPLOADS = {("post", _API + "bundles/{id}/items/")}  # a file of an unknown format: 415
CALLS_STRIPE = {("post", _API + "topups/"), ("post", _API + "work/payout-account/")}


def _error(code: str) -> dict[str, Any]:
    return {"description": _TEXT[code], "content": {"application/json": {"schema": _REF}}}


def _takes_csv(operation: dict[str, Any]) -> bool:
    for parameter in operation.get("parameters", []):
        if parameter.get("name") == "format" and "csv" in parameter.get("schema", {}).get(
            "enum", []
        ):
            return True
    return False


WRITES = ("post", "put", "patch", "delete")


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool):
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            codes = (
                ["400"] if method in ("post", "put", "patch") or operation.get("parameters") else []
            )
            if method in ("post", "put", "patch"):
                codes.append("413")
            if operation.get("security") != [{}] and not _allows_anyone(operation):
                codes += ["401", "403"]
            paged = any(p.get("name") == "page" for p in operation.get("parameters", []))
            if "{" in path or (method, path) in NAMES_OBJECTS_IN_BODY or paged:
                codes.append("404")
            if (method, path) in PAYMENT_REQUIRED:
                codes.append("402")
            if method in WRITES and "{" in path or (method, path) in CONFLICTS:
                codes.append("409")
            if (method, path) in UPLOADS:
                codes.append("415")
            if (method, path) in CALLS_STRIPE:
                codes += ["502", "503"]
            if path.endswith("/auth/token/"):
                codes.append("429")
            for code in codes:
                responses.setdefault(code, _error(code))
            ok = responses.get("200")
            if ok is not None and _takes_csv(operation):
                ok.setdefault("content", {}).setdefault("text/csv", {"schema": {"type": "string"}})
    return result


def _allows_anyone(operation: dict[str, Any]) -> bool:
    return {} in operation.get("security", [])
