"""A stateful fake of Stripe's v1 HTTP API on loopback, for the real ``stripe`` library.

Point stripe-python at ``FakeStripe().api_base`` (``base_addresses={"api": ...}``) and it
exercises its own request encoding, retries, idempotency headers, error classes and response
objects against this server. The pipeline for each request mirrors Stripe's observable
behaviour, in this order:

1. log the request; decode the form body / query string; authenticate the secret key
   (401 like Stripe when missing or wrong); route it (404 "Unrecognized request URL");
2. draw a fault (``faults.FaultPlan``); network-phase faults answer (or drop) right here,
   before anything is executed or remembered, so a retry with the same key may proceed;
3. idempotency (POST with ``Idempotency-Key``, scoped per ``Stripe-Account``): a stored
   outcome is replayed byte for byte with ``Idempotent-Replayed: true``; the same key with
   other parameters (or another endpoint) is a 400 ``idempotency_error``; the same key while
   its first request is still running is a 409 ``idempotency_key_in_use`` (not stored);
4. execute under the state lock; store the outcome unless it is a validation error;
5. answer, or for ``lost_response`` close the connection without answering.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import json
import re
import select
import socket
import struct
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from . import webhooks
from .faults import NETWORK_KINDS, Fault, FaultPlan, FiredFault
from .formcodec import FormDecodeError, decode_form
from .resources import StripeState
from .validation import ApiError, Obj, balance_insufficient, card_declined
from .webhooks import Delivery, SignedPayload

DEFAULT_API_KEY = "sk_test_fakestripe"
DEFAULT_WEBHOOK_SECRET = "whsec_fakestripe"
IDEMPOTENCY_KEY_TTL_SECONDS = 24 * 3600


@dataclass
class LoggedRequest:
    """One request as the fake saw it; ``status`` is None when no response was sent."""

    method: str
    path: str
    route: str | None
    params: dict[str, Any]
    idempotency_key: str | None
    stripe_account: str | None
    request_id: str
    at: float
    status: int | None = None
    replayed: bool = False
    fault: str | None = None


@dataclass(frozen=True)
class _Stored:
    fingerprint: tuple[str, str, str]
    status: int
    body: bytes
    request_id: str
    #: The fake clock (``now()``) when the outcome was stored: keys expire by it.
    created: int = 0


@dataclass
class _Reply:
    status: int
    body: Obj | bytes
    headers: dict[str, str] = field(default_factory=dict)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeStripe


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = 60  # idle keep-alive connections end on their own

    def setup(self) -> None:
        """Disable Nagle: headers and body go out in two writes, and with delayed ACKs on
        loopback every response would otherwise wait ~40 ms."""
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.server.fake._handle(self, "GET")

    def do_POST(self) -> None:  # noqa: N802
        self.server.fake._handle(self, "POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self.server.fake._handle(self, "DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request stderr lines; ``fake.requests_log`` has everything."""


_Route = tuple[str, re.Pattern[str], str, Callable[..., Obj]]


