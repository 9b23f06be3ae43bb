"""The bundle's quality report (reads): rings with their evidence, the live estimates, and the
confidence calibration with its reliability diagram; served by `GET /api/v1/bundles/{id}/
quality/` and shown on the bundle page. Workers appear by the pseudonym their requester sees
(`tasks.selectors.worker_public_id`), never by user id. Two queries."""

from __future__ import annotations

from typing import Any

from tasks.models import Bundle, BundleQuality
from tasks.selectors import worker_public_id

from .calibration import STRATA


def _ece(rows: list[dict[str, Any]]) -> float | None:
    total = sum(r["n"] for r in rows)
    if not total:
        return None
    gaps = sum(r["n"] * abs(r["accuracy"] - r["confidence"]) for r in rows if r["n"])
    return round(gaps / total, 4)


def bundle_quality_report(bundle: Bundle) -> dict[str, Any]:
    """{"rings": [...], "estimates": {...}, "calibration": {...}} for the bundle's requester
    (or staff). A ring: id, members, pairs (a, b, shared, agreed, expected, p), shared items,
    observed and expected agreement, when found and updated, dismissed_at. Calibration: the
    method, gold replays per stratum, whether each stratum is calibrated, the reliability
    diagram (cross-fitted on gold) and its expected calibration error."""
    owner = bundle.requester_id

    def public(worker_id: int) -> str:
        return worker_public_id(owner, worker_id)

    rings = []
    for ring in bundle.rings.all():
        rings.append(
            {
                "id": ring.pk,
                "members": sorted(public(m) for m in ring.members),
                "pairs": [{**p, "a": public(p["a"]), "b": public(p["b"])} for p in ring.pairs],
                "shared_items": ring.shared_items,
                "observed_agreement": ring.observed_agreement,
                "expected_agreement": ring.expected_agreement,
                "created_at": ring.created_at,
                "updated_at": ring.updated_at,
                "dismissed_at": ring.dismissed_at,
            }
        )
    quality = BundleQuality.objects.filter(bundle=bundle).first()
    calibration = (quality.calibration if quality else {}) or {}
    diagram = (quality.reliability if quality else []) or []
    fitted = calibration.get("dawid_skene", {})
    return {
        "rings": rings,
        "estimates": {
            "estimated_at": quality.estimated_at if quality else None,
            "judgments": quality.estimated_judgments if quality else 0,
            "labelled_at": quality.labelled_at if quality else None,
        },
        "calibration": {
            "method": "isotonic regression on held-out gold, per unanimous and split votes",
            "samples": fitted.get("samples", {}),
            "calibrated": {s: s in fitted for s in STRATA},
            "reliability": diagram,
            "ece": _ece(diagram),
        },
    }
