from django.apps import AppConfig


class WebConfig(AppConfig):
    """The server-rendered pages (worker workspace, requester console, money pages).

    No models: the pages read through the domain apps' selectors and write through their
    services; no domain app imports this one."""

    name = "marketplace.web"
    label = "web"
    default_auto_field = "django.db.models.BigAutoField"
