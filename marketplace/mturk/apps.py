from django.apps import AppConfig


class MTurkConfig(AppConfig):
    """MTurk's 2017-01-17 requester API on top of the domain apps (see DESIGN.md,
    "MTurk-compatible requester API"): HIT questions, access keys, the AWS JSON endpoint."""

    name = "marketplace.mturk"
    label = "mturk"
    default_auto_field = "django.db.models.BigAutoField"
