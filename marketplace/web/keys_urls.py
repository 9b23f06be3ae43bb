"""The MTurk API keys page (namespace `keys`), apart from the console's URLs."""

from django.urls import path

from .views import keys

app_name = "keys"

urlpatterns = [
    path("api-keys/", keys.api_keys, name="api-keys"),
    path("api-keys/<str:access_key_id>/revoke/", keys.api_key_revoke, name="api-key-revoke"),
]
