"""Writes on HIT types and HITs, mapped onto bundles and items.

A HIT type is a bundle with the form question and a judgment ceiling of MAX_ASSIGNMENTS;
each HIT is one item whose open slots are its own `MaxAssignments`, and its escrow is
reserved when it is created (MaxAssignments x (reward + fee)), so a published HIT is always
paid for. When a HIT expires or is deleted its unclaimed slots close and their escrow goes
back to the requester at once; when every HIT of the bundle is closed the bundle completes as
any other does, and the type's next HIT opens a new bundle.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import User
from payments import services as payments
from tasks.lifecycle import bundle_complete_if_done, bundle_transition
from tasks.locking import lock_bundle, lock_item
from tasks.models import (
    Assignment,
    AssignmentStatus,
    Bundle,
    BundleStatus,
    Item,
    ItemState,
    WorkerBundleStats,
)
from tasks.sandbox import PLAY_MONEY_CURRENCY
from tasks.services import bundle_create

from .errors import MTurkRequestError
from .ids import new_id
from .models import HIT, HITType, QualificationType, RequestToken, WorkerBlock
from .protocol import money_minor, money_text, request_error
from .questions import parse_question

FORM_QUESTION = {"type": "form"}
MAX_ASSIGNMENTS = 100  # the bundle's judgment ceiling; a HIT's own slots are its MaxAssignments
MIN_LIFETIME, MAX_LIFETIME = 30, 365 * 86400
LIVE = (BundleStatus.DRAFT, BundleStatus.PUBLISHED, BundleStatus.PAUSED)
PENDING = (AssignmentStatus.CLAIMED, AssignmentStatus.SUBMITTED)

# MTurk's system qualification ids -> our system qualifications.
SYSTEM_QUALIFICATIONS = {
    "000000000000000000L0": "approval_rate",  # PercentAssignmentsApproved
    "00000000000000000040": "approved_count",  # NumberHITsApproved
    "00000000000000000071": "country",  # Locale
}
NUMERIC = {"LessThan", "LessThanOrEqualTo", "GreaterThan", "GreaterThanOrEqualTo", "EqualTo",
           "NotEqualTo"}  # fmt: skip


def token_use(*, requester: User, operation: str, token: str | None) -> None:
    """Record a UniqueRequestToken; a second use is refused (MTurk's rule), in the caller's
    transaction, so a failed operation leaves the token free for its retry."""
    if not token:
        return
    token_check(token)
    _, created = RequestToken.objects.get_or_create(
        requester=requester, operation=operation, token=token
    )
    if not created:
        raise request_error(
            f"The request with UniqueRequestToken {token} was already processed.",
            "DuplicateRequest",
        )


def token_check(token: str) -> None:
    if len(token) > 64:
        raise request_error("UniqueRequestToken is at most 64 characters.")


def requirements_from_mturk(requester: User, raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """QualificationRequirements as our bundle requirements (the comparators are MTurk's)."""
    out = []
    for index, req in enumerate(raw):
        type_id, comparator = req["QualificationTypeId"], req["Comparator"]
        name = SYSTEM_QUALIFICATIONS.get(type_id)
        if name is None:
            own = QualificationType.objects.filter(
                requester=requester, qualification_type_id=type_id, disposed_at__isnull=True
            ).first()
            if own is None:
                raise request_error(
                    f"QualificationRequirements[{index}]: qualification type {type_id} is not "
                    "yours or a system one we have (no Masters or Adult here).",
                    "QualificationTypeDoesNotExist",
                )
            name = own.qualification.name
        entry: dict[str, Any] = {"qualification": name, "comparator": comparator}
        if name == "country":
            values = [v.get("Country", "") for v in req.get("LocaleValues", [])]
            if any(v.get("Subdivision") for v in req.get("LocaleValues", [])):
                raise request_error("Locale subdivisions are not supported; use countries.")
        else:
            values = list(req.get("IntegerValues", []))
        if comparator in NUMERIC:
            if len(values) != 1:
                raise request_error(f"QualificationRequirements[{index}] needs one value.")
            entry["value"] = values[0]
        elif comparator in ("In", "NotIn"):
            entry["values"] = values
        out.append(entry)
    return out


def _signature(props: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(props, sort_keys=True).encode()).hexdigest()


@transaction.atomic
def hit_type_get_or_create(
    *, requester: User, params: dict[str, Any], sandbox: bool = False
) -> HITType:
    """The requester's HIT type with exactly these properties, made (with its bundle, a
    draft until its first HIT) when new: MTurk hands back the same id for the same type.
    Through the sandbox endpoint its bundle is paid in play money (tasks.sandbox)."""
    props = {
        "Title": params["Title"],
        "Description": params["Description"],
        "Keywords": params.get("Keywords", ""),
        "Reward": params["Reward"],
        "AssignmentDurationInSeconds": params["AssignmentDurationInSeconds"],
        "AutoApprovalDelayInSeconds": params.get("AutoApprovalDelayInSeconds", 3 * 86400),
        "QualificationRequirements": params.get("QualificationRequirements", []),
    }
    if sandbox:  # the sandbox's types are its own, as MTurk's sandbox was another world
        props["Sandbox"] = True
    signature = _signature(props)
    found = HITType.objects.filter(requester=requester, signature=signature).first()
    if found is not None:
        return found
    reward_minor = money_minor(props["Reward"])
    if reward_minor < 1:
        raise request_error("Reward must be at least 0.01.")
    duration = props["AssignmentDurationInSeconds"]
    if not 30 <= duration <= 365 * 86400:
        raise request_error("AssignmentDurationInSeconds must be between 30 and 31536000.")
    delay = props["AutoApprovalDelayInSeconds"]
    if not 0 <= delay <= 30 * 86400:
        raise request_error("AutoApprovalDelayInSeconds must be between 0 and 2592000.")
    if len(props["Title"]) > 200 or len(props["Keywords"]) > 1000:
        raise request_error("Title is at most 200 characters and Keywords at most 1000.")
    requirements = requirements_from_mturk(requester, props["QualificationRequirements"])
    hit_type = HITType(
        hit_type_id=new_id(),
        requester=requester,
        signature=signature,
        title=props["Title"][:200],
        description=props["Description"],
        keywords=props["Keywords"][:1000],
        reward=money_text(reward_minor),
        assignment_duration_seconds=duration,
        auto_approval_delay_seconds=delay,
        qualification_requirements=props["QualificationRequirements"],
    )
    currency = PLAY_MONEY_CURRENCY if sandbox else "usd"
    hit_type.bundle = _bundle_new(hit_type, requirements, reward_minor, currency)
    hit_type.save()
    return hit_type


def _bundle_new(
    hit_type: HITType, requirements: list[dict[str, Any]], reward: int, currency: str
) -> Bundle:
    bundle = bundle_create(
        requester=hit_type.requester,
        data={
            "title": hit_type.title,
            "instructions": hit_type.description,
            "question": FORM_QUESTION,
            "reward_minor": reward,
            "currency": currency,
            "min_overlap": MAX_ASSIGNMENTS,
            "max_overlap": MAX_ASSIGNMENTS,
            "time_limit_seconds": hit_type.assignment_duration_seconds,
            "auto_approve_after_seconds": hit_type.auto_approval_delay_seconds,
            "requirements": requirements,
        },
    )
    # A HIT type lives on as MTurk's does: a HIT whose slots are all answered can be extended
    # or given more assignments, so its bundle never completes by itself.
    Bundle.objects.filter(pk=bundle.pk).update(open_ended=True)
    bundle.open_ended = True
    # The requester's worker blocks hold in every bundle of theirs, new ones too.
    for worker_id, reason in WorkerBlock.objects.filter(requester=hit_type.requester).values_list(
        "worker_id", "reason"
    ):
        WorkerBundleStats.objects.update_or_create(
            worker_id=worker_id,
            bundle=bundle,
            defaults={"blocked": True, "blocked_reason": reason, "blocked_at": timezone.now()},
        )
    return bundle


def _live_bundle(hit_type: HITType) -> Bundle:
    """The type's bundle HITs go into now (locked), a new one when the last has finished."""
    bundle = lock_bundle(hit_type.bundle_id)
    if bundle.status in LIVE:
        return bundle
    hit_type.bundle = _bundle_new(
        hit_type, bundle.requirements, bundle.reward_minor, bundle.currency
    )
    HITType.objects.filter(pk=hit_type.pk).update(bundle=hit_type.bundle)
    return lock_bundle(hit_type.bundle.pk)


@transaction.atomic
def hit_create(
    *,
    requester: User,
    hit_type: HITType,
    max_assignments: int,
    lifetime_seconds: int,
    question: str,
    annotation: str = "",
    token: str | None = None,
) -> HIT:
    """One HIT: an item of the type's bundle with `max_assignments` slots and its escrow
    reserved (insufficient funds refuses it whole); the bundle is published with its first."""
    if token:
        token_check(token)
        existing = HIT.objects.filter(requester=requester, unique_request_token=token).first()
        if existing is not None:
            raise request_error(
                f"The HIT with ID {existing.hit_id} already exists for UniqueRequestToken {token}.",
                "HitAlreadyExists",
            )
    if not 1 <= max_assignments <= MAX_ASSIGNMENTS:
        raise request_error(f"MaxAssignments must be between 1 and {MAX_ASSIGNMENTS}.")
    if not MIN_LIFETIME <= lifetime_seconds <= MAX_LIFETIME:
        raise request_error("LifetimeInSeconds must be between 30 and 31536000.")
    if len(annotation) > 255:
        raise request_error("RequesterAnnotation is at most 255 characters.")
    parsed = parse_question(question)
    payments.requester_debt_check(requester_id=requester.pk)
    bundle = _live_bundle(hit_type)
    hit_id = new_id()
    item = Item.objects.create(
        bundle=bundle,
        external_id=hit_id,
        payload={"mturk_question": parsed.xml, "mturk_hit_id": hit_id},
        slots_open=max_assignments,
        state=ItemState.OPEN,
    )
    payments.escrow_reserve(
        requester=requester,
        bundle_id=bundle.pk,
        currency=bundle.currency,
        reward_minor=bundle.reward_minor,
        judgments=max_assignments,
        idempotency_key=f"mturk-hit-{hit_id}-create",
    )
    if bundle.status == BundleStatus.DRAFT:
        bundle_transition(bundle, BundleStatus.PUBLISHED, by=requester, published_at=timezone.now())
    return HIT.objects.create(
        hit_id=hit_id,
        requester=requester,
        hit_type=hit_type,
        item=item,
        max_assignments=max_assignments,
        expires_at=timezone.now() + timedelta(seconds=lifetime_seconds),
        requester_annotation=annotation,
        unique_request_token=token or None,
    )


def _cost(bundle: Bundle, judgments: int) -> int:
    per = payments.escrow_cost_per_judgment(
        bundle_id=bundle.pk, currency=bundle.currency, reward_minor=bundle.reward_minor
    )
    return per * judgments


def hit_close(hit: HIT, *, dispose: bool = False) -> int:
    """Close a HIT that expired (or is deleted): its unclaimed slots close, their escrow goes
    back to the requester, the item counts as complete (so the bundle can finish). Inside the
    caller's transaction; returns the slots closed. Claims still live may be submitted."""
    bundle = lock_bundle(hit.item.bundle_id)
    item = lock_item(hit.item_id)
    slots = item.slots_open
    Item.objects.filter(pk=item.pk).update(slots_open=0, state=ItemState.COMPLETE)
    if slots and bundle.status in LIVE:  # a finished bundle's escrow is settled already
        payments.escrow_release(
            requester_id=hit.requester_id,
            bundle_id=bundle.pk,
            currency=bundle.currency,
            amount_minor=_cost(bundle, slots),
            idempotency_key=f"mturk-hit-{hit.hit_id}-close-{hit.slots_closed + slots}",
        )
    now = timezone.now()
    HIT.objects.filter(pk=hit.pk).update(
        slots_closed=F("slots_closed") + slots,
        closed_at=now,
        **({"disposed_at": now} if dispose else {}),
    )
    bundle_complete_if_done(bundle_id=bundle.pk)
    hit.refresh_from_db()
    return slots


def hits_close_due(*, now: datetime | None = None) -> int:
    """Beat: close every HIT past its expiration whose item still has open slots or is not yet
    marked complete (a rejection reopens a slot even after expiry). Each in its own transaction."""
    now = now or timezone.now()
    due = (
        HIT.objects.filter(expires_at__lte=now, disposed_at__isnull=True)
        .exclude(item__state=ItemState.COMPLETE, item__slots_open=0)
        .values_list("pk", flat=True)
    )
    closed = 0
    for pk in list(due):
        with transaction.atomic():
            hit = HIT.objects.select_related("item").get(pk=pk)
            closed += hit_close(hit) >= 0
    return closed


@transaction.atomic
def hit_update_expiration(*, hit: HIT, expire_at: datetime) -> HIT:
    """Expire a HIT now (any time in the past) or move its expiration later. A HIT already
    closed is reopened for its unfilled assignments, with escrow reserved for them again."""
    now = timezone.now()
    if expire_at <= now:
        HIT.objects.filter(pk=hit.pk).update(expires_at=now)
        hit_close(hit)
        return hit
    if expire_at - now > timedelta(seconds=MAX_LIFETIME):
        raise request_error("ExpireAt is at most a year from now.")
    HIT.objects.filter(pk=hit.pk).update(expires_at=expire_at, extended_at=now, reviewable_at=None)
    if hit.closed_at is not None:
        _reopen(hit)
    hit.refresh_from_db()
    return hit


def _reopen(hit: HIT) -> None:
    bundle = lock_bundle(hit.item.bundle_id)
    if bundle.status not in LIVE:
        raise request_error(
            "This HIT's batch has finished; create a new HIT instead.", "HITNotExtendable"
        )
    taken = Assignment.objects.filter(
        item_id=hit.item_id,
        status__in=(*PENDING, AssignmentStatus.APPROVED),
    ).count()
    slots = max(hit.max_assignments - taken, 0)
    if slots:
        payments.escrow_reserve(
            requester=hit.requester,
            bundle_id=bundle.pk,
            currency=bundle.currency,
            reward_minor=bundle.reward_minor,
            judgments=slots,
            idempotency_key=f"mturk-hit-{hit.hit_id}-reopen-{hit.slots_closed}",
        )
    Item.objects.filter(pk=hit.item_id).update(
        slots_open=slots, state=ItemState.OPEN if slots else ItemState.FULL
    )
    HIT.objects.filter(pk=hit.pk).update(closed_at=None)


@transaction.atomic
def hit_add_assignments(*, hit: HIT, number: int, token: str | None = None) -> HIT:
    """More assignments for a live HIT, paid into escrow now."""
    token_use(requester=hit.requester, operation="CreateAdditionalAssignmentsForHIT", token=token)
    if number < 1:
        raise request_error("NumberOfAdditionalAssignments must be at least 1.")
    if hit.disposed_at is not None or hit.expires_at <= timezone.now():
        raise request_error("The HIT has expired; extend it first.", "HITNotExtendable")
    if hit.max_assignments + number > MAX_ASSIGNMENTS:
        raise request_error(f"A HIT has at most {MAX_ASSIGNMENTS} assignments here.")
    bundle = lock_bundle(hit.item.bundle_id)
    if bundle.status not in LIVE:
        raise request_error("This HIT's batch was stopped; create a new HIT.", "HITNotExtendable")
    payments.requester_debt_check(requester_id=hit.requester_id)
    payments.escrow_reserve(
        requester=hit.requester,
        bundle_id=bundle.pk,
        currency=bundle.currency,
        reward_minor=bundle.reward_minor,
        judgments=number,
        idempotency_key=f"mturk-hit-{hit.hit_id}-more-{hit.max_assignments + number}",
    )
    Item.objects.filter(pk=hit.item_id).update(
        slots_open=F("slots_open") + number, state=ItemState.OPEN
    )
    HIT.objects.filter(pk=hit.pk).update(
        max_assignments=F("max_assignments") + number,
        extended_at=timezone.now(),
        reviewable_at=None,
    )
    hit.refresh_from_db()
    return hit


@transaction.atomic
def hit_delete(*, hit: HIT) -> None:
    """MTurk's rule: only a HIT with no work in progress and nothing left to review (expired,
    or all its assignments done) may go; its unclaimed escrow returns to the requester."""
    if hit.disposed_at is not None:
        return
    pending = Assignment.objects.filter(item_id=hit.item_id, status__in=PENDING).exists()
    item = Item.objects.get(pk=hit.item_id)
    expired = hit.expires_at <= timezone.now()
    if pending or not (expired or item.slots_open == 0):
        raise request_error(
            "This HIT is not in a state where it can be deleted: it must be expired or "
            "finished, with every submitted assignment approved or rejected.",
            "InvalidHITState",
        )
    hit_close(hit, dispose=True)


@transaction.atomic
def hit_review_status(*, hit: HIT, revert: bool) -> HIT:
    HIT.objects.filter(pk=hit.pk).update(reviewing=not revert)
    hit.refresh_from_db()
    return hit


@transaction.atomic
def hit_change_type(*, hit: HIT, hit_type: HITType) -> HIT:
    """Move a HIT no worker has touched into another HIT type: its escrow moves with it
    (released from the old bundle, reserved at the new type's reward)."""
    if hit_type.pk == hit.hit_type_id:
        return hit
    if Assignment.objects.filter(item_id=hit.item_id).exists():
        raise request_error(
            "Only a HIT no worker has accepted yet can change its HIT type.", "InvalidHITState"
        )
    if hit.closed_at is not None or hit.disposed_at is not None:
        raise request_error("The HIT is closed; create a new one.", "InvalidHITState")
    old = lock_bundle(hit.item.bundle_id)
    new = _live_bundle(hit_type)
    item = lock_item(hit.item_id)
    slots = item.slots_open
    move = hit.slots_closed + hit.max_assignments
    if slots:
        payments.escrow_release(
            requester_id=hit.requester_id, bundle_id=old.pk, currency=old.currency,
            amount_minor=_cost(old, slots),
            idempotency_key=f"mturk-hit-{hit.hit_id}-move-out-{new.pk}-{move}",
        )  # fmt: skip
        payments.escrow_reserve(
            requester=hit.requester, bundle_id=new.pk, currency=new.currency,
            reward_minor=new.reward_minor, judgments=slots,
            idempotency_key=f"mturk-hit-{hit.hit_id}-move-in-{new.pk}-{move}",
        )  # fmt: skip
    Item.objects.filter(pk=item.pk).update(bundle=new)
    HIT.objects.filter(pk=hit.pk).update(hit_type=hit_type)
    if new.status == BundleStatus.DRAFT:
        bundle_transition(
            new, BundleStatus.PUBLISHED, by=hit.requester, published_at=timezone.now()
        )
    bundle_complete_if_done(bundle_id=old.pk)
    hit.refresh_from_db()
    return hit


def hit_of(requester: User, sandbox: bool, hit_id: str) -> HIT:
    """The requester's HIT on this endpoint (sandbox or live), or the same RequestError for
    unknown, foreign and other-endpoint ids."""
    currency = Q(item__bundle__currency=PLAY_MONEY_CURRENCY)
    hit = (
        HIT.objects.select_related("item", "hit_type", "item__bundle")
        .filter(currency if sandbox else ~currency, requester=requester, hit_id=hit_id)
        .first()
    )
    if hit is None:
        raise MTurkRequestError(
            f"Hit {hit_id} does not exist.", "AWS.MechanicalTurk.HitDoesNotExist"
        )
    return hit
