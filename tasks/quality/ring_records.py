"""Writes of what a whole-bundle run found about rings and confidence: the `WorkerRing` rows
(the evidence the requester and admin read), the bundle's `BundleQuality` (calibration maps,
reliability diagram, the rings in force for the per-item decision), and a ring's dismissal.

Rings are kept in step with the latest run: a ring found again (same members) is updated, a
new member set is a new row, and an undismissed ring the data no longer shows is removed (its
members are no longer down-weighted). Dismissed rings stay as history, and their member set is
never applied again.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from marketplace.errors import Conflict, Forbidden
from tasks.models import BundleQuality, WorkerRing

from .rings import Ring


def dismissed_member_sets(bundle_id: int) -> list[frozenset[int]]:
    """Member sets (worker ids) of the bundle's dismissed rings."""
    rows = WorkerRing.objects.filter(bundle_id=bundle_id, dismissed_at__isnull=False)
    return [frozenset(m) for m in rows.values_list("members", flat=True)]


def _evidence(ring: Ring, worker_ids: np.ndarray) -> dict[str, Any]:
    ids = worker_ids.tolist()
    return {
        "members": sorted(int(ids[m]) for m in ring.members),
        "pairs": [
            {
                "a": int(ids[p.a]),
                "b": int(ids[p.b]),
                "shared": p.shared,
                "agreed": p.agreed,
                "expected": round(p.expected, 4),
                "p": float(f"{p.p:.3g}"),
            }
            for p in ring.pairs
        ],  # fmt: skip
        "shared_items": ring.shared,
        "observed_agreement": round(ring.observed, 4),
        "expected_agreement": round(ring.expected, 4),
    }


def quality_store(
    *,
    bundle_id: int,
    worker_ids: np.ndarray,
    rings: list[Ring],
    calibration: dict[str, Any] | None,
    reliability: list[dict[str, Any]] | None,
    judgments: int,
) -> None:
    """Store one run's rings and calibration (inside the caller's transaction)."""
    live = {
        frozenset(r.members): r
        for r in WorkerRing.objects.filter(bundle_id=bundle_id, dismissed_at__isnull=True)
    }
    in_force: dict[str, int] = {}
    seen = set()
    for ring in rings:
        evidence = _evidence(ring, worker_ids)
        key = frozenset(evidence["members"])
        seen.add(key)
        row = live.get(key)
        if row is None:
            row = WorkerRing.objects.create(bundle_id=bundle_id, **evidence)
        else:
            for name, value in evidence.items():
                setattr(row, name, value)
            row.save()
        for member in evidence["members"]:
            in_force[str(member)] = row.pk
    stale = [row.pk for key, row in live.items() if key not in seen]
    WorkerRing.objects.filter(pk__in=stale).delete()
    fields: dict[str, Any] = {
        "ring_of_worker": in_force,
        "estimated_at": timezone.now(),
        "estimated_judgments": judgments,
    }
    if calibration is not None:
        fields["calibration"] = calibration
    if reliability is not None:
        fields["reliability"] = reliability
    BundleQuality.objects.update_or_create(bundle_id=bundle_id, defaults=fields)


@transaction.atomic
def ring_dismiss(*, ring_id: int, by: User) -> WorkerRing:
    """The requester of the bundle (or staff) says a flagged group is not a ring: it stops
    down-weighting its members now, and the next runs never apply that member set again."""
    ring = WorkerRing.objects.select_for_update().select_related("bundle").get(pk=ring_id)
    if not (by.is_staff or ring.bundle.requester_id == by.pk):
        raise Forbidden("Only the bundle's requester or an admin can dismiss this.")
    if ring.dismissed_at is not None:
        raise Conflict("This ring was already dismissed.")
    ring.dismissed_at = timezone.now()
    ring.dismissed_by = by
    ring.save(update_fields=["dismissed_at", "dismissed_by"])
    quality = BundleQuality.objects.select_for_update().filter(bundle_id=ring.bundle_id).first()
    if quality is not None:
        members = {str(m) for m in ring.members}
        quality.ring_of_worker = {
            w: r for w, r in quality.ring_of_worker.items() if w not in members
        }
        quality.save(update_fields=["ring_of_worker"])
    return ring
