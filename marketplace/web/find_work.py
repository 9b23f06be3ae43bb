"""Find work's page: the filter bar and the cards. What is open, the estimates and the
filtering and sorting are `tasks.find_work`'s, the selector the API's list uses as well;
this module turns the form into its criteria and an offer into a card's strings."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from tasks import payfloor
from tasks.fairness.selectors import RequesterRates
from tasks.find_work import WorkCriteria, WorkOffer, offers_of

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


def criteria_from_form(cleaned: dict[str, Any]) -> WorkCriteria:
    """The selector's criteria from the form's cleaned data (amounts typed in major units)."""
    return WorkCriteria(
        q=cleaned.get("q") or "",
        min_reward_minor=_minor(cleaned.get("min_reward")),
        min_hourly_minor=_minor(cleaned.get("min_hourly")),
        max_seconds=(cleaned.get("max_minutes") or 0) * 60 or None,
        requester_id=cleaned.get("requester") or None,
        question_type=cleaned.get("type") or "",
        sort=cleaned.get("sort") or "newest",
    )


def work_rows(offers: list[WorkOffer]) -> list[dict[str, Any]]:
    """One card per offer with what a worker decides on: pay, time, the requester's name and
    how often they approve, what is left."""
    rows = []
    for offer in offers:
        bundle, median, hourly = offer.bundle, offer.median_seconds, offer.hourly_minor
        rows.append(
            {
                "bundle": bundle,
                "type": offer.question_type,
                "type_label": type_label(offer.question_type),
                "reward_minor": bundle.reward_minor,
                "reward": money(bundle.reward_minor, bundle.currency),
                "tasks_left": offer.tasks_left,
                "median_seconds": median,
                "median": display.duration(median) if median else "",
                "hourly_minor": hourly,
                "hourly": money(hourly, bundle.currency) if hourly is not None else "",
                "time_limit": display.duration(bundle.time_limit_seconds),
                "requester_name": offer.requester_name,
                "requester_approval": _approval_text(offer.requester_rates),
                "requester_rates": offer.requester_rates,
                "floor": money(payfloor.floor_hourly_minor(bundle.currency), bundle.currency),
            }
        )
    return rows


def preview_row(bundle: Any) -> dict[str, Any]:
    """The card of one bundle (its preview page)."""
    return work_rows(offers_of([bundle]))[0]


def _approval_text(rates: RequesterRates | None) -> str:
    """The requester's approval percent of reviewed work ("" before any review)."""
    if rates is None or rates.rejection_percent is None:
        return ""
    return f"{(rates.reviewed - rates.rejected) * 100 // rates.reviewed}%"


def _minor(amount: Decimal | None) -> int | None:
    return None if amount is None else int(amount * MINOR_PER_MAJOR)
