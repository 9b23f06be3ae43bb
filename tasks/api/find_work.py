"""Find work on the API: the query parameters of `GET /api/v1/work/bundles/` and the bundle
as a worker weighs it. The filtering and sorting are `tasks.find_work`'s (the selector the
page uses too); the FilterSet here validates and documents the parameters only."""

from __future__ import annotations

from django import forms
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tasks.api.question_schema import QuestionField
from tasks.find_work import SORTS, WorkCriteria, WorkOffer
from tasks.models import Bundle


class _IntegerFilter(filters.NumberFilter):
    field_class = forms.IntegerField


def _integer(help_text: str, **bounds: int) -> _IntegerFilter:
    """An integer parameter, documented as one (a NumberFilter alone reads as a float)."""
    parameter = _IntegerFilter(help_text=help_text, **bounds)
    return extend_schema_field({"type": "integer", "description": help_text})(parameter)


class FindWorkFilter(filters.FilterSet):
    """The find-work parameters, as on the page (amounts in minor units, as `reward` is)."""

    q = filters.CharFilter(
        max_length=200,
        help_text="Words that must all appear in the title, instructions or requester's name.",
    )
    min_reward = _integer("Reward per task at least (minor units).", min_value=0)
    min_hourly = _integer(
        "Estimated hourly pay at least (minor units); bundles without enough approved work "
        "for an estimate are left out.",
        min_value=0,
    )
    max_minutes = _integer(
        "Takes at most this many minutes: the typical time per task, or the time limit while "
        "there is no data.",
        min_value=1,
        max_value=24 * 60,
    )
    requester = _integer("Only this requester's bundles (its `requester_id`).", min_value=1)
    type = filters.CharFilter(max_length=40, help_text="The question type, e.g. `rating`.")
    sort = filters.ChoiceFilter(
        choices=[(key, key) for key in SORTS],
        help_text="newest (the default), hourly (estimated hourly pay, unknown last), "
        "tasks_left or reward; each highest first.",
    )

    class Meta:
        model = Bundle
        fields: list[str] = []

    def filter_queryset(self, queryset):
        raise NotImplementedError("find work filters offers: use criteria() with the selector")

    def criteria(self) -> WorkCriteria:
        """The selector's criteria from the validated parameters (call is_valid() first)."""
        data = self.form.cleaned_data
        return WorkCriteria(
            q=data.get("q") or "",
            min_reward_minor=data.get("min_reward"),
            min_hourly_minor=data.get("min_hourly"),
            max_seconds=(data.get("max_minutes") or 0) * 60 or None,
            requester_id=data.get("requester"),
            question_type=data.get("type") or "",
            sort=data.get("sort") or "newest",
        )


class WorkOfferSerializer(serializers.Serializer):
    """A bundle open to the worker (the fields of `WorkBundle`), with the estimates and the
    requester find work shows and sorts by."""

    id = serializers.IntegerField(source="bundle.pk")
    title = serializers.CharField(source="bundle.title")
    instructions = serializers.CharField(source="bundle.instructions")
    question = QuestionField(source="bundle.question")
    reward = serializers.IntegerField(source="bundle.reward_minor")
    currency = serializers.CharField(source="bundle.currency")
    time_limit_seconds = serializers.IntegerField(source="bundle.time_limit_seconds")
    tasks_left = serializers.IntegerField(help_text="Tasks this worker may still take.")
    published_at = serializers.DateTimeField(source="bundle.published_at")
    type = serializers.CharField(source="question_type")
    requester_id = serializers.IntegerField(source="bundle.requester_id")
    requester_name = serializers.CharField()
    requester_rejection_percent = serializers.SerializerMethodField(
        help_text="Of the requester's reviewed work, the share rejected; null before any review."
    )
    typical_seconds = serializers.FloatField(
        source="median_seconds",
        allow_null=True,
        help_text="Trimmed mean time of recent approved answers; null: not enough data.",
    )
    hourly_pay = serializers.IntegerField(
        source="hourly_minor",
        allow_null=True,
        help_text="Estimated pay per hour (minor units) at the typical time; null: no data.",
    )

    def get_requester_rejection_percent(self, offer: WorkOffer) -> int | None:
        rates = offer.requester_rates
        return rates.rejection_percent if rates is not None else None
