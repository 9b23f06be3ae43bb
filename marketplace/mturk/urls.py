from django.urls import path

from . import views

app_name = "mturk"

urlpatterns = [
    path("", views.endpoint, name="endpoint"),
]
