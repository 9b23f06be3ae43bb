from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings


class AccountAdapter(DefaultAccountAdapter):
    """Lets an operator close public sign-up (ACCOUNT_ALLOW_REGISTRATION=false) on a private
    deployment; accounts are then made with `manage.py create_account`."""

    def is_open_for_signup(self, request):
        return getattr(settings, "ACCOUNT_ALLOW_REGISTRATION", True)
