"""The quality rules engine: per bundle, rules `collector -> condition -> action` stored on the
bundle (`Bundle.quality_rules`, validated here by `quality_rules_validate`, like the question
schema), evaluated after each committed submission (`tasks.quality.services`), each firing
written as a `QualityRuleEvent` (the rule, its figures, what it did) that the requester or an
admin can reverse (`rule_event_reverse`). The worker sees the reason on their block.

A rule: ``{"collector": "answer_speed", "threshold": 0.5, "min_answers": 5, "action": "block"}``
(`floor` too for speed: the share of the bundle's median time under which an answer is "too
fast"). Collectors give a figure in [0, 1] over the worker's evidence since their last unblock
(so a reversal is not undone by the same old evidence):

* ``gold_accuracy``: the upper end of the 95% Wilson interval of gold correct / seen; fires
  below the threshold (as the `min_gold_accuracy` shorthand does);
* ``answer_speed``: share of answers faster than `floor` x the bundle's median (or than
  `floor_seconds`, a fixed time, as the `min_seconds_per_task` field means it); fires above;
* ``agreement``: share of answers equal to the item's current label, on items with at least
  `AGREEMENT_MIN_JUDGMENTS` judgments; fires below;
* ``answer_distribution``: how far the worker's most frequent answer exceeds its share among
  the other workers' answers; fires above;
* ``skips``: share of claims that ended unanswered (expired or given back); fires above.

Machine-written answers (text and transcription; `machine_signals`): ``pasted`` (share of
answers mostly pasted), ``too_fast_to_type`` (share produced faster than reading the item and
typing the answer allow), ``near_duplicate`` (share nearly identical to another worker's
answer) and ``agent_canary`` (share containing the bundle's hidden word); all fire above.

Actions: ``block`` (in this bundle), ``block_requester`` (in every live bundle of the same
requester), ``notify`` (an email to the requester through Django's mail backend, once per rule
and worker until reversed), and those of `rule_actions`: ``reject_requeue`` (`recent`: how many
of the latest unreviewed answers), ``pause``, ``lower_weight`` (`weight` in [0, 1)),
``grant_qualification`` / ``revoke_qualification`` (`qualification`: one of the requester's
own, `value` to grant). A notify, pause, weight or qualification rule acts once per worker until
reversed; a reject rule again on evidence newer than its last firing; after a reversal a rule
weighs only evidence newer than it.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Qualification, User
from marketplace.errors import Conflict, DomainError, Forbidden
from tasks.models import (
    Assignment,
    AssignmentStatus,
    Bundle,
    ItemResult,
    QualityRuleEvent,
    WorkerBundleStats,
)

from . import rule_actions
from .aggregation import wilson_interval
from .blocking import worker_block, worker_unblock
from .crowd_statistics import answer_key, bundle_median_seconds, crowd_answers
from .machine_signals import MACHINE_COLLECTORS, MACHINE_MIN_ANSWERS, machine_collect
from .rule_actions import DEFAULT_RECENT, DEFAULT_WEIGHT
from .rules import COUNTED_STATUSES, LIVE_STATUSES, WILSON_Z

logger = logging.getLogger(__name__)

#: collector -> (condition: fires "below" or "above" the threshold, default threshold)
COLLECTORS: dict[str, tuple[str, float]] = {
    "gold_accuracy": ("below", 0.7),
    "answer_speed": ("above", 0.5),
    "agreement": ("below", 0.5),
    "answer_distribution": ("above", 0.4),
    "skips": ("above", 0.5),
    **MACHINE_COLLECTORS,
}
ACTIONS = (
    "block", "block_requester", "notify", "reject_requeue", "pause", "lower_weight",
    "grant_qualification", "revoke_qualification",
)  # fmt: skip
#: What each action did, as the worker and the requester read it.
ACTION_LABELS = {
    "block": "Blocked from this bundle", "block_requester": "Blocked from the requester's bundles",
    "notify": "Requester notified", "reject_requeue": "Recent answers rejected",
    "pause": "Paused for review", "lower_weight": "Answers weighed less",
    "grant_qualification": "Qualification granted",
    "revoke_qualification": "Qualification revoked",
}  # fmt: skip
#: Actions that stand until reversed: a rule with one acts once per worker until then.
ONCE_ACTIONS = ("notify", "pause", "lower_weight", "grant_qualification", "revoke_qualification")
BLOCKING_ACTIONS = ("block", "block_requester")
MAX_RULES = 20
DEFAULT_MIN_ANSWERS = 5
DEFAULT_SPEED_FLOOR = 0.3
#: The speed, agreement and distribution collectors weigh a worker's latest answers, at most
#: this many: a worker's cost to evaluate stays bounded however much they did, and a worker who
#: turns to spam after long good work is caught on what they do now.
WINDOW = 500
#: Agreement is weighed only on items that have at least this many judgments.
AGREEMENT_MIN_JUDGMENTS = 3
_KEYS = {
    "collector", "threshold", "min_answers", "action", "floor", "floor_seconds", "recent",
    "weight",
    "qualification", "value",
}  # fmt: skip
_ACTION_KEYS = {
    "reject_requeue": {"recent"}, "lower_weight": {"weight"},
    "grant_qualification": {"qualification", "value"}, "revoke_qualification": {"qualification"},
}  # fmt: skip


def _invalid(message: str) -> DomainError:
    return DomainError(message, code="invalid_quality_rules")


def quality_rules_validate(value: Any) -> list[dict[str, Any]]:
    """The canonical rule list (defaults filled in) from client data; raises a DomainError
    (`invalid_quality_rules`) naming the rule and the field at fault."""
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_RULES:
        raise _invalid(f"quality_rules must be a list of at most {MAX_RULES} rules.")
    clean = []
    for n, rule in enumerate(value, start=1):
        if not isinstance(rule, dict):
            raise _invalid(f"Rule {n} must be an object.")
        unknown = set(rule) - _KEYS
        if unknown:
            raise _invalid(f"Rule {n}: unknown field(s) {', '.join(sorted(unknown))}.")
        collector = rule.get("collector")
        if collector not in COLLECTORS:
            raise _invalid(f"Rule {n}: collector must be one of {', '.join(COLLECTORS)}.")
        action = rule.get("action", "block")
        if action not in ACTIONS:
            raise _invalid(f"Rule {n}: action must be one of {', '.join(ACTIONS)}.")
        threshold = rule.get("threshold", COLLECTORS[collector][1])
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            raise _invalid(f"Rule {n}: threshold must be a number in [0, 1].")
        if not 0 <= threshold <= 1:
            raise _invalid(f"Rule {n}: threshold must be a number in [0, 1].")
        least = MACHINE_MIN_ANSWERS.get(collector, DEFAULT_MIN_ANSWERS)
        min_answers = rule.get("min_answers", least)
        if isinstance(min_answers, bool) or not isinstance(min_answers, int):
            raise _invalid(f"Rule {n}: min_answers must be a whole number from 1 to 1000.")
        if not 1 <= min_answers <= 1000:
            raise _invalid(f"Rule {n}: min_answers must be a whole number from 1 to 1000.")
        out = {
            "collector": collector,
            "threshold": float(threshold),
            "min_answers": min_answers,
            "action": action,
        }
        if collector == "answer_speed" and "floor_seconds" in rule:
            seconds = rule["floor_seconds"]
            if "floor" in rule:
                raise _invalid(f"Rule {n}: give floor or floor_seconds, not both.")
            if not _number(seconds) or not 0 < seconds <= 24 * 3600:
                raise _invalid(
                    f"Rule {n}: floor_seconds must be a number of seconds in (0, 86400]."
                )
            out["floor_seconds"] = float(seconds)
        elif collector == "answer_speed":
            floor = rule.get("floor", DEFAULT_SPEED_FLOOR)
            if not _number(floor) or not 0 < floor <= 1:
                raise _invalid(f"Rule {n}: floor must be a share of the median time in (0, 1].")
            out["floor"] = float(floor)
        elif "floor" in rule or "floor_seconds" in rule:
            raise _invalid(f"Rule {n}: floor applies to the answer_speed collector only.")
        params = set().union(*_ACTION_KEYS.values())
        misplaced = (set(rule) & params) - _ACTION_KEYS.get(action, set())
        if misplaced:
            raise _invalid(f"Rule {n}: {', '.join(sorted(misplaced))} does not apply to {action}.")
        out.update(_action_params(n, action, rule))
        clean.append(out)
    return clean


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _action_params(n: int, action: str, rule: dict[str, Any]) -> dict[str, Any]:
    """The validated parameters of an action (defaults filled in)."""
    if action == "reject_requeue":
        recent = rule.get("recent", DEFAULT_RECENT)
        if isinstance(recent, bool) or not isinstance(recent, int) or not 1 <= recent <= 1000:
            raise _invalid(f"Rule {n}: recent must be a whole number from 1 to 1000.")
        return {"recent": recent}
    if action == "lower_weight":
        weight = rule.get("weight", DEFAULT_WEIGHT)
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 <= weight < 1:
            raise _invalid(f"Rule {n}: weight must be a number in [0, 1).")
        return {"weight": float(weight)}
    if action in ("grant_qualification", "revoke_qualification"):
        name = rule.get("qualification")
        if not isinstance(name, str) or not name.strip() or len(name) > 64:
            raise _invalid(f"Rule {n}: qualification must name one of your qualifications.")
        params: dict[str, Any] = {"qualification": name.strip()}
        if action == "grant_qualification":
            value = rule.get("value", 1)
            if isinstance(value, bool) or not isinstance(value, int):
                raise _invalid(f"Rule {n}: value must be a whole number.")
            params["value"] = value
        return params
    return {}


def rule_qualifications_check_known(rules: list[dict[str, Any]], *, owner_id: int) -> None:
    """Refuse rules naming a qualification the requester does not own (nothing to grant)."""
    for n, rule in enumerate(rules, start=1):
        name = rule.get("qualification")
        owned = Qualification.objects.filter(owner_id=owner_id, name=name)
        if name is not None and not owned.exists():
            raise _invalid(f"Rule {n}: unknown qualification {name!r}; create it first.")


@dataclass(frozen=True)
class Figures:
    """What a collector measured: the figure, how many observations it rests on, and the raw
    numbers behind it (written to the history)."""

    value: float
    n: int
    detail: dict[str, Any] = field(default_factory=dict)


def rule_fires(rule: dict[str, Any], figures: Figures) -> bool:
    """Pure: whether a (validated) rule's condition holds on these figures."""
    if figures.n < rule["min_answers"]:
        return False
    if COLLECTORS[rule["collector"]][0] == "below":
        return figures.value < rule["threshold"]
    return figures.value > rule["threshold"]


