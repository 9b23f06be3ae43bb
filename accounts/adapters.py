from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings


class AccountAdapter(DefaultAccountAdapter):
    """Lets an operator close public sign-up (ACCOUNT_ALLOW_REGISTRATION=false) on a private
    deployment; accounts are then made with `manage.py create_account`."""

    def is_open_for_signup(self, request):
        return getattr(settings, "ACCOUNT_ALLOW_REGISTRATION", True)

    def save_user(self, request, user, form, commit=True):
        """Marks the session so the first page greets a newcomer ("Welcome", not "Welcome
        back"); the home view reads the mark once."""
        user = super().save_user(request, user, form, commit=commit)
        if request is not None and hasattr(request, "session"):
            request.session["just_signed_up"] = True
        return user
