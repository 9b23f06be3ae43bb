"""Find work: the worker's search, filters and sort over the bundles open to them.

The bundles come from `tasks.selectors.bundles_for_worker` (published, qualified, not blocked,
work left for this worker); the few hundred live at a time are filtered and sorted here in
Python, because the sort everyone wants (estimated hourly pay) is computed per bundle from
its approved work (`display.median_seconds_by_bundle`), not stored."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from accounts.models import RequesterProfile
from tasks import payfloor
from tasks.fairness.selectors import RequesterRates, requester_rates
from tasks.models import Bundle

from . import display
from .money import MINOR_PER_MAJOR, money

SORTS = [
    ("newest", "Newest"),
    ("hourly", "Estimated hourly pay"),
    ("tasks_left", "Tasks left"),
    ("reward", "Reward per task"),
]


def type_label(question_type: str) -> str:
    return question_type.replace("_", " ").capitalize()


class FindWorkForm(forms.Form):
    """The filter bar (GET). Every field is optional; a bad value is an error next to it."""

    q = forms.CharField(label="Search", required=False, max_length=200)
    min_reward = forms.DecimalField(
        label="Reward at least", required=False, min_value=0, max_digits=9, decimal_places=2
    )
    min_hourly = forms.DecimalField(
        label="Hourly pay at least", required=False, min_value=0, max_digits=9, decimal_places=2
    )
    max_minutes = forms.IntegerField(
        label="Takes at most (minutes)",
        required=False,
        min_value=1,
        max_value=24 * 60,
        help_text="The typical time per task, or the time limit while there is no data.",
    )
    requester = forms.TypedChoiceField(label="Requester", required=False, coerce=int)
    type = forms.ChoiceField(label="Task type", required=False)
    sort = forms.ChoiceField(label="Sort by", required=False, choices=SORTS)

    def __init__(self, data: Any, *, requesters: dict[int, str], types: list[str]) -> None:
        super().__init__(data)
        self.fields["requester"].choices = [("", "Any requester")] + sorted(
            requesters.items(), key=lambda kv: kv[1].lower()
        )
        self.fields["type"].choices = [("", "Any type")] + [(t, type_label(t)) for t in types]


def requester_names(requester_ids: set[int]) -> dict[int, str]:
    """{requester id: the public name workers see} (one query)."""
    profiles = RequesterProfile.objects.filter(user_id__in=requester_ids)
    names = {p.user_id: p.public_name for p in profiles}
    return {rid: names.get(rid, f"Requester #{rid}") for rid in requester_ids}


def work_rows(bundles: list[Bundle]) -> list[dict[str, Any]]:
    """One card per bundle with what a worker decides on: pay, time, the requester's name and
    how often they approve, what is left."""
    medians = display.median_seconds_by_bundle([b.pk for b in bundles])
    standing = requester_rates(b.requester_id for b in bundles)  # one COUNT for all of them
    names = requester_names({b.requester_id for b in bundles})
    rows = []
    for bundle in bundles:
        median = medians.get(bundle.pk)
        hourly = display.hourly_minor(bundle, median)
        rows.append(
            {
                "bundle": bundle,
                "type": bundle.question.get("type", ""),
                "type_label": type_label(bundle.question.get("type", "")),
                "reward_minor": bundle.reward_minor,
                "reward": money(bundle.reward_minor, bundle.currency),
                "tasks_left": bundle.tasks_left,
                "median_seconds": median,
                "median": display.duration(median) if median else "",
                "hourly_minor": hourly,
                "hourly": money(hourly, bundle.currency) if hourly is not None else "",
                "time_limit": display.duration(bundle.time_limit_seconds),
                "requester_name": names[bundle.requester_id],
                "requester_approval": _approval_text(standing.get(bundle.requester_id)),
                "requester_rates": standing.get(bundle.requester_id),
                "floor": money(payfloor.floor_hourly_minor(bundle.currency), bundle.currency),
            }
        )
    return rows


def _approval_text(rates: RequesterRates | None) -> str:
    """The requester's approval percent of reviewed work ("" before any review)."""
    if rates is None or rates.rejection_percent is None:
        return ""
    return f"{(rates.reviewed - rates.rejected) * 100 // rates.reviewed}%"


def _minor(amount: Decimal | None) -> int | None:
    return None if amount is None else int(amount * MINOR_PER_MAJOR)


def filter_and_sort(rows: list[dict[str, Any]], criteria: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows matching the cleaned form data, in the order asked (newest by default)."""
    words = (criteria.get("q") or "").casefold().split()
    min_reward = _minor(criteria.get("min_reward"))
    min_hourly = _minor(criteria.get("min_hourly"))
    max_seconds = (criteria.get("max_minutes") or 0) * 60
    requester = criteria.get("requester")
    qtype = criteria.get("type")

    def keep(row: dict[str, Any]) -> bool:
        bundle = row["bundle"]
        text = f"{bundle.title}\n{bundle.instructions}\n{row['requester_name']}".casefold()
        seconds = row["median_seconds"] or bundle.time_limit_seconds
        return (
            all(word in text for word in words)
            and (min_reward is None or row["reward_minor"] >= min_reward)
            and (min_hourly is None or (row["hourly_minor"] or -1) >= min_hourly)
            and (not max_seconds or seconds <= max_seconds)
            and (not requester or bundle.requester_id == requester)
            and (not qtype or row["type"] == qtype)
        )

    kept = [row for row in rows if keep(row)]
    sort = criteria.get("sort") or "newest"
    if sort == "hourly":  # unknown pay last, not first
        kept.sort(key=lambda r: (r["hourly_minor"] is None, -(r["hourly_minor"] or 0)))
    elif sort == "tasks_left":
        kept.sort(key=lambda r: -r["tasks_left"])
    elif sort == "reward":
        kept.sort(key=lambda r: -r["reward_minor"])
    return kept  # newest: the selector's order
