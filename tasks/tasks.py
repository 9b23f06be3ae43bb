"""Celery entry points (thin; each idempotent and safe to run twice or concurrently)."""

from celery import shared_task

from . import escrow, lifecycle, pay_pilot, review, services, work
from .fairness import appeals
from .quality.rules import BundleMethod


@shared_task(name="tasks.tasks.expire_claims_task")
def expire_claims_task() -> int:
    """Expire claims past their deadline (a bundle whose last live claim that was completes),
    and remind the workers of long claims about to expire."""
    expired = work.assignments_expire()
    work.claims_remind_expiring()
    lifecycle.bundles_complete_due()
    return expired


@shared_task(name="tasks.tasks.auto_approve_task")
def auto_approve_task() -> int:
    return review.assignments_auto_approve()


@shared_task(name="tasks.tasks.settle_finished_bundles_task")
def settle_finished_bundles_task() -> int:
    return escrow.escrow_settle_finished()


@shared_task(name="tasks.tasks.expire_bundles_task")
def expire_bundles_task() -> int:
    return services.bundles_expire_due()


@shared_task(name="tasks.tasks.pause_bundles_of_requester_task")
def pause_bundles_of_requester_task(*, requester_id: int) -> int:
    """Payments runs this by name (setting PAYMENTS_REQUESTER_DEBT_TASKS) once a requester's
    debt is committed: their live bundles pause."""
    return services.bundles_pause_for_debt(requester_id=requester_id)


@shared_task(name="tasks.tasks.pause_bundles_of_indebted_requesters_task")
def pause_bundles_of_indebted_requesters_task() -> int:
    """Beat: pause live bundles of every requester in debt (if a trigger was lost)."""
    return services.bundles_pause_for_debt_sweep()


@shared_task(name="tasks.tasks.aggregate_bundle_task")
def aggregate_bundle_task(bundle_id: int, method: BundleMethod = "dawid_skene") -> int:
    """Whole-bundle aggregation into ItemResult (at completion, or on demand). Idempotent: the
    same judgments give the same rows, written by one upsert."""
    from tasks.quality import bundle_aggregation

    return bundle_aggregation.bundle_aggregate(bundle_id=bundle_id, method=method)


@shared_task(name="tasks.tasks.reaggregate_live_bundles_task")
def reaggregate_live_bundles_task() -> int:
    """Beat: re-aggregate live bundles that received judgments since their last run, and decide
    dynamic items left waiting."""
    from tasks.quality import bundle_aggregation

    done = bundle_aggregation.live_bundles_reaggregate()
    lifecycle.bundles_complete_due()  # the sweep may have completed a bundle's last items
    return done


@shared_task(name="tasks.tasks.submission_recorded_task")
def submission_recorded_task(
    *, assignment_id: int, bundle_id: int, worker_id: int, item_id: int, is_gold: bool
) -> None:
    """Retry of a quality follow-up that hit a database error after its submission committed.
    Every step is idempotent (rules on a locked stats row, decisions recounted under a lock)."""
    from tasks.quality import services as quality

    quality.submission_recorded(
        assignment_id=assignment_id,
        bundle_id=bundle_id,
        worker_id=worker_id,
        item_id=item_id,
        is_gold=is_gold,
        retry=False,
    )


@shared_task(name="tasks.tasks.assist_decide_task")
def assist_decide_task(bundle_id: int) -> int:
    """Decide a live assisted bundle's unfinished items again (after predictions arrive or at
    publish), so items the model settles complete and the others get their slots. Idempotent:
    each decision recounts under the item's lock."""
    from tasks.models import Bundle, BundleStatus, Item, ItemState
    from tasks.quality import decisions

    live = (BundleStatus.PUBLISHED, BundleStatus.PAUSED)
    if not Bundle.objects.filter(pk=bundle_id, status__in=live).exists():
        return 0
    ids = Item.objects.filter(bundle_id=bundle_id, is_gold=False).exclude(state=ItemState.COMPLETE)
    return sum(decisions.items_decide(item_ids=list(ids.values_list("id", flat=True))).values())


@shared_task(name="tasks.tasks.assist_retrain_task")
def assist_retrain_task(bundle_id: int, force: bool = False) -> int | None:
    """Retrain a bundle's built-in assist model when enough new consensus labels arrived, then
    let the new predictions decide the open items; returns the new version, None when none was
    made (not due, the same labels as the last version, or a failing model, which is recorded
    for the requester, never raised). Idempotent: the same labels make no second version."""
    from tasks.assist import training
    from tasks.quality import bundle_aggregation

    if not training.retrain_wanted(bundle_id=bundle_id, force=force):
        return None
    # Each retraining first re-estimates the crowd (Dawid-Skene, as the beat does): the model
    # learns from those labels, and the stopping rule weighs each worker's next answer by it.
    bundle_aggregation.bundle_aggregate(bundle_id=bundle_id)
    before = training.AssistModelVersion.objects.filter(bundle_id=bundle_id).count()
    version = training.bundle_retrain(bundle_id=bundle_id, force=force)
    if version is not None and version > before:
        assist_decide_task(bundle_id)
    return version


@shared_task(name="tasks.tasks.overturn_unanswered_appeals_task")
def overturn_unanswered_appeals_task() -> int:
    """Rejection appeals the requester did not answer in time are overturned and paid, once."""
    return appeals.appeals_overturn_due()


@shared_task(name="tasks.tasks.pay_floor_pilots_task")
def pay_floor_pilots_task() -> int:
    """Close every pay-floor pilot that has its answers (a missed follow-up's safety net)."""
    return pay_pilot.pilots_check_all()


@shared_task(name="tasks.tasks.bundle_live_update_task")
def bundle_live_update_task(bundle_id: int) -> dict:
    """A bundle's live labels and estimates, batched (debounced after submissions): re-run the
    whole-bundle estimates when the bundle grew enough, else label the items judged since, and
    complete the bundle once all its items are complete. Idempotent."""
    from tasks.quality import live

    return live.bundle_live_update(bundle_id=bundle_id)
