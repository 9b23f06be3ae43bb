"""The `assist` object a bundle opts into the closed loop with, validated and canonical."""

from __future__ import annotations

from typing import Any

from marketplace.errors import DomainError

#: Built-in model names; anything else with a dot is a requester's dotted path.
MODEL_NAMES = ("text", "embedding", "features", "external")
DEFAULTS: dict[str, Any] = {
    "model": "external",
    "auto_accept": False,
    "audit_rate": 0.05,
    "show_prelabels": False,
    "retrain_every": 200,
}
#: Above this share of audited items where people overrule the model, auto-accept turns off.
DEFAULT_AUDIT_LIMIT = 0.10


def assist_validate(value: Any) -> dict[str, Any] | None:
    """The canonical `assist` object (defaults filled in) or None to opt out; raises a
    DomainError (code `invalid_assist`) naming the bad key."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise DomainError("assist must be an object.", code="invalid_assist")
    unknown = set(value) - set(DEFAULTS) - {"audit_limit"}
    if unknown:
        raise DomainError(
            f"Unknown assist key(s): {', '.join(sorted(unknown))}.", code="invalid_assist"
        )
    clean = {**DEFAULTS, "audit_limit": DEFAULT_AUDIT_LIMIT, **value}
    model = clean["model"]
    if not isinstance(model, str) or not (model in MODEL_NAMES or "." in model.strip(".")):
        raise DomainError(
            "assist.model is text, embedding, features, external or a dotted path.",
            code="invalid_assist",
        )
    for key in ("auto_accept", "show_prelabels"):
        if not isinstance(clean[key], bool):
            raise DomainError(f"assist.{key} must be true or false.", code="invalid_assist")
    for key in ("audit_rate", "audit_limit"):
        rate = clean[key]
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
            raise DomainError(f"assist.{key} must be in [0, 1].", code="invalid_assist")
        clean[key] = float(rate)
    every = clean["retrain_every"]
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise DomainError("assist.retrain_every must be a positive integer.", code="invalid_assist")
    return clean


def overlap_validate(*, assist: dict[str, Any] | None, min_overlap: int | None) -> None:
    """`min_overlap` 0 (items may complete on the model alone) needs auto-accept."""
    if min_overlap == 0 and not (assist and assist.get("auto_accept")):
        raise DomainError(
            "min_overlap 0 needs an assist object with auto_accept.", code="invalid_overlap"
        )
