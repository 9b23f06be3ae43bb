"""Self-declared qualifications: what a worker says about themselves (country, English level,
education, birth year) for requesters to target, as on Prolific's prescreeners. They are
platform (system) qualifications with integer values, so requirements name them like any
other ("english_level GreaterThanOrEqualTo 3"); the worker sets and clears them, nobody else,
and pages mark them as declared, not checked."""

from __future__ import annotations

import re

from django.db import transaction

from marketplace.errors import DomainError

from .models import Qualification, User, WorkerProfile, WorkerQualification

# name -> (description, allowed values with their labels; None: any integer in `BOUNDS`)
SELF_DECLARED: dict[str, tuple[str, dict[int, str] | None]] = {
    "english_level": (
        "English, as the worker declares it: 1 basic, 2 conversational, 3 fluent, 4 native.",
        {1: "Basic", 2: "Conversational", 3: "Fluent", 4: "Native"},
    ),
    "education_level": (
        "Highest education, as the worker declares it: 1 secondary school, 2 bachelor's "
        "degree, 3 master's degree, 4 doctorate.",
        {1: "Secondary school", 2: "Bachelor's degree", 3: "Master's degree", 4: "Doctorate"},
    ),
    "birth_year": ("Year of birth, as the worker declares it (for age requirements).", None),
}
BOUNDS = {"birth_year": (1900, 2020)}
_COUNTRY = re.compile(r"^[A-Z]{2}$")


class InvalidDeclaration(DomainError):
    code = "invalid_declaration"


def declared_values(worker: User) -> dict[str, int]:
    """The worker's self-declared qualifications: {name: value} (one query)."""
    rows = WorkerQualification.objects.filter(
        worker=worker, qualification__owner__isnull=True, qualification__name__in=SELF_DECLARED
    ).values_list("qualification__name", "value")
    return dict(rows)


@transaction.atomic
def worker_declare(*, worker: User, country: str, values: dict[str, int | None]) -> None:
    """Set the worker's country and self-declared qualifications; None clears one. Each value
    is checked against its allowed range, so requirements compare like with like."""
    profile = WorkerProfile.objects.select_for_update().filter(user=worker).first()
    if profile is None:
        raise DomainError("That user is not a worker.", code="not_a_worker")
    country = (country or "").strip().upper()
    if country and not _COUNTRY.match(country):
        raise InvalidDeclaration("A country is a two-letter code, such as DE or US.")
    unknown = set(values) - set(SELF_DECLARED)
    if unknown:
        raise InvalidDeclaration(
            f"Not a self-declared qualification: {', '.join(sorted(unknown))}."
        )
    for name, value in values.items():
        _check(name, value)
    WorkerProfile.objects.filter(pk=profile.pk).update(country=country)
    for name, value in values.items():
        description = SELF_DECLARED[name][0]
        qualification, _ = Qualification.objects.get_or_create(
            name=name, owner=None, defaults={"description": description, "is_system": True}
        )
        if value is None:
            WorkerQualification.objects.filter(worker=worker, qualification=qualification).delete()
        else:
            WorkerQualification.objects.update_or_create(
                worker=worker,
                qualification=qualification,
                defaults={"value": value, "granted_by": worker},
            )


def _check(name: str, value: int | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidDeclaration(f"{name} is a whole number.")
    allowed = SELF_DECLARED[name][1]
    low, high = BOUNDS.get(name, (min(allowed or [0]), max(allowed or [0])))
    if (allowed is not None and value not in allowed) or not low <= value <= high:
        raise InvalidDeclaration(f"{name} must be between {low} and {high}.")
