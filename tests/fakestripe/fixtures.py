"""pytest fixture for the fake Stripe; import it into ``tests/conftest.py``::

    from tests.fakestripe.fixtures import fake_stripe  # noqa: F401

A test that takes ``fake_stripe`` gets a started ``FakeStripe`` and a gateway pointed at it
(through ``stripe_gateway.configure``, so no Django setting is touched and the override
disappears after the test).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from payments import stripe_gateway

from .server import FakeStripe

#: Client-side read timeout while talking to the fake: small so that ``timeout`` faults cost
#: about a second, large enough that a loaded CI machine never times out by accident.
FAKE_CLIENT_TIMEOUT_SECONDS = 1.0


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    """A running fake Stripe, with the gateway configured for it.

    stripe-python's own network retries are off (``max_network_retries=0``) so each fault
    reaches our retry logic exactly once and tests never sleep through its backoff; call
    ``stripe_gateway.configure(max_network_retries=N)`` in a test to exercise them.
    """
    fake = FakeStripe().start()
    stripe_gateway.configure(
        api_key=fake.api_key,
        webhook_secret=fake.webhook_secret,
        api_base=fake.api_base,
        timeout=FAKE_CLIENT_TIMEOUT_SECONDS,
        max_network_retries=0,
    )
    try:
        yield fake
    finally:
        stripe_gateway.reset_configuration()
        fake.stop()
    assert not fake.internal_errors, "bug inside the fake Stripe:\n" + fake.internal_errors[0]
