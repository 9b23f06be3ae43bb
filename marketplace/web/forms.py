"""Forms of the web product: they parse and check what a person typed; the services decide."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.text import slugify

from tasks.schema import QUESTION_TYPES, InvalidAnswer, answer_from_text, answer_validate

from . import annotation
from .money import AmountField, currency_choices
from .quality_form import QualityFields

QUESTION_TYPE_LABELS = {
    "single_choice": "Single choice (pick one)",
    "multiple_choice": "Multiple choice (pick any)",
    "rating": "Rating (1 to N)",
    "number": "Number",
    "text": "Free text",
    **annotation.TYPE_LABELS,
}
# The plain types first, then the annotation types (tasks.schema lists them too after issue 12).
FORM_QUESTION_TYPES = (
    *QUESTION_TYPES,
    *(t for t in annotation.ANNOTATION_TYPES if t not in QUESTION_TYPES),
)
CURRENCIES = currency_choices()  # "USD ($)", ...


REQUIREMENT_LINE = re.compile(
    r"^([a-z0-9_-]+)\s*(>=|<=|!=|=|>|<|not\s+in|in|exists|does\s+not\s+exist)\s*(.*)$", re.I
)
COMPARATOR_WORDS = {
    ">=": "GreaterThanOrEqualTo", ">": "GreaterThan", "<=": "LessThanOrEqualTo",
    "<": "LessThan", "=": "EqualTo", "!=": "NotEqualTo", "in": "In", "not in": "NotIn",
    "exists": "Exists", "does not exist": "DoesNotExist",
}  # fmt: skip


class BundleCreateForm(QualityFields, forms.Form):
    title = forms.CharField(max_length=200)
    instructions = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        required=False,
        help_text="What workers should do. Shown above every task.",
    )
    question_type = forms.ChoiceField(
        choices=[(t, QUESTION_TYPE_LABELS.get(t, t)) for t in FORM_QUESTION_TYPES],
        initial="single_choice",
    )
    prompt = forms.CharField(
        max_length=500, required=False, help_text="The question asked on every item (optional)."
    )
    choices = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text='Choice questions: one choice per line, as "value | Label" or just "Label". '
        "Workers pick them with the keys 1 to 9.",
    )
    rating_max = forms.IntegerField(
        min_value=2, max_value=10, initial=5, required=False, help_text="Rating: from 1 to this."
    )
    question_json = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false", "class": "code"}),
        required=False,
        label="Question schema (JSON)",
        help_text="Images, boxes, polygons, spans, transcription and pairs: labels and options "
        "as JSON (a template fills it in; see the API guide for every option).",
    )
    currency = forms.ChoiceField(choices=CURRENCIES, initial="usd")
    reward = AmountField(
        min_value=Decimal("0.01"),
        max_value=Decimal("1000"),
        initial=Decimal("0.05"),
        help_text="Paid per approved answer, e.g. 0.05. The platform fee comes on top.",
    )
    overlap = forms.IntegerField(
        min_value=1, max_value=100, initial=3, help_text="Answers wanted per item."
    )
    max_overlap = forms.IntegerField(
        min_value=1,
        max_value=100,
        required=False,
        label="At most (adaptive)",
        help_text="Optional: ask for more answers, up to this many, only where workers disagree.",
    )
    target_confidence = forms.IntegerField(
        min_value=50,
        max_value=99,
        required=False,
        label="Target confidence (%)",
        help_text="With dynamic overlap: an item is done once its label is this sure (default 90).",
    )
    gold_rate = forms.IntegerField(
        min_value=0,
        max_value=50,
        initial=0,
        label="Gold rate (%)",
        help_text="Share of tasks that are gold (known-answer) checks; needs gold items.",
    )
    min_gold_accuracy = forms.IntegerField(
        min_value=0,
        max_value=100,
        required=False,
        label="Minimum gold accuracy (%)",
        help_text="Workers under this on gold are blocked from the bundle (optional).",
    )
    time_limit_minutes = forms.IntegerField(
        min_value=1, max_value=24 * 60, initial=10, label="Time limit per task (minutes)"
    )
    estimated_seconds = forms.IntegerField(
        min_value=1, max_value=24 * 3600, required=False,
        label="Estimated time per task (seconds; must pay the platform's hourly floor)",
    )  # fmt: skip
    auto_approve_hours = forms.IntegerField(
        min_value=1,
        max_value=30 * 24,
        initial=72,
        required=False,
        label="Auto-approve after (hours)",
        help_text="Answers you have not reviewed by then are approved and paid.",
    )
    requirements = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Worker requirements",
        help_text=(
            "One per line: approval_rate >= 95, approved_count > 100, country in US,CA, "
            "or one of your own qualifications, e.g. sentiment-exam >= 80."
        ),
    )
    gold_feedback = forms.BooleanField(
        required=False,
        label="Tell workers whether their gold answers were correct",
        help_text="They see correct or incorrect, never the gold answer itself.",
    )
    gold_feedback_expected = forms.BooleanField(
        required=False,
        label="Show workers the expected answer after a gold task",
        help_text="Annotation types: the gold boxes, spans or text, shown only once the worker "
        "has answered, so they learn (a worker never gets the same item twice).",
    )

    def clean_choices(self) -> list[dict[str, str]]:
        return parse_choices(self.cleaned_data.get("choices", ""))

    def clean_question_json(self) -> dict[str, Any] | None:
        return parse_question_json(self.cleaned_data.get("question_json", ""))

    def clean_requirements(self) -> list[dict[str, Any]]:
        """Lines like `approval_rate >= 95` or `country in US,CA` into requirement objects;
        the service validates names and values (errors come back next to this field)."""
        parsed = []
        for number, line in enumerate(self.cleaned_data.get("requirements", "").splitlines(), 1):
            if not line.strip():
                continue
            match = REQUIREMENT_LINE.match(line.strip())
            if match is None:
                raise forms.ValidationError(
                    f"Line {number}: write it as `name >= 95` or `country in US,CA`."
                )
            name, op, value = match.group(1), match.group(2).lower(), match.group(3).strip()
            comparator = COMPARATOR_WORDS[" ".join(op.split())]
            entry: dict[str, Any] = {"qualification": name, "comparator": comparator}
            if comparator in ("In", "NotIn"):
                entry["values"] = [v.strip().upper() if name == "country" else v.strip()
                                   for v in value.split(",") if v.strip()]  # fmt: skip
            elif comparator not in ("Exists", "DoesNotExist"):
                if name == "country":
                    entry["value"] = value.upper()
                else:
                    try:
                        entry["value"] = int(value)
                    except ValueError as exc:
                        raise forms.ValidationError(
                            f"Line {number}: {value!r} is not a whole number."
                        ) from exc
            parsed.append(entry)
        return parsed

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        qtype = data.get("question_type")
        if qtype in ("single_choice", "multiple_choice") and len(data.get("choices") or []) < 2:
            self.add_error("choices", "List at least two choices, one per line.")
        if qtype == "rating" and not data.get("rating_max"):
            self.add_error("rating_max", "Give the top of the rating scale.")
        annotating = qtype in annotation.ANNOTATION_TYPES
        if annotating and "question_json" not in self.errors and not data.get("question_json"):
            self.add_error("question_json", "Give the question's labels and options.")
        top, overlap = data.get("max_overlap"), data.get("overlap")
        if top is not None and overlap is not None and top < overlap:
            self.add_error("max_overlap", "Must be at least the number of answers wanted.")
        return data

    def service_data(self) -> dict[str, Any]:
        """The cleaned form as `tasks.services.bundle_create` data (amounts in minor units)."""
        data = self.cleaned_data
        result: dict[str, Any] = {
            "title": data["title"],
            "instructions": data.get("instructions", ""),
            "question": question_from_fields(data),
            "reward_minor": data["reward"],  # AmountField: already integer minor units
            "currency": data["currency"],
            "min_overlap": data["overlap"],
            "max_overlap": max(data.get("max_overlap") or data["overlap"], data["overlap"]),
            "auto_approve_after_seconds": (data.get("auto_approve_hours") or 72) * 3600,
            "requirements": data.get("requirements") or [],
            "gold_rate": data["gold_rate"] / 100,
            "time_limit_seconds": data["time_limit_minutes"] * 60,
            "gold_feedback": data.get("gold_feedback", False),
            # Hidden for plain types (the template shows it for annotation types only), so a
            # box ticked before switching to a plain type is not an error the person cannot see.
            "gold_feedback_expected": bool(data.get("gold_feedback_expected"))
            and data.get("question_type") in annotation.ANNOTATION_TYPES,
        }
        if data.get("estimated_seconds"):
            result["estimated_seconds"] = data["estimated_seconds"]
        if data.get("target_confidence") is not None:
            result["target_confidence"] = data["target_confidence"] / 100
        if data.get("min_gold_accuracy") is not None:
            result["min_gold_accuracy"] = data["min_gold_accuracy"] / 100
        result.update(self.quality_service_data())  # validated by the service
        return result

    def error_field(self, code: str) -> str | None:
        """The field a service error is about, so the error shows next to it."""
        if code == "invalid_question" and self.cleaned_data.get("question_type") in (
            annotation.ANNOTATION_TYPES
        ):
            return "question_json"
        return BUNDLE_ERROR_FIELDS.get(code)


def parse_choices(text: str) -> list[dict[str, str]]:
    """Choice lines, as "value | Label" or just "Label" (the value is then its slug)."""
    choices = []
    for line in filter(None, (line.strip() for line in text.splitlines())):
        value, sep, label = line.partition("|")
        value, label = value.strip(), label.strip()
        if not sep:
            label, value = value, slugify(value) or value
        choices.append({"value": value, "label": label or value})
    return choices


def parse_question_json(text: str) -> dict[str, Any] | None:
    if not text.strip():
        return None
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        raise forms.ValidationError(f"Not valid JSON: {exc}.") from exc
    if not isinstance(parsed, dict):
        raise forms.ValidationError("The question must be a JSON object.")
    return parsed


def question_from_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The question the create form's fields describe (the service validates it): the type
    with its prompt and choices or scale, or for annotation types the JSON schema, its type
    set by the type field."""
    qtype = data.get("question_type") or "single_choice"
    question: dict[str, Any] = {"type": qtype}
    if qtype in annotation.ANNOTATION_TYPES:
        question = {**(data.get("question_json") or {}), "type": qtype}
    if data.get("prompt"):
        question["prompt"] = data["prompt"]
    if qtype in ("single_choice", "multiple_choice"):
        question["choices"] = data.get("choices") or []
    elif qtype == "rating":
        question["min"], question["max"] = 1, data.get("rating_max") or 5
    return question