def collect(rule: dict[str, Any], *, worker_id: int, bundle: Bundle, since: Any) -> Figures:
    """The rule's collector over the worker's evidence in the bundle since `since` (or all)."""
    answered = Assignment.objects.filter(
        worker_id=worker_id, bundle_id=bundle.pk, status__in=COUNTED_STATUSES
    )
    if since is not None:
        answered = answered.filter(submitted_at__gt=since)
    collector = rule["collector"]
    if collector in MACHINE_COLLECTORS:
        value, n, detail = machine_collect(collector, answered=answered, bundle=bundle)
        return Figures(value, n, detail)
    if collector == "gold_accuracy":
        gold = list(answered.filter(is_gold=True).values_list("gold_correct", flat=True))
        seen, correct = len(gold), sum(1 for g in gold if g)
        _, high = wilson_interval(correct, seen, WILSON_Z) if seen else (0.0, 1.0)
        return Figures(float(high), seen, {"correct": correct, "seen": seen})
    if collector == "answer_speed":
        timed = answered.filter(seconds_spent__isnull=False).order_by("-submitted_at", "-id")
        mine = [float(s or 0) for s in timed.values_list("seconds_spent", flat=True)[:WINDOW]]
        floor = rule.get("floor_seconds")
        if floor is None and mine:  # a share of the bundle's median time
            typical = bundle_median_seconds(bundle, least=rule["min_answers"])
            if typical is not None:
                floor = rule["floor"] * typical
        if floor is None or not mine:
            return Figures(0.0, 0)
        fast = sum(1 for s in mine if s < floor)
        detail = {"fast": fast, "answers": len(mine), "floor_seconds": round(floor, 3)}
        return Figures(fast / len(mine), len(mine), detail)
    if collector == "agreement":
        latest = answered.filter(is_gold=False).order_by("-submitted_at", "-id")
        rows = list(latest.values_list("item_id", "answer")[:WINDOW])
        labels = dict(
            ItemResult.objects.filter(
                item_id__in=[i for i, _ in rows], judgments__gte=AGREEMENT_MIN_JUDGMENTS
            ).values_list("item_id", "label")
        )
        judged = [(labels[i], a) for i, a in rows if i in labels]
        agree = sum(1 for label, answer in judged if answer_key(label) == answer_key(answer))
        value = agree / len(judged) if judged else 1.0
        return Figures(value, len(judged), {"agree": agree, "items": len(judged)})
    if collector == "answer_distribution":
        given = answered.filter(is_gold=False).order_by("-submitted_at", "-id")
        mine_answers = [answer_key(a) for a in given.values_list("answer", flat=True)[:WINDOW]]
        if not mine_answers:
            return Figures(0.0, 0)
        top, count = Counter(mine_answers).most_common(1)[0]
        crowd = crowd_answers(bundle, excluding_worker=worker_id)
        own = own_total = 0
        if not crowd.exact:  # a whole-bundle summary: the worker's own answers come out
            everything = Assignment.objects.filter(
                worker_id=worker_id, bundle_id=bundle.pk, status__in=COUNTED_STATUSES,
                is_gold=False,
            )  # fmt: skip
            mine_all = Counter(answer_key(a) for a in everything.values_list("answer", flat=True))
            own, own_total = mine_all[top], mine_all.total()
        crowd_share = crowd.share_of(top, own=own, own_total=own_total)
        share = count / len(mine_answers)
        detail = {"share": round(share, 3), "crowd_share": round(crowd_share, 3)}
        return Figures(share - crowd_share, len(mine_answers), detail)
    claims = Assignment.objects.filter(worker_id=worker_id, bundle_id=bundle.pk).exclude(
        status=AssignmentStatus.CLAIMED
    )
    if since is not None:
        claims = claims.filter(claimed_at__gt=since)
    total = claims.count()
    skipped = claims.filter(
        Q(status=AssignmentStatus.EXPIRED) | Q(status=AssignmentStatus.RETURNED)
    ).count()
    return Figures(skipped / total if total else 0.0, total, {"skipped": skipped, "claims": total})


