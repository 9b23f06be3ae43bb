"""Decode Stripe's v1 wire format: form-encoded bodies with bracketed nested keys.

stripe-python flattens ``{"metadata": {"a": "1"}, "line_items": [{"quantity": 1}]}`` into
``metadata[a]=1&line_items[0][quantity]=1`` (and GET filters into the query string, e.g.
``created[gte]=...``). The fake must rebuild the nested structure to validate it and to
compare the parameters of two requests sent with the same idempotency key. Every leaf stays a
string, exactly as Stripe receives it; endpoints convert types themselves.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

_KEY_PART = re.compile(r"\[([^\[\]]*)\]")


class FormDecodeError(ValueError):
    """The body is not a consistent nested form (e.g. ``a=1&a[b]=2``)."""


def _split_key(key: str) -> list[str]:
    head, _, rest = key.partition("[")
    if not rest:
        return [head]
    parts = [head]
    tail = "[" + rest
    pos = 0
    for match in _KEY_PART.finditer(tail):
        if match.start() != pos:
            raise FormDecodeError(f"Invalid parameter name: {key}")
        parts.append(match.group(1))
        pos = match.end()
    if pos != len(tail):
        raise FormDecodeError(f"Invalid parameter name: {key}")
    return parts


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {key: _listify(value) for key, value in node.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


def decode_form(encoded: str) -> dict[str, Any]:
    """Return the nested parameters of a form-encoded body or query string.

    Dicts whose keys are all decimal indices become lists (``line_items[0]`` ...), and an
    empty index (``expand[]``) appends, so both of stripe-python's list encodings work.
    """
    root: dict[str, Any] = {}
    for raw_key, value in parse_qsl(encoded, keep_blank_values=True):
        parts = _split_key(raw_key)
        node = root
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            if part == "" and depth > 0:
                part = str(len(node))
            if last:
                if isinstance(node.get(part), dict):
                    raise FormDecodeError(f"Invalid parameter name: {raw_key}")
                node[part] = value
            else:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise FormDecodeError(f"Invalid parameter name: {raw_key}")
                node = child
    return _listify(root)
