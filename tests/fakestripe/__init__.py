"""A stateful fake of Stripe's HTTP API for the real stripe-python library (see README.md)."""

from .faults import EXECUTION_KINDS, FAULT_KINDS, NETWORK_KINDS, FiredFault
from .server import DEFAULT_API_KEY, DEFAULT_WEBHOOK_SECRET, FakeStripe, LoggedRequest
from .webhooks import Delivery, SignedPayload

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_WEBHOOK_SECRET",
    "EXECUTION_KINDS",
    "FAULT_KINDS",
    "NETWORK_KINDS",
    "Delivery",
    "FakeStripe",
    "FiredFault",
    "LoggedRequest",
    "SignedPayload",
]
