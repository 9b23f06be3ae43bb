"""Model instances and Python values from the hot path's result rows.

The claim and submit paths know every value of the rows they wrote; they build the result
instances from those values (`loaded_instance`) instead of reading them back.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import User
from marketplace.db import loaded_instance
from tasks.models import Assignment, AssignmentStatus, Bundle, Item, ItemState


def json_value(value: Any) -> Any:
    """A JSON column as Python (SQLite returns the text, PostgreSQL the decoded value)."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def aware_datetime(value: Any) -> datetime:
    """A datetime column as an aware datetime (SQLite returns text)."""
    if isinstance(value, str):
        value = parse_datetime(value)
    return value if timezone.is_aware(value) else value.replace(tzinfo=UTC)


def claimed_assignment(
    bundle: Bundle,
    worker: User,
    assignment_id: int,
    item_id: int,
    payload: Any,
    *,
    is_gold: bool,
    now: datetime,
    deadline: datetime,
) -> Assignment:
    """A new claim as it now stands, with its item and bundle at hand (no query to read them)."""
    item = loaded_instance(
        Item,
        {"bundle": bundle},
        id=item_id,
        bundle_id=bundle.pk,
        payload=payload,
        is_gold=is_gold,
        state=ItemState.OPEN,
    )
    return loaded_instance(
        Assignment,
        {"bundle": bundle, "item": item, "worker": worker},
        id=assignment_id,
        bundle_id=bundle.pk,
        item_id=item_id,
        worker_id=worker.pk,
        status=AssignmentStatus.CLAIMED,
        is_gold=is_gold,
        claimed_at=now,
        deadline=deadline,
    )


def submitted_assignment(
    assignment_id: int,
    worker: User,
    bundle_id: int,
    item_id: int,
    clean: Any,
    is_gold: bool,
    gold_correct: bool | None,
    *,
    claimed_at: datetime,
    deadline: datetime,
    now: datetime,
    seconds: float,
    gold_score: float | None = None,
) -> Assignment:
    """A submitted assignment as the submission left it."""
    return loaded_instance(
        Assignment, {"worker": worker},
        id=assignment_id, bundle_id=bundle_id, item_id=item_id, worker_id=worker.pk,
        status=AssignmentStatus.SUBMITTED, is_gold=is_gold, answer=clean,
        gold_correct=gold_correct, gold_score=gold_score, claimed_at=claimed_at,
        deadline=deadline, submitted_at=now, seconds_spent=seconds,
    )  # fmt: skip
