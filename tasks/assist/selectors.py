"""The assist report (`GET /api/v1/bundles/{id}/assist/`, DESIGN.md "The closed loop")."""

from __future__ import annotations

from typing import Any

from django.db.models import Avg, Count, Q

from tasks.models import AssistModelVersion, Bundle, ItemResult, ItemState

from .audit import audit_figures
from .prior import auto_accept_on


def assist_report(bundle: Bundle) -> dict[str, Any]:
    """Model version and held-out accuracy, the learning curve (one point per version),
    judgments bought per completed item next to the fixed overlap that would have been bought
    (`max_overlap`), the audit's disagreement and whether auto-accept is on ("on", "off", or
    "disabled" when the audit switched the model off)."""
    versions = list(
        AssistModelVersion.objects.filter(bundle=bundle)
        .order_by("version")
        .values("version", "kind", "trained_on", "predictions", "heldout_accuracy", "created_at")
    )
    latest = versions[-1] if versions else None
    done = ItemResult.objects.filter(
        item__bundle=bundle, item__is_gold=False, item__state=ItemState.COMPLETE
    ).aggregate(
        items=Count("id"),
        judgments=Avg("judgments"),
        model=Count("id", filter=Q(provenance="model")),
        model_human=Count("id", filter=Q(provenance="model+human")),
    )
    audit = audit_figures(bundle.pk)
    status = bundle.assist_status or {}
    auto = "disabled" if status.get("model_off") else "on" if auto_accept_on(bundle) else "off"
    return {
        "assist": bundle.assist,
        "model_version": latest["version"] if latest else None,
        "heldout_accuracy": latest["heldout_accuracy"] if latest else None,
        "learning_curve": [
            {
                "version": v["version"],
                "kind": v["kind"],
                "labels": v["trained_on"],
                "predictions": v["predictions"],
                "heldout_accuracy": v["heldout_accuracy"],
                "created_at": v["created_at"],
            }
            for v in versions
        ],
        "completed_items": done["items"],
        "judgments_per_item": round(float(done["judgments"]), 4) if done["items"] else None,
        "fixed_overlap_equivalent": bundle.max_overlap,
        "provenance": {
            "model": done["model"],
            "model+human": done["model_human"],
            "human": done["items"] - done["model"] - done["model_human"],
        },
        "audited_items": audit.audited,
        "audit_disagreement": audit.rate,
        "auto_accept": auto,
        "model_off_reason": status.get("model_off_reason"),
        "last_error": status.get("last_error"),
    }
