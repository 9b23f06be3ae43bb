"""The OpenAPI description of an items upload sent as a JSON array: the item fields and bounds
that `tasks.ingest` enforces, read from the same constants and settings."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from tasks.ingest.parsing import EXTERNAL_ID_MAX_LENGTH


def item_upload_json_schema() -> dict[str, Any]:
    """A JSON array of `{external_id, payload, gold}`; `payload`'s limit is in serialised bytes,
    which JSON Schema cannot state, so it is written in the description."""
    limit: int = settings.ITEM_PAYLOAD_MAX_BYTES
    return {
        "type": "array",
        "minItems": 1,
        "items": {
            "type": "object",
            "properties": {
                "external_id": {
                    "oneOf": [
                        {"type": "string", "maxLength": EXTERNAL_ID_MAX_LENGTH},
                        {"type": "number"},
                    ]
                },
                "payload": {
                    "type": "object",
                    "additionalProperties": True,
                    "description": f"The item's data: at most {limit} bytes as JSON "
                    "(ITEM_PAYLOAD_MAX_BYTES); a larger one is refused with `invalid_upload`, "
                    'the row in `row` and `"code": "payload_too_large"` in its `errors` entry.',
                    "x-max-json-bytes": limit,
                },
                "gold": {"description": "The gold answer, in the answer's shape (optional)."},
            },
            "required": ["payload"],
            "additionalProperties": False,
        },
    }
