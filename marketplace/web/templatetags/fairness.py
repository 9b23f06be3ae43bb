"""`{% bundle_fairness bundle %}`: the bundle page's pay-floor state (the requester's answer
to a pilot below the floor) and the workers' reports about the bundle (issue 15)."""

from __future__ import annotations

from typing import Any

from django import template

from tasks import payfloor
from tasks.fairness.payfloor_actions import minimum_reward
from tasks.models import Bundle, PayFloorState
from tasks.selectors import worker_public_id

from ..money import money

register = template.Library()


@register.inclusion_tag("web/fairness/_bundle.html")
def bundle_fairness(bundle: Bundle) -> dict[str, Any]:
    floor = payfloor.floor_hourly_minor(bundle.currency)
    median = bundle.pilot_median_seconds
    hourly = payfloor.hourly_minor(bundle.reward_minor, median)
    reports = [
        {"report": r, "worker": worker_public_id(bundle.requester_id, r.worker_id)}
        for r in bundle.reports.all()[:50]
    ]
    return {
        "bundle": bundle,
        "below": bundle.pay_floor_state == PayFloorState.BELOW,
        "state": bundle.get_pay_floor_state_display(),
        "floor": money(floor, bundle.currency),
        "median": round(median) if median else None,
        "hourly": money(hourly, bundle.currency) if hourly is not None else "",
        "minimum_reward": minimum_reward(bundle) if median else None,
        "minimum_reward_text": money(minimum_reward(bundle), bundle.currency) if median else "",
        "reports": reports,
    }
