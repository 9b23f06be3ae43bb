from django.urls import path

from . import views

app_name = "mturk"

urlpatterns = [
    path("", views.endpoint, name="endpoint"),
    # MTurk's sandbox endpoint: the same API, play money, only the requester's test workers.
    path("sandbox/", views.endpoint, {"sandbox": True}, name="sandbox-endpoint"),
]
