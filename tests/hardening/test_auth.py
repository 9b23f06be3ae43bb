"""Issue 16, findings 1 and 2: the API token is no way around email verification, and the
login throttle cannot be dodged with a forged X-Forwarded-For header."""

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.cache import cache
from django.core.management import call_command
from django.test import override_settings

from accounts.models import User
from tests.factories import PASSWORD, RequesterFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@override_settings(ACCOUNT_EMAIL_VERIFICATION="mandatory")
def test_an_unverified_web_signup_gets_no_api_token(client, api):
    client.post(
        "/accounts/signup/",
        {"email": "new@example.com", "password1": "a-long-pass-phrase",
         "password2": "a-long-pass-phrase", "roles": ["requester"]},
    )  # fmt: skip
    assert not EmailAddress.objects.get(email="new@example.com").verified
    refused = api.post(
        "/api/v1/auth/token/", {"email": "new@example.com", "password": "a-long-pass-phrase"}
    )
    assert refused.status_code == 400 and refused.json()["code"] == "invalid"
    EmailAddress.objects.filter(email="new@example.com").update(verified=True)
    granted = api.post(
        "/api/v1/auth/token/", {"email": "new@example.com", "password": "a-long-pass-phrase"}
    )
    assert granted.status_code == 200 and granted.json()["token"]


@override_settings(ACCOUNT_EMAIL_VERIFICATION="mandatory")
def test_create_account_marks_the_address_verified(client, api):
    call_command("create_account", "ops@example.com", "--password", "pw-123456-long", "--requester")
    address = EmailAddress.objects.get(email="ops@example.com")
    assert address.verified and address.primary
    response = api.post(
        "/api/v1/auth/token/", {"email": "ops@example.com", "password": "pw-123456-long"}
    )
    assert response.status_code == 200
    login = client.post(
        "/accounts/login/", {"login": "ops@example.com", "password": "pw-123456-long"}
    )
    assert login.status_code == 302 and "confirm" not in login["Location"]


def _attempt(api, email, password, forwarded):
    return api.post(
        "/api/v1/auth/token/",
        {"email": email, "password": password},
        HTTP_X_FORWARDED_FOR=forwarded,
    )


def test_a_forged_forwarded_for_does_not_reset_the_address_throttle(api):
    statuses = [
        _attempt(api, f"nobody{i}@example.com", "wrong", f"10.0.{i // 250}.{i % 250}").status_code
        for i in range(40)
    ]
    assert 429 in statuses


def test_an_account_is_locked_after_repeated_failures_and_its_owner_told(api):
    owner = RequesterFactory(email="victim@example.com")
    for i in range(10):
        response = api.post(
            "/api/v1/auth/token/",
            {"email": owner.email, "password": "wrong"},
            REMOTE_ADDR=f"10.1.0.{i}",
        )
        assert response.status_code in (400, 429)
    # The right password from a fresh address is refused while the lock holds.
    locked = api.post(
        "/api/v1/auth/token/",
        {"email": owner.email, "password": PASSWORD},
        REMOTE_ADDR="10.2.0.1",
    )
    assert locked.status_code in (403, 429)
    assert locked.json()["code"] in ("account_locked", "throttled")
    assert "token" not in locked.json()
    notices = [m for m in mail.outbox if owner.email in m.to]
    assert len(notices) == 1 and "locked" in notices[0].subject.lower()
    assert User.objects.get(pk=owner.pk).is_active  # a lock is temporary, not a ban
