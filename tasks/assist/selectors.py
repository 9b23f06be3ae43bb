"""The assist report (`GET /api/v1/bundles/{id}/assist/`, DESIGN.md "The closed loop")."""

from __future__ import annotations

from typing import Any

from django.db.models import Avg, Count, Q, Sum

from tasks.models import (
    Assignment,
    AssignmentStatus,
    AssistModelVersion,
    Bundle,
    ItemResult,
    ItemState,
    Prediction,
    WorkerBundleStats,
)
from tasks.selectors import bundle_fees

from .audit import audit_figures
from .prior import (
    CONFIDENCE_RANGE,
    DEFAULT_TARGET_CONFIDENCE,
    assist_active,
    auto_accept_on,
    drawn_for_audit,
)


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
    switched_off = set(status.get("switched_off_versions", []))
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
                # the audit's verdict is per version (`tasks.assist.audit`)
                "switched_off": v["version"] in switched_off,
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
        "labels_per_dollar": labels_per_dollar(
            bundle, items=done["items"], judgments_per_item=done["judgments"]
        ),
    }


def labels_per_dollar(
    bundle: Bundle, *, items: int, judgments_per_item: float | None
) -> dict[str, Any]:
    """What the completed labels cost against what fixed overlap (`max_overlap` judgments an
    item) would have cost, with the accuracy figures they were bought at: the crowd's accuracy
    against gold, the model's held-out accuracy and the audit's agreement. Amounts are in
    minor units (a judgment costs its reward plus the fee)."""
    per_judgment = int(bundle_fees([bundle])[bundle.pk]["cost_per_judgment"])
    bought = round((judgments_per_item or 0.0) * items)
    spent = bought * per_judgment
    fixed = items * bundle.max_overlap * per_judgment
    gold = WorkerBundleStats.objects.filter(bundle=bundle).aggregate(
        seen=Sum("gold_seen"), correct=Sum("gold_correct")
    )
    audit = audit_figures(bundle.pk)
    return {
        "currency": bundle.currency,
        "cost_per_judgment": per_judgment,
        "labels": items,
        "judgments_bought": bought,
        "spent": spent,
        "fixed_overlap_judgments": items * bundle.max_overlap,
        "fixed_overlap_cost": fixed,
        "labels_per_dollar": round(items * 100 / spent, 3) if spent else None,
        "fixed_overlap_labels_per_dollar": round(items * 100 / fixed, 3) if fixed else None,
        "saved": fixed - spent,
        "crowd_gold_accuracy": (gold["correct"] / gold["seen"]) if gold["seen"] else None,
        "audit_agreement": (1 - audit.rate) if audit.rate is not None else None,
    }


def assignment_prelabel(assignment: Assignment) -> dict[str, Any] | None:
    """The model's prediction shown to the worker on a claimed task (`show_prelabels`, off by
    default because it anchors workers), or None. Never on gold, never on an item drawn for the
    audit (people there must judge unaided: they measure the model), never once the audit
    switched the model off. A built-in model's prediction for an item people already labelled
    comes from the fold that never saw that item's answers (cross-fitting), so a prelabel
    never carries other workers' answers to the item."""
    bundle = assignment.bundle
    assist = bundle.assist or {}
    if (
        assignment.is_gold
        or assignment.status != AssignmentStatus.CLAIMED
        or not assist.get("show_prelabels")
        or not assist_active(bundle)
    ):
        return None
    row = (
        Prediction.objects.filter(item_id=assignment.item_id)
        .order_by("-model_version")
        .values("label", "confidence", "model_version")
        .first()
    )
    if row is None:
        return None
    target = bundle.target_confidence or DEFAULT_TARGET_CONFIDENCE
    confidence = min(row["confidence"], CONFIDENCE_RANGE[1])
    if drawn_for_audit(bundle, assignment.item_id, confidence, target, row["model_version"]):
        return None
    return {
        "label": row["label"],
        "confidence": round(float(row["confidence"]), 2),
        "model_version": row["model_version"],
    }
