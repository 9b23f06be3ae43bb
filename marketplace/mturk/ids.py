"""MTurk-looking ids: random 30-character strings for what we store (HITs, HIT types,
qualification types and requests); assignments are the domain's rows, named by their key."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_uppercase + string.digits
ASSIGNMENT_PREFIX = "A"
ASSIGNMENT_WIDTH = 29


def new_id(first: str = "3") -> str:
    return first + "".join(secrets.choice(_ALPHABET) for _ in range(29))


def assignment_text(pk: int) -> str:
    """An assignment's MTurk AssignmentId: "A" and its key, 30 characters."""
    return f"{ASSIGNMENT_PREFIX}{pk:0{ASSIGNMENT_WIDTH}d}"


def assignment_pk(text: str) -> int | None:
    """The key behind an AssignmentId, or None for anything we did not issue."""
    digits = text[1:] if text.startswith(ASSIGNMENT_PREFIX) else ""
    if len(digits) != ASSIGNMENT_WIDTH or not digits.isdigit():
        return None
    return int(digits)
