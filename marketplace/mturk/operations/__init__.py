"""The 39 operations of MTurk's 2017-01-17 requester API, registered by importing these
modules (`marketplace.mturk.protocol.REGISTRY`)."""

from . import assignments, hits, money, qualifications, workers

__all__ = ["assignments", "hits", "money", "qualifications", "workers"]
