"""The money pages' URLs, in their own namespace (`money:balance`), as before the move."""

from django.urls import path

from . import views

app_name = "money"

urlpatterns = [
    path("balance/", views.balance, name="balance"),
    path("balance/test-funds/", views.balance_test_funds, name="test-funds"),
]
