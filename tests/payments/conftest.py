import pytest

from tests.fakestripe.fixtures import fake_stripe  # noqa: F401
from tests.payments.factories import funded_requester, worker


@pytest.fixture
def rich_requester(db):
    return funded_requester(100_000)


@pytest.fixture
def a_worker(db):
    return worker()


@pytest.fixture
def fee_20(settings):
    settings.PLATFORM_FEE_PERCENT = 20
    return 20


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Factories hash a password per user; PBKDF2 makes that ~0.3 s a user, which dominates the
    property and fault-injection tests that create many users."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