# Service error codes -> the form field they are about, so the error shows next to it.
BUNDLE_ERROR_FIELDS = {
    "invalid_question": "choices",
    "invalid_overlap": "overlap",
    "invalid_target": "target_confidence",
    "invalid_requirements": "requirements",
    "invalid_gold_rate": "gold_rate",
    "invalid_gold_accuracy": "min_gold_accuracy",
    "invalid_amount": "reward",
    "invalid_quality_rules": "quality_rules",
    "invalid_canary": "agent_canary",
    "invalid_exam": "exam_qualification",
}


class ItemUploadForm(forms.Form):
    file = forms.FileField(
        label="Items file",
        help_text='CSV with a header row (optional "external_id" and "gold" columns; every '
        "other column goes into the item), a JSON array or JSON lines; or a zip of images "
        "(PNG, JPEG, WebP, GIF) or audio plus one such file naming them, e.g. image: "
        "img/0001.png.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.json,.jsonl,.ndjson,.zip"}),
    )


class PublishForm(forms.Form):
    """Only a CSRF-protected POST; nothing to fill in."""


class ReviewForm(forms.Form):
    ACTIONS = [("approve", "Approve"), ("reject", "Reject")]
    ids = forms.TypedMultipleChoiceField(coerce=int, choices=(), label="Assignments")
    action = forms.ChoiceField(choices=ACTIONS)
    reason = forms.CharField(
        max_length=1000,
        required=False,
        label="Reason (required to reject; the worker sees it)",
        # A textarea, not an input: Enter in a one-line input submits the form with its first
        # button (Approve), which pays and cannot be undone (issue 15, bug 1).
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, assignment_ids: list[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["ids"].choices = [(pk, str(pk)) for pk in assignment_ids]
        self.fields["ids"].error_messages["required"] = "Select at least one answer to review."
        self.fields["ids"].error_messages["invalid_choice"] = (
            "Some selected answers were already reviewed; reload the queue."
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("action") == "reject" and not (data.get("reason") or "").strip():
            self.add_error("reason", "Give a reason to reject: the worker sees it.")
        return data


def answer_from_post(question: dict[str, Any], post: Any, *, payload: Any = None) -> Any:
    """The answer a task form posted, parsed and validated against the question schema (and,
    for annotation types, the item's `payload`: spans need its text, boxes its image size).

    Raises InvalidAnswer with a message for the person (shown next to the question)."""
    if annotation.is_annotation(question):
        return annotation.answer_from_post(question, post)
    qtype = question["type"]
    if qtype == "multiple_choice" or (qtype == "image_classification" and question["multiple"]):
        chosen = [v for v in post.getlist("answer") if v]
        if not chosen:
            raise InvalidAnswer("Pick at least one option.")
        return answer_validate(question, chosen, payload=payload)
    raw = post.get("answer", "")
    if not raw.strip():
        pick = qtype in ("single_choice", "rating", "image_classification")
        raise InvalidAnswer("Pick an option." if pick else "Enter an answer.")
    return answer_from_text(question, raw, payload=payload)


_IMAGE_URL = re.compile(r"^https?://\S+\.(?:png|jpe?g|gif|webp|avif|svg|bmp)(?:[?#]\S*)?$", re.I)


def is_image_url(value: Any) -> bool:
    return isinstance(value, str) and bool(_IMAGE_URL.match(value.strip()))


class WorkerBlockForm(forms.Form):
    """Block one worker from a bundle; each worker row has its own form (prefix = their
    public id), so an error shows next to that row's reason field."""

    reason = forms.CharField(
        max_length=1000,
        label="Reason",
        help_text="Required; the worker sees it.",
        widget=forms.TextInput(),
        error_messages={"required": "Give a reason to block: the worker sees it."},
    )

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("Give a reason to block: the worker sees it.")
        return reason


class PayoutRequestForm(forms.Form):
    """Ask for a payout of part (or all) of the available balance."""

    amount = AmountField(min_value=Decimal("0.01"), max_value=Decimal("1000000"), label="Amount")
    currency = forms.ChoiceField(choices=CURRENCIES, initial="usd")
    # One token per form shown: a double click or a retried POST is one payout.
    request_key = forms.CharField(widget=forms.HiddenInput, max_length=100)


class PayoutDetailsForm(forms.Form):
    """Where the bank transfer goes (manual payouts): kept encrypted, shown masked."""

    account_holder = forms.CharField(max_length=140, label="Account holder")
    account = forms.CharField(
        max_length=64,
        label="IBAN or account number",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    bank_code = forms.CharField(
        max_length=32,
        required=False,
        label="BIC, routing number or sort code",
        help_text="If your bank needs one for transfers from abroad.",
    )


class TopUpForm(forms.Form):
    """A requester's card top-up, paid on Stripe's Checkout page."""

    amount = AmountField(
        min_value=Decimal("1.00"),
        max_value=Decimal("100000"),
        label="Amount",
        help_text="Paid by card on Stripe's page; credited when Stripe confirms the payment.",
    )
    currency = forms.ChoiceField(choices=currency_choices(with_symbol=False))
    # One token per form shown: a double click or a retried POST is one top-up.
    client_token = forms.CharField(widget=forms.HiddenInput, max_length=100)


class TestFundsForm(forms.Form):
    """Test money for trying the product out (development only: DEBUG on, no Stripe)."""

    amount = AmountField(
        min_value=Decimal("1.00"),
        max_value=Decimal("100000"),
        label="Amount",
        help_text="Test money, not real: it only exists on this development site.",
    )
    currency = forms.ChoiceField(choices=currency_choices(with_symbol=False))
    # One token per form shown: a double click is one credit.
    client_token = forms.CharField(widget=forms.HiddenInput, max_length=100)


# Payout service error codes -> the field they are about (the rest are shown above the form).
PAYOUT_ERROR_FIELDS = {
    "invalid_amount": "amount",
    "payout_below_minimum": "amount",
    "insufficient_funds": "amount",
    "invalid_currency": "currency",
}


class BonusForm(forms.Form):
    """A bonus to one of the requester's workers, named by the pseudonym the requester sees."""

    amount = AmountField(min_value=Decimal("0.01"), max_value=Decimal("1000"), label="Amount")
    reason = forms.CharField(
        max_length=500,
        label="Reason",
        help_text="Required; the worker reads it next to the bonus.",
        error_messages={"required": "Give a reason: the worker reads it."},
    )
    # One token per form shown: a double click or a retried POST pays one bonus.
    client_token = forms.CharField(widget=forms.HiddenInput, max_length=100)

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("Give a reason: the worker reads it.")
        return reason
