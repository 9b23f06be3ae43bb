"""The worker-facing routes under /mturk/ (the requester API endpoint is in urls.py)."""

from django.urls import path

from . import worker_views

app_name = "mturk-worker"

urlpatterns = [
    path("externalSubmit", worker_views.external_submit, name="external-submit"),
    path(
        "submit/<str:token>/mturk/externalSubmit",
        worker_views.external_submit,
        name="external-submit-signed",
    ),
]
