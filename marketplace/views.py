from django.shortcuts import render

# Set by accounts.adapters.AccountAdapter when an account is created, read once here: the
# first page after sign-up greets a newcomer, not a returning user (issue 15, bug 8).
JUST_SIGNED_UP = "just_signed_up"


def home(request):
    first_visit = bool(request.session.pop(JUST_SIGNED_UP, False))
    return render(request, "home.html", {"first_visit": first_visit})
