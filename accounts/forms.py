from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms

from .services import user_set_roles


class SignupForm(AllauthSignupForm):
    """Email + password, plus which roles the person wants: requester, worker or both."""

    ROLE_CHOICES = [("worker", "I want to work on tasks"), ("requester", "I want to publish tasks")]
    roles = forms.MultipleChoiceField(
        choices=ROLE_CHOICES, widget=forms.CheckboxSelectMultiple, initial=["worker"]
    )
    country = forms.CharField(max_length=2, required=False, help_text="Two-letter country code")

    def save(self, request):
        user = super().save(request)
        roles = set(self.cleaned_data.get("roles") or [])
        user_set_roles(
            user=user,
            requester="requester" in roles,
            worker="worker" in roles,
            country=self.cleaned_data.get("country") or "",
        )
        return user