def rule_reason(index: int, rule: dict[str, Any], figures: Figures) -> str:
    """The reason the worker, the requester and the history read: the rule and its figures."""
    word = COLLECTORS[rule["collector"]][0]
    details = ", ".join(f"{k} {v}" for k, v in figures.detail.items())
    return (
        f"Quality rule {index + 1} ({rule['collector'].replace('_', ' ')}): "
        f"{figures.value:.0%} over {figures.n} observations ({details}) is {word} "
        f"this bundle's limit of {rule['threshold']:.0%}."
    )


def quality_rules_check(*, worker_id: int, bundle_id: int, bundle: Bundle | None = None) -> bool:
    """Evaluate the bundle's rules for one worker after a committed submission; act on the
    first rule that fires with a blocking action (and on every other rule that fires before
    it). Returns whether the worker is now blocked here. `bundle`: the caller's, if at hand."""
    if bundle is None or bundle.pk != bundle_id:
        bundle = Bundle.objects.get(pk=bundle_id)
    rules = bundle.quality_rules or []
    if not rules:
        return False
    stats = WorkerBundleStats.objects.filter(worker_id=worker_id, bundle_id=bundle_id).first()
    if stats is not None and stats.blocked:
        return True
    since = stats.unblocked_at if stats is not None else None
    reachable = [(i, rule) for i, rule in enumerate(rules) if _reachable(rule, stats)]
    if not reachable:  # nothing can fire yet (a new worker): no history, no collector read
        return False
    history = _last_firings(bundle_id=bundle_id, worker_id=worker_id)
    for index, rule in reachable:
        last = history.get(index)
        if rule["action"] in ONCE_ACTIONS and last is not None and last.reversed_at is None:
            continue  # it stands until reversed
        # After a firing (and its reversal) only newer evidence counts for this rule.
        rule_since = since
        if last is not None:
            rule_since = max(t for t in (since, last.created_at, last.reversed_at) if t)
        figures = collect(rule, worker_id=worker_id, bundle=bundle, since=rule_since)
        if not rule_fires(rule, figures):
            continue
        if rule["action"] == "notify":
            _notify(bundle=bundle, worker_id=worker_id, index=index, rule=rule, figures=figures)
            continue
        if rule["action"] in BLOCKING_ACTIONS:
            _block(bundle=bundle, worker_id=worker_id, index=index, rule=rule, figures=figures)
            return True
        _act(bundle=bundle, worker_id=worker_id, index=index, rule=rule, figures=figures)
    return False


