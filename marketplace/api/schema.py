"""OpenAPI post-processing: what every operation shares, written once instead of per view.

- Every error is `{"code", "detail", ...}` (marketplace.api.errors), so each operation lists
  the 4xx it can answer with that shape: 400 for writes and for lists with filters, 401/403
  unless the operation allows anyone, 404 where a path names an object, 413 for bodies over
  the limit, 429 where a throttle applies.
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
            "type": "object",
            "additionalProperties": True,
            "description": "per field, on `invalid`",
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
    "404": "Not found, or not yours (existence is never confirmed).",
    "413": "Request body too large.",
    "429": "Throttled.",
}


def _error(code: str) -> dict[str, Any]:
    return {"description": _TEXT[code], "content": {"application/json": {"schema": _REF}}}


def _takes_csv(operation: dict[str, Any]) -> bool:
    for parameter in operation.get("parameters", []):
        if parameter.get("name") == "format" and "csv" in parameter.get("schema", {}).get(
            "enum", []
        ):
            return True
    return False


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
            if "{" in path:
                codes.append("404")
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
