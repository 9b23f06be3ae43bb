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


def test_behind_one_proxy_the_throttle_keys_on_the_address_it_appended(api, settings):
    """NUM_PROXIES=1 (one load balancer that appends the client's address): a forged prefix
    changes nothing, and another real client keeps its own allowance."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    statuses = [
        _attempt(api, f"nobody{i}@example.com", "wrong", f"10.9.0.{i}, 203.0.113.7").status_code
        for i in range(40)
    ]
    assert 429 in statuses
    other_client = _attempt(api, "someone@example.com", "wrong", "10.9.1.1, 198.51.100.4")
    assert other_client.status_code == 400


def test_the_web_sign_in_form_is_limited_per_account_across_addresses(client):
    """allauth's per-account limit on failed web sign-ins (ACCOUNT_RATE_LIMITS): wrong
    passwords from many addresses, then the right one is refused too while the limit holds."""
    owner = RequesterFactory(email="web-victim@example.com")
    for i in range(6):
        client.post(
            "/accounts/login/",
            {"login": owner.email, "password": f"wrong-{i}"},
            REMOTE_ADDR=f"10.3.0.{i}",
        )
    right = client.post(
        "/accounts/login/", {"login": owner.email, "password": PASSWORD}, REMOTE_ADDR="10.4.0.1"
    )
    assert "_auth_user_id" not in client.session
    assert right.status_code in (200, 429)
    assert b"Too many failed login attempts" in right.content