def _reachable(rule: dict[str, Any], stats: WorkerBundleStats | None) -> bool:
    """Whether the worker's counters leave the rule enough evidence to fire: every collector
    but skips counts answers (gold answers for gold accuracy), which the counters bound."""
    if stats is None or rule["collector"] == "skips":
        return True
    bound = stats.gold_seen if rule["collector"] == "gold_accuracy" else stats.submitted
    return bound >= rule["min_answers"]


def _last_firings(*, bundle_id: int, worker_id: int) -> dict[int, QualityRuleEvent]:
    """The latest event of each rule (by index) for this worker here."""
    latest: dict[int, QualityRuleEvent] = {}
    events = QualityRuleEvent.objects.filter(bundle_id=bundle_id, worker_id=worker_id)
    for event in events.order_by("created_at", "id"):
        index = event.rule.get("index") if isinstance(event.rule, dict) else None
        if isinstance(index, int):
            latest[index] = event
    return latest


@transaction.atomic
def _act(
    *, bundle: Bundle, worker_id: int, index: int, rule: dict[str, Any], figures: Figures
) -> QualityRuleEvent:
    """One of the `rule_actions`, and its history row, in one transaction."""
    reason = rule_reason(index, rule, figures)
    action = rule["action"]
    if action == "reject_requeue":
        done = rule_actions.reject_recent(
            bundle=bundle, worker_id=worker_id, reason=reason, recent=rule["recent"]
        )
    elif action == "pause":
        done = rule_actions.pause(bundle=bundle, worker_id=worker_id, reason=reason)
    elif action == "lower_weight":
        done = rule_actions.lower_weight(bundle=bundle, worker_id=worker_id, weight=rule["weight"])
    else:
        value = rule.get("value") if action == "grant_qualification" else None
        done = rule_actions.set_qualification(
            bundle=bundle, worker_id=worker_id, name=rule["qualification"], value=value
        )
    event = _event(bundle, worker_id, index, rule, figures, reason, [bundle.pk])
    event.figures = {**event.figures, **done}
    event.save(update_fields=["figures"])
    return event


