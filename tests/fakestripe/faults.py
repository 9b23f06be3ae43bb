"""Deterministic failure injection for the fake Stripe server.

Two sources of faults, checked in this order for every request:

1. *Scheduled* faults (``FakeStripe.inject``): "the next N requests matching this route get
   this fault". Routes are ``"METHOD /v1/template"`` strings such as ``"POST /v1/transfers"``
   or ``"POST /v1/transfers/{id}/reversals"``; patterns may use ``fnmatch`` wildcards.
2. A *seeded fault rate* (``FakeStripe.set_fault_rate``). The draw for a request is a pure
   function of ``(seed, route, idempotency key, attempt number for that key)``, so a run is
   reproducible even when many threads hit the fake in a different order: the 3rd attempt of
   ``payout-17-transfer`` gets the same fate on every run with the same seed. Requests without
   an idempotency key (GETs) fall back to a per-route counter, reproducible when sequential.

Faults happen in one of two phases, which is what decides whether the idempotency layer
remembers them (see README):

* network phase (before idempotency and execution, never stored): ``http_500``, ``timeout``,
  ``connection_reset``, ``rate_limit``;
* execution phase (the endpoint ran, so Stripe stores the outcome under the key):
  ``card_declined``, ``insufficient_balance``; and ``lost_response``, which lets the request
  execute and be stored, then drops the connection instead of answering.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

NETWORK_KINDS: tuple[str, ...] = ("http_500", "timeout", "connection_reset", "rate_limit")
EXECUTION_KINDS: tuple[str, ...] = ("card_declined", "insufficient_balance", "lost_response")
FAULT_KINDS: tuple[str, ...] = NETWORK_KINDS + EXECUTION_KINDS


@dataclass
class _Scheduled:
    pattern: str
    kind: str
    remaining: int | None  # None: until cleared


@dataclass(frozen=True)
class FiredFault:
    """One fault that actually changed a response; kept in ``FakeStripe.faults_fired``."""

    route: str
    kind: str
    idempotency_key: str | None
    request_id: str


class Fault:
    """A fault chosen for one request; ``release()`` gives a scheduled one back unused."""

    def __init__(self, kind: str, entry: _Scheduled | None, plan: FaultPlan) -> None:
        self.kind = kind
        self._entry = entry
        self._plan = plan

    def release(self) -> None:
        """Undo the consumption (an execution fault that met a replay did nothing)."""
        if self._entry is not None and self._entry.remaining is not None:
            with self._plan.lock:
                self._entry.remaining += 1


class FaultPlan:
    """Thread-safe schedule of faults; see the module docstring for the rules."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._scheduled: list[_Scheduled] = []
        self._rate = 0.0
        self._kinds: tuple[str, ...] = ()
        self._routes: tuple[str, ...] = ("*",)
        self._seed: int | str = 0
        self._attempts: Counter[tuple[str, str | None]] = Counter()

    @staticmethod
    def _check_kind(kind: str) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {FAULT_KINDS}")

    def schedule(self, pattern: str, kind: str, times: int | None = 1) -> None:
        self._check_kind(kind)
        if times is not None and times < 1:
            raise ValueError("times must be >= 1 or None")
        with self.lock:
            self._scheduled.append(_Scheduled(pattern, kind, times))

    def set_rate(
        self,
        rate: float,
        *,
        kinds: Iterable[str] | None = None,
        seed: int | str = 0,
        routes: Iterable[str] | None = None,
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be within [0, 1]")
        chosen = tuple(kinds) if kinds is not None else FAULT_KINDS
        for kind in chosen:
            self._check_kind(kind)
        if rate > 0 and not chosen:
            raise ValueError("a positive rate needs at least one kind")
        with self.lock:
            self._rate = rate
            self._kinds = chosen
            self._seed = seed
            self._routes = tuple(routes) if routes is not None else ("*",)
            self._attempts.clear()

    def clear(self) -> None:
        with self.lock:
            self._scheduled.clear()
            self._rate = 0.0
            self._kinds = ()
            self._attempts.clear()

    def draw(self, route: str, idempotency_key: str | None) -> Fault | None:
        """Pick (and consume) the fault for one incoming request, or None."""
        with self.lock:
            for entry in self._scheduled:
                if entry.remaining == 0 or not fnmatchcase(route, entry.pattern):
                    continue
                if entry.remaining is not None:
                    entry.remaining -= 1
                return Fault(entry.kind, entry, self)
            self._scheduled = [e for e in self._scheduled if e.remaining != 0]
            if self._rate <= 0 or not any(fnmatchcase(route, p) for p in self._routes):
                return None
            self._attempts[(route, idempotency_key)] += 1
            attempt = self._attempts[(route, idempotency_key)]
            rng = random.Random(f"{self._seed}|{route}|{idempotency_key}|{attempt}")
            if rng.random() < self._rate:
                return Fault(rng.choice(self._kinds), None, self)
            return None
