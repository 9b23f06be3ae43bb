"""The audit: people alone decide an `audit_rate` share of items (`prior.is_audited`); where
their consensus disagrees with the model's prediction too often, the bundle's model is switched
off (`Bundle.assist_status["model_off"]`, shown to the requester in the assist report) and every
item goes back to the plain rule. The verdict is a version's: each version is judged on its own
audited items only (`switched_off_versions` keeps the history). A new version gets a fresh
audit rather than inheriting a predecessor's verdict: posting predictions turns the loop back
on (`predictions_post`), and so does a built-in version whose held-out check vouches for it
(`tasks.assist.training`). Without that, one early version trained on 20 labels, read as sure
where it was right two times in three, ended the loop for the bundle, although every later
version was right on all the items it was sure of.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from tasks.models import Bundle, ItemResult, ItemState, Prediction

from .predictions import decide_after_commit

#: Audited items the rate is judged on at least, so two unlucky items do not end the loop.
AUDIT_MIN_ITEMS = 5


@dataclass(frozen=True)
class AuditFigures:
    audited: int
    disagreed: int

    @property
    def rate(self) -> float | None:
        return self.disagreed / self.audited if self.audited else None


def audit_figures(bundle_id: int, version: int | None = None) -> AuditFigures:
    """Completed audited items of the bundle (of one model `version`, or all), and how many of
    them people labelled otherwise than the prediction the audit checked (the one of the model
    version the result names, which decided the item was confident enough to be audited)."""
    checked = Prediction.objects.filter(
        item_id=OuterRef("item_id"), model_version=OuterRef("model_version")
    )
    results = ItemResult.objects.filter(
        item__bundle_id=bundle_id, audited=True, item__state=ItemState.COMPLETE
    )
    if version is not None:
        results = results.filter(model_version=version)
    rows = results.annotate(predicted=Subquery(checked.values("label")[:1])).values_list(
        "label", "predicted"
    )
    audited = disagreed = 0
    for label, predicted in rows:
        audited += 1
        disagreed += int(label != predicted)
    return AuditFigures(audited, disagreed)


#: z of the one-sided bound the audit judges a rate by (95%).
AUDIT_Z = 1.645


def exceeds(figures: AuditFigures, limit: float) -> bool:
    """Whether the audit shows the model's disagreement rate above `limit`: the Wilson lower
    bound of the rate, not the rate itself, so one unlucky item among five (20%, and people's
    own consensus is sometimes the wrong one) does not end a good model, while a broken one
    (five of five) is caught at once."""
    n, k, z = figures.audited, figures.disagreed, AUDIT_Z
    if n == 0:
        return False
    p = k / n
    centre = p + z * z / (2 * n)
    margin = z * ((p * (1 - p) + z * z / (4 * n)) / n) ** 0.5
    return (centre - margin) / (1 + z * z / n) > limit


def audit_after_commit(bundle_id: int) -> None:
    """Check the audit once the decision that completed an audited item has committed (in its
    own transaction, so the bundle row is locked first, as `tasks.locking` wants)."""
    transaction.on_commit(lambda: bundle_audit(bundle_id=bundle_id))


def bundle_audit(*, bundle_id: int) -> bool:
    """Switch the model off when the audited disagreement is above the bundle's limit;
    returns whether it is off. Idempotent."""
    with transaction.atomic():
        bundle = Bundle.objects.select_for_update().get(pk=bundle_id)
        status: dict[str, Any] = dict(bundle.assist_status or {})
        if not bundle.assist or status.get("model_off"):
            return bool(status.get("model_off"))
        # The newest version is judged on its own audit only: it neither hides behind good
        # elders nor pays for a bad one. Until it has AUDIT_MIN_ITEMS audited items it cannot
        # auto-accept (`_vet`), and every item it is sure of is audited.
        newest = _newest_version(bundle_id)
        figures = audit_figures(bundle_id, newest)
        limit = float(bundle.assist.get("audit_limit", 0.10))
        rate = figures.rate
        if figures.audited < AUDIT_MIN_ITEMS or rate is None or not exceeds(figures, limit):
            _vet(bundle, status, limit)
            return False
        status.update(
            model_off=True,
            model_off_reason=(
                f"People disagreed with the model on {figures.disagreed} of "
                f"{figures.audited} audited items ({rate:.0%}, limit {limit:.0%}): "
                "auto-accept and the model's prior are off for this bundle."
            ),
            model_off_at=timezone.now().isoformat(),
            switched_off_versions=[*status.get("switched_off_versions", []), newest],
        )
        Bundle.objects.filter(pk=bundle_id).update(assist_status=status)
        return True


def _vet(bundle: Bundle, status: dict[str, Any], limit: float) -> None:
    """A model version may auto-accept (complete items with no judgment) only once its own
    audit has passed: AUDIT_MIN_ITEMS audited items at or under the limit. Until then it is a
    prior for items people judge, where it cannot overrule them. On vetting, the open items
    are decided again so the ones it settles complete."""
    version = _newest_version(bundle.pk)
    if version is None or status.get("vetted_version") == version:
        return
    figures = audit_figures(bundle.pk, version)
    if figures.audited < AUDIT_MIN_ITEMS or figures.rate is None or figures.rate > limit:
        return
    Bundle.objects.filter(pk=bundle.pk).update(assist_status={**status, "vetted_version": version})
    decide_after_commit(bundle.pk)


def _newest_version(bundle_id: int) -> int | None:
    return (
        Prediction.objects.filter(bundle_id=bundle_id)
        .order_by("-model_version")
        .values_list("model_version", flat=True)
        .first()
    )
