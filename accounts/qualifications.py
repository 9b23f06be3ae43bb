"""Qualification requirements: validation of a requirement list and evaluation for a worker.

Requirements are plain data on a bundle (`{"qualification", "comparator", "value"|"values"}`),
named after MTurk's comparators so requesters moving over keep their habits. A name resolves to
the bundle owner's own qualification first, then to a system one.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from marketplace.errors import DomainError

from .models import Qualification, User, WorkerQualification

SYSTEM_QUALIFICATIONS = {
    "approval_rate": "Percent of reviewed assignments approved (100 before any review).",
    "approved_count": "Number of approved assignments.",
    "country": "The worker's country (ISO 3166-1 alpha-2); use In / NotIn / EqualTo.",
    # Self-declared by the worker (accounts.self_declared): integers, named like the others.
    "english_level": "English, as the worker declares it: 1 basic ... 4 native.",
    "education_level": "Highest education, as the worker declares it: 1 secondary ... 4 PhD.",
    "birth_year": "Year of birth, as the worker declares it.",
}

_NUMERIC: dict[str, Callable[[Any, Any], bool]] = {
    "LessThan": operator.lt,
    "LessThanOrEqualTo": operator.le,
    "GreaterThan": operator.gt,
    "GreaterThanOrEqualTo": operator.ge,
    "EqualTo": operator.eq,
    "NotEqualTo": operator.ne,
}
_SET = {"In", "NotIn"}
_EXISTENCE = {"Exists", "DoesNotExist"}
COMPARATORS = set(_NUMERIC) | _SET | _EXISTENCE


class InvalidRequirements(DomainError):
    code = "invalid_requirements"


@dataclass(frozen=True)
class Requirement:
    qualification: str
    comparator: str
    value: Any = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"qualification": self.qualification, "comparator": self.comparator}
        if self.comparator in _SET:
            data["values"] = list(self.value)
        elif self.comparator not in _EXISTENCE:
            data["value"] = self.value
        return data


def requirements_parse(raw: Any) -> list[Requirement]:
    """Validate a requirement list from a client; raises InvalidRequirements with the index."""
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        raise InvalidRequirements("requirements must be a list.")
    parsed = []
    for index, entry in enumerate(raw):
        where = f"requirements[{index}]"
        if not isinstance(entry, dict):
            raise InvalidRequirements(f"{where} must be an object.")
        name = entry.get("qualification")
        comparator = entry.get("comparator")
        if not isinstance(name, str) or not name:
            raise InvalidRequirements(f"{where}.qualification must be a name.")
        if comparator not in COMPARATORS:
            raise InvalidRequirements(
                f"{where}.comparator must be one of {', '.join(sorted(COMPARATORS))}."
            )
        value: Any = None
        if comparator in _SET:
            values = entry.get("values", entry.get("value"))
            if not isinstance(values, list) or not values:
                raise InvalidRequirements(f"{where}.values must be a non-empty list.")
            value = tuple(_coerce(name, v, where) for v in values)
        elif comparator in _NUMERIC:
            if "value" not in entry:
                raise InvalidRequirements(f"{where}.value is required.")
            value = _coerce(name, entry["value"], where)
        parsed.append(Requirement(name, comparator, value))
    return parsed


def requirements_check_known(raw: Any, *, owner_id: int) -> None:
    """Refuse requirements naming a qualification that is neither a system one nor one of the
    owner's: nobody could ever hold it, so the funded bundle could never be claimed."""
    names = {r.qualification for r in requirements_parse(raw)} - set(SYSTEM_QUALIFICATIONS)
    if not names:
        return
    known = set(
        Qualification.objects.filter(
            Q(owner_id=owner_id) | Q(owner__isnull=True), name__in=names
        ).values_list("name", flat=True)
    )
    missing = sorted(names - known)
    if missing:
        raise InvalidRequirements(
            f"Unknown qualification(s): {', '.join(missing)}.", code="unknown_qualification"
        )


def _coerce(name: str, value: Any, where: str) -> Any:
    if name == "country":
        if not isinstance(value, str) or len(value) != 2:
            raise InvalidRequirements(f"{where}: a country is a two-letter code.")
        return value.upper()
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequirements(f"{where}: qualification values are integers.")
    return value


def worker_qualification_values(worker: User, owner_ids: Iterable[int]) -> dict[str, dict]:
    """The worker's values: `{"system": {...}, owner_id: {name: value}}`, in two queries."""
    profile = getattr(worker, "worker_profile", None)
    values: dict[Any, dict[str, Any]] = {
        "system": {
            "approval_rate": profile.approval_rate if profile else None,
            "approved_count": profile.approved_count if profile else None,
            "country": (profile.country or None) if profile else None,
        }
    }
    grants = WorkerQualification.objects.filter(worker=worker).select_related("qualification")
    owners = set(owner_ids)
    for grant in grants:
        owner = grant.qualification.owner_id
        if owner is None:
            values["system"].setdefault(grant.qualification.name, grant.value)
        elif owner in owners:
            values.setdefault(owner, {})[grant.qualification.name] = grant.value
    return values


def requirement_failures(
    requirements: list[Requirement], values: dict[Any, dict[str, Any]], owner_id: int
) -> list[str]:
    """Human reasons the worker does not meet the requirements; empty when they do."""
    failures = []
    own = values.get(owner_id, {})
    system = values["system"]
    for req in requirements:
        have = own.get(req.qualification, system.get(req.qualification))
        if req.comparator == "Exists":
            ok = have is not None
        elif req.comparator == "DoesNotExist":
            ok = have is None
        elif have is None:
            ok = False
        elif req.comparator in _SET:
            ok = (have in req.value) == (req.comparator == "In")
        else:
            ok = _NUMERIC[req.comparator](have, req.value)
        if not ok:
            failures.append(requirement_text(req))
    return failures


# How each comparator reads after the qualification's name ("Requires country is DE").
_WORDS = {
    "LessThan": "below",
    "LessThanOrEqualTo": "at most",
    "GreaterThan": "above",
    "GreaterThanOrEqualTo": "at least",
    "EqualTo": "is",
    "NotEqualTo": "is not",
}


def requirement_text(req: Requirement) -> str:
    """A requirement as a phrase a worker reads: "country is one of DE, FR", "approval rate
    at least 95", "the exam qualification" (never "country In DE")."""
    name = req.qualification.replace("_", " ")
    if req.comparator == "Exists":
        return f"the {name} qualification"
    if req.comparator == "DoesNotExist":
        return f"no {name} qualification"
    if req.comparator in _SET:
        values = list(req.value or [])
        negate = req.comparator == "NotIn"
        if len(values) == 1:
            return f"{name} is {'not ' if negate else ''}{values[0]}"
        return f"{name} is {'none' if negate else 'one'} of {', '.join(map(str, values))}"
    return f"{name} {_WORDS[req.comparator]} {req.value}"
