"""The worker's own profile form: country and the self-declared qualifications."""

from __future__ import annotations

from typing import Any

from django import forms

from accounts.self_declared import BOUNDS, SELF_DECLARED

LABELS = {
    "english_level": "English level",
    "education_level": "Highest education",
    "birth_year": "Year of birth",
}


class WorkerProfileForm(forms.Form):
    country = forms.CharField(
        label="Country",
        required=False,
        max_length=2,
        help_text="Two-letter code (DE, US, ...). Requesters may target work by country.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, (description, allowed) in SELF_DECLARED.items():
            if allowed is not None:
                choices = [("", "Prefer not to say")] + [(str(v), t) for v, t in allowed.items()]
                self.fields[name] = forms.TypedChoiceField(
                    label=LABELS[name], required=False, choices=choices, coerce=int,
                    empty_value=None, help_text=description,
                )  # fmt: skip
            else:
                low, high = BOUNDS[name]
                self.fields[name] = forms.IntegerField(
                    label=LABELS[name], required=False, min_value=low, max_value=high,
                    help_text=description,
                )  # fmt: skip

    def declared(self) -> dict[str, int | None]:
        return {name: self.cleaned_data.get(name) for name in SELF_DECLARED}
