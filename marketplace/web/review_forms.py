"""The review queue's filter bar and its bulk-action confirmation."""

from __future__ import annotations

from typing import Any

from django import forms

from tasks.review_queue import ReviewFilter

GOLD_CHOICES = [
    ("", "Any answer"),
    ("incorrect", "Gold answers that failed"),
    ("correct", "Gold answers that passed"),
]


class ReviewFilterForm(forms.Form):
    """GET filters; every field optional. Confidence is typed in percent."""

    worker = forms.CharField(
        label="Worker", required=False, max_length=20, help_text="The pseudonym, w_…"
    )
    gold = forms.ChoiceField(label="Gold", required=False, choices=GOLD_CHOICES)
    disagree = forms.BooleanField(label="Disagrees with the label", required=False)
    max_confidence = forms.IntegerField(
        label="Label confidence at most (%)", required=False, min_value=0, max_value=100
    )
    group = forms.ChoiceField(
        label="Show",
        required=False,
        choices=[("", "Answers, oldest first"), ("item", "Grouped by item")],
    )

    def criteria(self) -> ReviewFilter:
        """The filter the form describes (an invalid form filters nothing)."""
        if not self.is_valid():
            return ReviewFilter()
        data = self.cleaned_data
        confidence = data.get("max_confidence")
        return ReviewFilter(
            worker=data.get("worker") or "",
            gold=data.get("gold") or "",
            disagree=bool(data.get("disagree")),
            max_confidence=None if confidence is None else confidence / 100,
        )

    def active(self) -> bool:
        """Whether any filter is set (a bulk action is offered only on a filtered queue or
        on all of it knowingly; the page says which)."""
        return self.criteria() != ReviewFilter()


class BulkReviewForm(forms.Form):
    """Approve or reject everything a filter matched, up to the newest answer the requester
    were counted (submitted by `as_of`, when the queue was shown); `confirm` is set only by the
    confirmation page's button."""

    bulk = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    as_of = forms.DateTimeField()
    confirm = forms.CharField(required=False)
    reason = forms.CharField(
        max_length=1000,
        required=False,
        label="Reason (required to reject; each worker sees it)",
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if (
            data.get("bulk") == "reject"
            and data.get("confirm") == "yes"
            and not (data.get("reason") or "").strip()
        ):
            self.add_error("reason", "Give a reason to reject: each worker sees it.")
        return data