class FakeStripe(StripeState):
    """A fake Stripe platform account behind a real HTTP server on 127.0.0.1.

    Use as a context manager or call ``start()``/``stop()``. Records are plain dicts on the
    instance (``transfers``, ``accounts``, ``events``, ...); ``requests_log`` lists every
    request. See README.md for the fault kinds and the idempotency rules.
    """

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
        balance: dict[str, int] | None = None,
        clock: Callable[[], float] | None = None,
        latency: float = 0.0,
        timeout_hold: float = 30.0,
    ) -> None:
        super().__init__(balance=balance, clock=clock)
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.webhook_url: str | None = None
        #: Stripe signs Connect events (those with an ``account``) with the secret of the
        #: Connect endpoint, a second one; None = the same secret as the platform's events.
        self.connect_webhook_secret: str | None = None
        #: Seconds each idempotent POST spends "in flight" before executing (to provoke 409s).
        self.latency = latency
        #: Upper bound on how long a ``timeout`` fault holds the connection.
        self.timeout_hold = timeout_hold
        self.requests_log: list[LoggedRequest] = []
        self.faults_fired: list[FiredFault] = []
        self.deliveries: list[Delivery] = []
        #: Tracebacks of bugs inside the fake (answered as 500s); tests may assert it is empty.
        self.internal_errors: list[str] = []
        self.idempotency: dict[tuple[str, str], _Stored] = {}
        #: Stripe prunes a key once it is at least 24 hours old; a retry after that is a new
        #: request. Measured on the fake clock, so ``advance_clock(25 * 3600)`` expires every
        #: key stored before; None keeps keys forever.
        self.idempotency_key_ttl: int | None = IDEMPOTENCY_KEY_TTL_SECONDS
        self._in_flight: set[tuple[str, str]] = set()
        self._faults = FaultPlan()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._routes: list[_Route] = []
        for method, template, handler in (
            ("POST", "/v1/checkout/sessions", self.create_checkout_session),
            ("GET", "/v1/checkout/sessions", self.list_checkout_sessions),
            ("GET", "/v1/checkout/sessions/{id}", self.retrieve_checkout_session),
            ("POST", "/v1/checkout/sessions/{id}/expire", self.expire_checkout_session_api),
            ("POST", "/v1/accounts", self.create_account),
            ("GET", "/v1/accounts", self.list_accounts),
            ("GET", "/v1/accounts/{id}", self.retrieve_account),
            ("POST", "/v1/account_links", self.create_account_link),
            ("POST", "/v1/transfers", self.create_transfer),
            ("GET", "/v1/transfers", self.list_transfers),
            ("GET", "/v1/transfers/{id}", self.retrieve_transfer),
            ("POST", "/v1/transfers/{id}", self.update_transfer),
            ("POST", "/v1/transfers/{id}/reversals", self.create_reversal),
            ("GET", "/v1/transfers/{id}/reversals", self.list_reversals),
            ("GET", "/v1/transfers/{id}/reversals/{rid}", self.retrieve_reversal),
            ("GET", "/v1/balance", self.retrieve_balance),
            ("GET", "/v1/balance_transactions", self.list_balance_transactions),
            ("GET", "/v1/balance_transactions/{id}", self.retrieve_balance_transaction),
            ("GET", "/v1/events", self.list_events),
            ("GET", "/v1/events/{id}", self.retrieve_event),
            ("GET", "/v1/payment_intents/{id}", self.retrieve_payment_intent),
            ("GET", "/v1/charges/{id}", self.retrieve_charge),
            ("GET", "/v1/refunds/{id}", self.retrieve_refund),
            ("GET", "/v1/disputes/{id}", self.retrieve_dispute),
            ("GET", "/v1/payouts/{id}", self.retrieve_payout),
        ):
            pattern = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$")
            self._routes.append((method, pattern, template, handler))

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> FakeStripe:
        """Bind 127.0.0.1 on a free port and serve in a daemon thread."""
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fakestripe",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; held ``timeout`` connections are released at once."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeStripe:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def api_base(self) -> str:
        """``http://127.0.0.1:PORT``, for stripe-python's ``base_addresses["api"]``."""
        if self._server is None:
            raise RuntimeError("FakeStripe is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- failure injection ----------------------------------------------------------------
    def inject(self, route: str, kind: str, times: int | None = 1) -> None:
        """Give the next ``times`` requests matching ``route`` the fault ``kind``.

        ``route`` is ``"METHOD /v1/template"`` (``"POST /v1/transfers"``,
        ``"POST /v1/transfers/{id}/reversals"``) or an fnmatch pattern (``"* /v1/*"``);
        ``times=None`` keeps firing until ``clear_faults()``. Scheduled faults fire in the
        order they were injected and take precedence over the random rate.
        """
        self._faults.schedule(route, kind, times)

    def set_fault_rate(
        self,
        rate: float,
        *,
        kinds: Iterable[str] | None = None,
        seed: int | str = 0,
        routes: Iterable[str] | None = None,
    ) -> None:
        """Fault a fraction ``rate`` of matching requests with a kind drawn from ``kinds``.

        Reproducible: the draw depends only on (seed, route, idempotency key, attempt n).
        """
        self._faults.set_rate(rate, kinds=kinds, seed=seed, routes=routes)

    def clear_faults(self) -> None:
        self._faults.clear()

    def forget_idempotency_keys(self, *, older_than: int = 0) -> int:
        """Drop stored keys at least ``older_than`` seconds old (fake clock), as Stripe's
        pruning does after 24 hours; returns how many were forgotten. A request with a
        forgotten key executes as new."""
        with self.lock:
            cutoff = self.now() - older_than
            old = [scope for scope, kept in self.idempotency.items() if kept.created <= cutoff]
            for scope in old:
                del self.idempotency[scope]
            return len(old)

    def _stored_outcome(self, scope: tuple[str, str]) -> _Stored | None:
        """The outcome stored for a key, unless it has outlived ``idempotency_key_ttl``."""
        stored = self.idempotency.get(scope)
        ttl = self.idempotency_key_ttl
        if stored is not None and ttl is not None and stored.created <= self.now() - ttl:
            del self.idempotency[scope]
            return None
        return stored

    # -- test helpers: state changes that happen outside the API --------------------------
    def add_connected_account(
        self, *, email: str | None = None, country: str = "US", ready: bool = True
    ) -> str:
        """Create an Express account directly (no request, no event); ready = can receive."""
        with self.lock:
            params: Obj = {
                "type": "express",
                "country": country,
                "capabilities": {"transfers": {"requested": "true"}},
            }
            if email:
                params["email"] = email
            account = self.create_account(params, {})
            if ready:
                self._apply_account_status(
                    account["id"],
                    {"charges_enabled": True, "payouts_enabled": True, "details_submitted": True},
                )
            return account["id"]

    def complete_checkout_session(self, session_id: str, *, deliver: bool = True) -> Obj:
        """The customer paid: mark the session paid, book the charge (fee deducted) on the
        platform balance, emit ``checkout.session.completed`` and deliver it if a
        ``webhook_url`` is set. Returns the event."""
        with self.lock:
            event = self._complete_session(session_id)
        return self._maybe_deliver(event, deliver)

    def expire_checkout_session(self, session_id: str, *, deliver: bool = True) -> Obj:
        """The session timed out: emit ``checkout.session.expired``. Returns the event."""
        with self.lock:
            event = self._expire_session(session_id, None)[1]
        return self._maybe_deliver(event, deliver)

    def set_account_status(
        self,
        account_id: str,
        *,
        charges_enabled: bool | None = None,
        payouts_enabled: bool | None = None,
        details_submitted: bool | None = None,
        deliver: bool = True,
    ) -> Obj:
        """Onboarding progressed (or the account got restricted): emit ``account.updated``."""
        with self.lock:
            event = self._set_account_status(
                account_id,
                {
                    "charges_enabled": charges_enabled,
                    "payouts_enabled": payouts_enabled,
                    "details_submitted": details_submitted,
                },
            )
        return self._maybe_deliver(event, deliver)

    def set_account_requirements(
        self,
        account_id: str,
        *,
        currently_due: list[str],
        disabled_reason: str | None = None,
        deliver: bool = True,
    ) -> Obj:
        """Stripe asks the account for more (KYC): ``account.updated`` with new requirements;
        a ``disabled_reason`` also disables the account."""
        with self.lock:
            event = self._set_requirements(account_id, currently_due, disabled_reason)
        return self._maybe_deliver(event, deliver)

    def deauthorize_account(self, account_id: str, *, deliver: bool = True) -> Obj:
        """The account disconnects from the platform: ``account.application.deauthorized``."""
        with self.lock:
            event = self._deauthorize(account_id)
        return self._maybe_deliver(event, deliver)

    def reverse_transfer(
        self, transfer_id: str, amount: int | None = None, *, deliver: bool = True
    ) -> Obj:
        """Reverse a transfer from outside our app (dashboard, dispute): ``transfer.reversed``."""
        with self.lock:
            params = {} if amount is None else {"amount": str(amount)}
            event = self._reverse(transfer_id, params, None)[1]
        return self._maybe_deliver(event, deliver)

    def fail_payout(
        self,
        account_id: str,
        amount: int,
        currency: str = "usd",
        *,
        failure_code: str = "account_closed",
        deliver: bool = True,
    ) -> Obj:
        """A connected account's bank payout failed: emit ``payout.failed`` (Connect event)."""
        with self.lock:
            self._account(account_id)
            created = self.now()
            payout: Obj = {
                "id": self.new_id("po"),
                "object": "payout",
                "amount": amount,
                "arrival_date": created,
                "created": created,
                "currency": currency,
                "destination": self.new_id("ba"),
                "failure_code": failure_code,
                "failure_message": "The bank account has been closed.",
                "livemode": False,
                "metadata": {},
                "method": "standard",
                "status": "failed",
                "type": "bank",
            }
            self.payouts[payout["id"]] = payout
            event = self._emit("payout.failed", payout, account=account_id)
        return self._maybe_deliver(event, deliver)

    def emit_event(
        self,
        type_: str,
        obj: Obj,
        *,
        account: str | None = None,
        previous_attributes: Obj | None = None,
        deliver: bool = True,
    ) -> Obj:
        """Record (and deliver) an arbitrary event, for shapes the helpers do not cover."""
        with self.lock:
            event = self._emit(type_, obj, previous=previous_attributes, account=account)
        return self._maybe_deliver(event, deliver)

    def refund_charge(
        self,
        charge_id: str,
        amount: int | None = None,
        *,
        reason: str | None = None,
        deliver: bool = True,
    ) -> Obj:
        """Refund (part of) a charge from the dashboard: ``charge.refunded``. Returns it."""
        with self.lock:
            events = self._refund(charge_id, amount, reason)
        return self._deliver_all(events, deliver)

    def dispute_charge(
        self,
        charge_id: str,
        amount: int | None = None,
        *,
        reason: str = "fraudulent",
        deliver: bool = True,
    ) -> Obj:
        """The cardholder disputed the charge: amount + dispute fee withdrawn;
        ``charge.dispute.created`` and ``charge.dispute.funds_withdrawn``. Returns the first."""
        with self.lock:
            events = self._dispute(charge_id, amount, reason)
        return self._deliver_all(events, deliver)

    def close_dispute(self, dispute_id: str, *, won: bool, deliver: bool = True) -> Obj:
        """The bank decided: won reinstates the amount (``charge.dispute.funds_reinstated``),
        either way ``charge.dispute.closed``. Returns the closed event."""
        with self.lock:
            events = self._close_dispute(dispute_id, won)
        return self._deliver_all(events, deliver, main=-1)

    def pay_out_platform(
        self, amount: int, currency: str = "usd", *, fail: bool = False, deliver: bool = True
    ) -> Obj:
        """Stripe paid the platform's balance out to its bank: ``payout.created`` then
        ``payout.paid`` (or ``payout.failed``, the money back). Returns the created event."""
        with self.lock:
            events = self._platform_payout(amount, currency.lower(), fail)
        return self._deliver_all(events, deliver)

    def add_adjustment(
        self,
        amount: int,
        currency: str = "usd",
        *,
        type_: str = "adjustment",
        description: str = "Balance adjustment",
    ) -> Obj:
        """A balance transaction Stripe posts without an event (a correction, a billing fee
        of type ``stripe_fee``). Returns it."""
        with self.lock:
            return copy.deepcopy(self._adjustment(amount, currency.lower(), type_, description))

    def set_balance(self, currency: str, amount: int) -> None:
        """Set the platform's available balance (out of band: no balance transaction)."""
        with self.lock:
            self.balance[currency.lower()] = amount

    # -- webhooks -------------------------------------------------------------------------
    def sign(
        self, payload: bytes, *, timestamp: int | None = None, secret: str | None = None
    ) -> str:
        """A valid ``Stripe-Signature`` header (wall-clock time unless ``timestamp``)."""
        return webhooks.sign(payload, secret or self.webhook_secret, timestamp)

    def forged_header(self, payload: bytes) -> str:
        """A well-formed header signed with the wrong secret."""
        return webhooks.sign(payload, "whsec_forged_" + self.webhook_secret)

    def stale_header(self, payload: bytes, *, age_seconds: int = 600) -> str:
        """A correctly signed header whose timestamp is past stripe-python's 300 s tolerance."""
        return webhooks.sign(payload, self.webhook_secret, int(time.time()) - age_seconds)

    def _event(self, event: Obj | str) -> Obj:
        with self.lock:
            return copy.deepcopy(self.events[event] if isinstance(event, str) else event)

    def signed_event(self, event: Obj | str, *, timestamp: int | None = None) -> SignedPayload:
        """The exact bytes Stripe would POST for ``event`` (an event dict or id) + header,
        signed with the Connect endpoint's secret for a Connect event when one is set."""
        body = self._event(event)
        secret = self.connect_webhook_secret if body.get("account") else None
        payload = webhooks.encode_event(body)
        return SignedPayload(payload, self.sign(payload, timestamp=timestamp, secret=secret))

    def forged_event(self, event: Obj | str) -> SignedPayload:
        payload = webhooks.encode_event(self._event(event))
        return SignedPayload(payload, self.forged_header(payload))

    def stale_event(self, event: Obj | str, *, age_seconds: int = 600) -> SignedPayload:
        payload = webhooks.encode_event(self._event(event))
        return SignedPayload(payload, self.stale_header(payload, age_seconds=age_seconds))

    def deliver(self, event: Obj | str, url: str | None = None) -> Delivery:
        """POST one event (signed now) to ``url`` or ``webhook_url``; record the delivery.

        Runs in the caller's thread and never holds the state lock, so the receiving server
        may call back into the fake while handling it.
        """
        target = url or self.webhook_url
        if not target:
            raise ValueError("no webhook URL: pass url= or set fake.webhook_url")
        signed = self.signed_event(event)
        event_id = json.loads(signed.payload)["id"]
        status, body = webhooks.post(target, signed)
        delivery = Delivery(event_id, target, status, body)
        with self.lock:
            self.deliveries.append(delivery)
            if status is not None and 200 <= status < 300:
                stored = self.events.get(event_id)
                if stored is not None:
                    stored["pending_webhooks"] = 0
                if event_id in self._undelivered:
                    self._undelivered.remove(event_id)
        return delivery

    def deliver_pending(self, url: str | None = None) -> list[Delivery]:
        """Deliver, oldest first, every event not yet acknowledged with a 2xx.

        Events that API calls create (``transfer.created``, ``transfer.reversed`` after our
        own reversal, ...) are only queued: delivering them from inside the request that
        made them could deadlock a live server that is waiting for that very response.
        """
        with self.lock:
            pending = list(self._undelivered)
        return [self.deliver(event_id, url) for event_id in pending]

    def _deliver_all(self, events: list[Obj], deliver: bool, *, main: int = 0) -> Obj:
        """Deliver every event a helper emitted, in order; return the helper's main one."""
        for event in events:
            self._maybe_deliver(event, deliver)
        return copy.deepcopy(events[main])

    def _maybe_deliver(self, event: Obj, deliver: bool) -> Obj:
        if deliver and self.webhook_url:
            self.deliver(event["id"])
        return copy.deepcopy(event)

    # -- request pipeline -------------------------------------------------------------------
    def _authenticate(self, header: str | None) -> ApiError | None:
        key: str | None = None
        if header:
            scheme, _, credentials = header.partition(" ")
            if scheme.lower() == "bearer":
                key = credentials.strip()
            elif scheme.lower() == "basic":
                with contextlib.suppress(binascii.Error, UnicodeDecodeError):
                    key = base64.b64decode(credentials.strip()).decode().partition(":")[0]
        if not key:
            return ApiError(
                401,
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details.",
            )
        if key != self.api_key:
            return ApiError(
                401,
                f"Invalid API Key provided: {key[:8]}{'*' * 12}{key[-4:]}",
                code="api_key_invalid",
            )
        return None

    def _match(self, method: str, path: str) -> tuple[str, Callable[..., Obj], dict[str, str]]:
        for route_method, pattern, template, handler in self._routes:
            found = pattern.match(path)
            if found and route_method == method:
                return f"{method} {template}", handler, found.groupdict()
        raise ApiError(
            404,
            f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
            "or we can help at https://support.stripe.com/.",
        )

    def _handle(self, handler: _Handler, method: str) -> None:
        request_id = self.new_id("req")
        url = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length).decode("utf-8", errors="replace") if length else ""
        key = handler.headers.get("Idempotency-Key") if method == "POST" else None
        account_scope = handler.headers.get("Stripe-Account") or ""
        entry = LoggedRequest(
            method, url.path, None, {}, key, account_scope or None, request_id, time.time()
        )
        with self.lock:
            self.requests_log.append(entry)
        base_headers = {
            "Request-Id": request_id,
            "Stripe-Version": handler.headers.get("Stripe-Version") or "",
        }
        if key:
            base_headers["Idempotency-Key"] = key
        try:
            entry.params = decode_form(raw if method == "POST" else url.query)
            auth_error = self._authenticate(handler.headers.get("Authorization"))
            if auth_error is not None:
                raise auth_error
            route, endpoint, args = self._match(method, url.path)
        except (ApiError, FormDecodeError) as exc:
            error = exc if isinstance(exc, ApiError) else ApiError(400, str(exc))
            headers = dict(base_headers)
            if error.status == 401:
                headers["WWW-Authenticate"] = 'Bearer realm="Stripe"'
            self._respond(handler, entry, _Reply(error.status, error.body(request_id), headers))
            return
        entry.route = route

        fault = self._faults.draw(route, key)
        if fault is not None and fault.kind in NETWORK_KINDS:
            self._fire(entry, fault)
            self._network_fault(handler, entry, fault.kind, base_headers)
            return

        ctx = {"request_id": request_id, "idempotency_key": key}
        if key is None:
            reply = self._execute(endpoint, entry.params, ctx, args, fault, entry)[0]
            self._finish(handler, entry, reply, fault, base_headers)
            return

        scope = (account_scope, key)
        fingerprint = (method, url.path, json.dumps(entry.params, sort_keys=True))
        with self.lock:
            stored = self._stored_outcome(scope)
            busy = stored is None and scope in self._in_flight
            if stored is None and not busy:
                self._in_flight.add(scope)
        if stored is not None or busy:
            if fault is not None and fault.kind != "lost_response":
                fault.release()
                fault = None
            reply = self._replay_or_conflict(stored, fingerprint, key, request_id)
            self._finish(handler, entry, reply, fault, base_headers)
            return
        try:
            if self.latency:
                self._stopping.wait(self.latency)
            reply, store = self._execute(endpoint, entry.params, ctx, args, fault, entry)
            if store:
                body = json.dumps(reply.body, indent=2).encode()
                reply.body = body
                with self.lock:
                    self.idempotency[scope] = _Stored(
                        fingerprint, reply.status, body, request_id, self.now()
                    )
        finally:
            with self.lock:
                self._in_flight.discard(scope)
        self._finish(handler, entry, reply, fault, base_headers)

    def _replay_or_conflict(
        self,
        stored: _Stored | None,
        fingerprint: tuple[str, str, str],
        key: str,
        request_id: str,
    ) -> _Reply:
        if stored is None:
            error = ApiError(
                409,
                f"There is currently another in-progress request using this Stripe API key "
                f"and idempotency key '{key}'. Please try again later.",
                type="idempotency_error",
                code="idempotency_key_in_use",
            )
            return _Reply(409, error.body(request_id))
        if stored.fingerprint != fingerprint:
            error = ApiError(
                400,
                f"Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. Try using a key other than '{key}' if you meant to "
                f"execute a different request.",
                type="idempotency_error",
            )
            return _Reply(400, error.body(request_id))
        return _Reply(
            stored.status,
            stored.body,
            {"Idempotent-Replayed": "true", "Original-Request": stored.request_id},
        )

    def _execute(
        self,
        endpoint: Callable[..., Obj],
        params: Obj,
        ctx: dict[str, Any],
        args: dict[str, str],
        fault: Fault | None,
        entry: LoggedRequest,
    ) -> tuple[_Reply, bool]:
        """Run the endpoint under the lock; return the reply and whether to store it."""
        with self.lock:
            try:
                if fault is not None and fault.kind == "card_declined":
                    self._fire(entry, fault)
                    raise card_declined()
                if fault is not None and fault.kind == "insufficient_balance":
                    self._fire(entry, fault)
                    raise balance_insufficient()
                result = endpoint(params, ctx, **args)
                if params.get("expand") not in (None, ""):
                    result = self.expand(result, params["expand"])
                return _Reply(200, copy.deepcopy(result)), True
            except ApiError as exc:
                return _Reply(exc.status, exc.body(ctx["request_id"])), exc.store
            except Exception as exc:  # a bug in the fake: answer 500, keep the traceback
                self.internal_errors.append(traceback.format_exc())
                error = ApiError(500, f"fakestripe internal error: {exc!r}", type="api_error")
                return _Reply(500, error.body(ctx["request_id"])), False

    def _finish(
        self,
        handler: _Handler,
        entry: LoggedRequest,
        reply: _Reply,
        fault: Fault | None,
        base_headers: dict[str, str],
    ) -> None:
        entry.replayed = reply.headers.get("Idempotent-Replayed") == "true"
        if fault is not None and fault.kind == "lost_response":
            self._fire(entry, fault)
            entry.status = None
            self._drop(handler, reset=False)
            return
        reply.headers = {**base_headers, **reply.headers}
        self._respond(handler, entry, reply)

    def _fire(self, entry: LoggedRequest, fault: Fault) -> None:
        entry.fault = fault.kind
        with self.lock:
            self.faults_fired.append(
                FiredFault(entry.route or "", fault.kind, entry.idempotency_key, entry.request_id)
            )

    def _network_fault(
        self, handler: _Handler, entry: LoggedRequest, kind: str, headers: dict[str, str]
    ) -> None:
        rid = entry.request_id
        if kind == "http_500":
            error = ApiError(500, "An unknown error occurred", type="api_error")
            self._respond(handler, entry, _Reply(500, error.body(rid), dict(headers)))
        elif kind == "rate_limit":
            error = ApiError(
                429,
                "Request rate limit exceeded. Learn more about rate limits here "
                "https://stripe.com/docs/rate-limits.",
                code="rate_limit",
            )
            self._respond(handler, entry, _Reply(429, error.body(rid), dict(headers)))
        elif kind == "connection_reset":
            self._drop(handler, reset=True)
        else:  # timeout: answer nothing until the client gives up, then hang up
            self._hold(handler)
            self._drop(handler, reset=False)

    def _hold(self, handler: _Handler) -> None:
        """Keep the connection open without answering until the client closes it (its read
        timeout fired), ``timeout_hold`` passes, or the fake stops."""
        sock = handler.connection
        deadline = time.monotonic() + self.timeout_hold
        while not self._stopping.is_set() and time.monotonic() < deadline:
            readable, _, _ = select.select([sock], [], [], 0.05)
            if readable:
                try:
                    if not sock.recv(1, socket.MSG_PEEK):
                        return
                except OSError:
                    return
                return

    @staticmethod
    def _drop(handler: _Handler, *, reset: bool) -> None:
        sock = handler.connection
        handler.close_connection = True
        with contextlib.suppress(OSError):
            if reset:  # RST instead of FIN: the client sees "connection reset by peer"
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    @staticmethod
    def _respond(handler: _Handler, entry: LoggedRequest, reply: _Reply) -> None:
        body = (
            reply.body
            if isinstance(reply.body, bytes)
            else json.dumps(reply.body, indent=2).encode()
        )
        entry.status = reply.status
        try:
            handler.send_response(reply.status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            for name, value in reply.headers.items():
                if value:
                    handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(body)
        except OSError:
            handler.close_connection = True
