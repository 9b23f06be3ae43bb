"""Access keys: the command, the console page (secret shown once, revoke, scoped to the
owner), the admin (read-only secret, revoke action) and a revoked key refused by the API."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from django.contrib.admin.sites import site
from django.core.management import CommandError, call_command
from django.urls import reverse

from marketplace.mturk.keys import access_key_create, secret_decrypt
from marketplace.mturk.models import AccessKey
from tests.factories import RequesterFactory, UserFactory, WorkerFactory
from tests.mturk.conftest import mturk_client

pytestmark = pytest.mark.django_db


def test_command_prints_id_and_secret_on_one_line(capsys):
    requester = RequesterFactory(email="lab@example.com")
    call_command("create_access_key", "LAB@example.com")
    key_id, secret = capsys.readouterr().out.strip().split(" ")
    key = AccessKey.objects.get(access_key_id=key_id)
    assert key.requester == requester and len(key_id) == 20 and len(secret) == 40
    assert secret not in key.secret_encrypted  # stored encrypted
    assert secret_decrypt(key.secret_encrypted) == secret
    call_command("revoke_access_key", key_id)
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_command_refuses_unknown_email_and_non_requesters():
    with pytest.raises(CommandError, match="No user"):
        call_command("create_access_key", "nobody@example.com")
    WorkerFactory(email="worker@example.com")
    with pytest.raises(CommandError, match="not_a_requester"):
        call_command("create_access_key", "worker@example.com")


def test_console_shows_the_secret_once_and_revokes(client):
    requester = RequesterFactory()
    client.force_login(requester)
    page = client.post(reverse("keys:api-keys"), {"label": "lab script"})
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    key = AccessKey.objects.get(requester=requester)
    secret = secret_decrypt(key.secret_encrypted)
    assert secret in page.content.decode() and key.access_key_id in page.content.decode()
    again = client.get(reverse("keys:api-keys")).content.decode()
    assert key.access_key_id in again and secret not in again
    client.post(reverse("keys:api-key-revoke", args=[key.access_key_id]))
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_console_cannot_revoke_another_requesters_key(client):
    key, _ = access_key_create(requester=RequesterFactory())
    client.force_login(RequesterFactory())
    client.post(reverse("keys:api-key-revoke", args=[key.access_key_id]))
    key.refresh_from_db()
    assert key.revoked_at is None
    assert key.access_key_id not in client.get(reverse("keys:api-keys")).content.decode()


def test_console_is_for_requesters_only(client):
    client.force_login(WorkerFactory())
    assert client.get(reverse("keys:api-keys")).status_code == 403
    client.logout()
    assert client.get(reverse("keys:api-keys")).status_code == 302


def test_admin_hides_the_secret_and_revokes(client):
    key, secret = access_key_create(requester=RequesterFactory())
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    change = client.get(reverse("admin:mturk_accesskey_change", args=[key.pk])).content.decode()
    assert key.access_key_id in change and secret not in change
    assert key.secret_encrypted not in change
    for model in [m for m in site._registry if m._meta.app_label == "mturk"]:
        opts = model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        assert client.get(url).status_code == 200
    client.post(
        reverse("admin:mturk_accesskey_changelist"),
        {"action": "revoke", "_selected_action": [key.pk]},
    )
    key.refresh_from_db()
    assert key.revoked_at is not None


@pytest.mark.django_db(transaction=True)
def test_a_revoked_key_is_refused(live_server):
    key, secret = access_key_create(requester=RequesterFactory())
    client = mturk_client(live_server.url, key.access_key_id, secret)
    assert client.get_account_balance()["AvailableBalance"] == "0.00"
    call_command("revoke_access_key", key.access_key_id)
    with pytest.raises(ClientError) as error:
        client.get_account_balance()
    assert error.value.response["Error"]["Code"] == "RequestError"
    assert error.value.response["TurkErrorCode"] == "AWS.MechanicalTurk.InvalidAccessKey"