@transaction.atomic
def _block(
    *, bundle: Bundle, worker_id: int, index: int, rule: dict[str, Any], figures: Figures
) -> QualityRuleEvent:
    reason = rule_reason(index, rule, figures)
    bundle_ids = [bundle.pk]
    if rule["action"] == "block_requester":
        others = Bundle.objects.filter(requester_id=bundle.requester_id, status__in=LIVE_STATUSES)
        bundle_ids += sorted(set(others.values_list("pk", flat=True)) - {bundle.pk})
    for bundle_id in bundle_ids:  # each takes its bundle lock: ours first, the rest by id
        worker_block(worker_id=worker_id, bundle_id=bundle_id, reason=reason, by=None)
    return _event(bundle, worker_id, index, rule, figures, reason, bundle_ids)


def _notify(
    *, bundle: Bundle, worker_id: int, index: int, rule: dict[str, Any], figures: Figures
) -> None:
    open_event = QualityRuleEvent.objects.filter(
        bundle=bundle, worker_id=worker_id, action="notify", reversed_at__isnull=True,
        rule__index=index,
    )  # fmt: skip
    if open_event.exists():
        return
    reason = rule_reason(index, rule, figures)
    _event(bundle, worker_id, index, rule, figures, reason, [bundle.pk])
    requester = User.objects.get(pk=bundle.requester_id)
    send_mail(
        subject=f"Quality rule fired in “{bundle.title}”",
        message=f"{reason}\nReview the worker on the bundle's page.",
        from_email=None,
        recipient_list=[requester.email],
        fail_silently=True,
    )


def _event(
    bundle: Bundle,
    worker_id: int,
    index: int,
    rule: dict[str, Any],
    figures: Figures,
    reason: str,
    bundle_ids: list[int],
) -> QualityRuleEvent:
    logger.info("rule %s fired for worker %s in bundle %s: %s", index, worker_id, bundle.pk, reason)
    return QualityRuleEvent.objects.create(
        bundle=bundle,
        worker_id=worker_id,
        rule={**rule, "index": index},
        figures={"value": figures.value, "n": figures.n, **figures.detail, "bundles": bundle_ids},
        action=rule["action"],
        reason=reason,
    )


@transaction.atomic
def rule_event_reverse(*, event_id: int, by: User) -> QualityRuleEvent:
    """Undo what a rule did (the requester of the bundle, or staff): lift its blocks, in every
    bundle it blocked in, and mark the event reversed. Only new evidence can fire it again."""
    event = QualityRuleEvent.objects.select_for_update().select_related("bundle").get(pk=event_id)
    if not (by.is_staff or event.bundle.requester_id == by.pk):
        raise Forbidden("Only the bundle's requester or an admin can reverse this.")
    if event.reversed_at is not None:
        raise Conflict("This action was already reversed.")
    if event.action in BLOCKING_ACTIONS:
        for bundle_id in event.figures.get("bundles", [event.bundle_id]):
            worker_unblock(worker_id=event.worker_id, bundle_id=bundle_id, by=by)
    elif event.action in rule_actions.UNDO:
        rule_actions.UNDO[event.action](event=event, by=by)
    event.reversed_at = timezone.now()
    event.reversed_by = by
    event.save(update_fields=["reversed_at", "reversed_by"])
    return event
