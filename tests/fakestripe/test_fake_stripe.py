"""Tests of the fake Stripe, driven through the real stripe library and our gateway.

No database: every test talks HTTP to a FakeStripe on loopback. Where the point is stripe's
own behaviour (error classes, replay headers, pagination objects) the test uses a raw
``stripe.StripeClient``; otherwise it goes through ``payments.stripe_gateway``.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import stripe

from payments import stripe_gateway as gateway
from tests.fakestripe import FAULT_KINDS, FakeStripe
from tests.fakestripe.formcodec import decode_form

# -- helpers ------------------------------------------------------------------------------


def raw_client(fake: FakeStripe, *, retries: int = 0, timeout: float = 1.0) -> Any:
    return stripe.StripeClient(
        fake.api_key,
        base_addresses={"api": fake.api_base},
        max_network_retries=retries,
        http_client=stripe.RequestsClient(timeout=timeout),
    )


def pay(fake: FakeStripe, key: str, amount: int = 500, **overrides: Any) -> gateway.TransferResult:
    destination = overrides.pop("destination", None) or fake.add_connected_account()
    return gateway.create_transfer(
        amount_minor=amount,
        currency="usd",
        destination=destination,
        transfer_group="bundle-1",
        idempotency_key=key,
        metadata={"payout_id": key},
        **overrides,
    )


def transfers_with_key(fake: FakeStripe, key: str) -> list[dict[str, Any]]:
    return [t for t in fake.transfers.values() if t["metadata"].get("payout_id") == key]


def new_checkout(key: str = "topup-1-checkout", amount: int = 2500) -> gateway.CheckoutSession:
    return gateway.create_checkout_session(
        amount_minor=amount,
        currency="usd",
        topup_id=1,
        requester_email="req@example.com",
        success_url="https://crowd.example/topups/1/done",
        cancel_url="https://crowd.example/topups/1/cancel",
        idempotency_key=key,
    )


# -- wire format, resources ----------------------------------------------------------------


def test_form_codec_rebuilds_nested_keys_and_lists() -> None:
    body = (
        "line_items[0][price_data][unit_amount]=5&line_items[0][quantity]=2"
        "&line_items[1][quantity]=1&metadata[a]=x&metadata[b]=&expand[]=p&expand[]=q"
        "&created[gte]=10"
    )
    assert decode_form(body) == {
        "line_items": [{"price_data": {"unit_amount": "5"}, "quantity": "2"}, {"quantity": "1"}],
        "metadata": {"a": "x", "b": ""},
        "expand": ["p", "q"],
        "created": {"gte": "10"},
    }


def test_checkout_session_is_created_with_our_references(fake_stripe: FakeStripe) -> None:
    session = new_checkout()

    stored = fake_stripe.checkout_sessions[session.id]
    assert session.url == stored["url"]
    assert stored["object"] == "checkout.session"
    assert stored["livemode"] is False
    assert (stored["amount_total"], stored["currency"]) == (2500, "usd")
    assert stored["client_reference_id"] == "1"
    assert stored["metadata"] == {"topup_id": "1"}
    assert (stored["status"], stored["payment_status"]) == ("open", "unpaid")
    fetched = raw_client(fake_stripe).v1.checkout.sessions.retrieve(session.id)
    assert fetched.id == session.id
    assert fetched.client_reference_id == "1"


def test_completing_checkout_books_the_charge_and_emits_a_verifiable_event(
    fake_stripe: FakeStripe,
) -> None:
    session = new_checkout(amount=10_000)
    before = fake_stripe.balance["usd"]

    event = fake_stripe.complete_checkout_session(session.id)

    assert event["type"] == "checkout.session.completed"
    assert event["data"]["object"]["payment_status"] == "paid"
    assert event["data"]["object"]["client_reference_id"] == "1"
    charge = next(iter(fake_stripe.balance_transactions.values()))
    assert (charge["type"], charge["amount"], charge["fee"], charge["net"]) == (
        "charge",
        10_000,
        320,
        9_680,
    )
    assert fake_stripe.balance["usd"] == before + 9_680
    signed = fake_stripe.signed_event(event)
    assert gateway.construct_webhook_event(signed.payload, signed.header)["id"] == event["id"]
    with pytest.raises(ValueError, match="not open"):
        fake_stripe.complete_checkout_session(session.id)


def test_express_account_onboarding_and_status(fake_stripe: FakeStripe) -> None:
    account_id = gateway.create_express_account(
        email="worker@example.com", country="us", worker_ref="w-7", idempotency_key="acct-w-7"
    )
    url = gateway.create_account_link(
        account_id=account_id, refresh_url="https://x/refresh", return_url="https://x/return"
    )
    assert url.startswith("https://connect.stripe.com/")
    assert account_id in url
    status = gateway.retrieve_account(account_id)
    assert not status.payouts_enabled
    assert not status.can_receive_transfers
    assert fake_stripe.accounts[account_id]["metadata"] == {"worker_ref": "w-7"}

    event = fake_stripe.set_account_status(
        account_id, charges_enabled=True, payouts_enabled=True, details_submitted=True
    )

    assert event["type"] == "account.updated"
    assert event["account"] == account_id
    assert event["data"]["previous_attributes"]["payouts_enabled"] is False
    status = gateway.retrieve_account(account_id)
    assert status.payouts_enabled
    assert status.details_submitted
    assert status.can_receive_transfers
    assert gateway.account_status_from_dict(event["data"]["object"]) == status


def test_transfer_moves_balance_and_records_a_balance_transaction(fake_stripe: FakeStripe) -> None:
    fake_stripe.set_balance("usd", 1_000)

    result = pay(fake_stripe, "payout-1-transfer", amount=600)

    transfer = fake_stripe.transfers[result.id]
    assert (result.amount, result.transfer_group) == (600, "bundle-1")
    assert transfer["metadata"] == {"payout_id": "payout-1-transfer"}
    txn = fake_stripe.balance_transactions[transfer["balance_transaction"]]
    assert (txn["type"], txn["amount"], txn["source"]) == ("transfer", -600, result.id)
    assert fake_stripe.balance["usd"] == 400
    assert gateway.retrieve_transfer(result.id) == result
    created = [e for e in fake_stripe.events.values() if e["type"] == "transfer.created"]
    assert created[0]["request"]["idempotency_key"] == "payout-1-transfer"


def test_transfer_reversal_through_the_api_and_from_outside(fake_stripe: FakeStripe) -> None:
    result = pay(fake_stripe, "payout-2-transfer", amount=900)
    before = fake_stripe.balance["usd"]

    partly = gateway.reverse_transfer(
        transfer_id=result.id, amount_minor=400, idempotency_key="payout-2-reversal"
    )
    event = fake_stripe.reverse_transfer(result.id)

    assert (partly.amount_reversed, partly.reversed) == (400, False)
    assert event["type"] == "transfer.reversed"
    assert event["data"]["object"]["reversed"] is True
    assert event["data"]["previous_attributes"] == {"amount_reversed": 400, "reversed": False}
    assert fake_stripe.balance["usd"] == before + 900
    reversals = raw_client(fake_stripe).v1.transfers.reversals.list(result.id)
    assert [r.amount for r in reversals.data] == [500, 400]
    with pytest.raises(gateway.GatewayPermanentError) as excinfo:
        gateway.reverse_transfer(transfer_id=result.id, idempotency_key="payout-2-reversal-2")
    assert excinfo.value.code == "amount_too_large"


def test_balance_endpoint(fake_stripe: FakeStripe) -> None:
    fake_stripe.set_balance("usd", 12_345)
    balance = raw_client(fake_stripe).v1.balance.retrieve()
    assert balance.object == "balance"
    assert [(b.currency, b.amount) for b in balance.available] == [("usd", 12_345)]


def test_unknown_ids_and_urls_are_invalid_request_errors(fake_stripe: FakeStripe) -> None:
    client = raw_client(fake_stripe)
    with pytest.raises(stripe.InvalidRequestError) as excinfo:
        client.v1.transfers.retrieve("tr_missing")
    assert excinfo.value.http_status == 404
    assert excinfo.value.code == "resource_missing"
    with pytest.raises(gateway.GatewayPermanentError) as gw_excinfo:
        pay(fake_stripe, "payout-x", destination="acct_missing")
    assert gw_excinfo.value.code == "resource_missing"
    with pytest.raises(stripe.InvalidRequestError, match="Unrecognized request URL"):
        client.raw_request("get", "/v1/nothing_here")


def test_authentication_like_stripe(fake_stripe: FakeStripe) -> None:
    url = f"{fake_stripe.api_base}/v1/balance"
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(url, timeout=2)  # noqa: S310
    assert excinfo.value.code == 401
    assert "did not provide an API key" in json.loads(excinfo.value.read())["error"]["message"]

    import base64

    basic = base64.b64encode(f"{fake_stripe.api_key}:".encode()).decode()
    request = urllib.request.Request(url, headers={"Authorization": f"Basic {basic}"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310
        assert json.loads(response.read())["object"] == "balance"

    wrong = stripe.StripeClient("sk_test_wrong", base_addresses={"api": fake_stripe.api_base})
    with pytest.raises(stripe.AuthenticationError):
        wrong.v1.balance.retrieve()
    gateway.configure(api_key="sk_test_wrong")
    with pytest.raises(gateway.GatewayPermanentError):
        pay(fake_stripe, "payout-auth")


def test_transfer_to_account_without_capability_is_refused_and_not_stored(
    fake_stripe: FakeStripe,
) -> None:
    account_id = fake_stripe.add_connected_account(ready=False)
    with pytest.raises(gateway.GatewayPermanentError) as excinfo:
        pay(fake_stripe, "payout-3-transfer", destination=account_id)
    assert excinfo.value.code == "insufficient_capabilities_for_transfer"

    fake_stripe.set_account_status(account_id, payouts_enabled=True)

    assert pay(fake_stripe, "payout-3-transfer", destination=account_id).amount == 500


# -- idempotency ---------------------------------------------------------------------------


def test_same_key_same_params_replays_the_stored_response(fake_stripe: FakeStripe) -> None:
    client = raw_client(fake_stripe)
    destination = fake_stripe.add_connected_account()
    params: Any = {"amount": 700, "currency": "usd", "destination": destination}
    options: Any = {"idempotency_key": "payout-4-transfer"}

    first = client.v1.transfers.create(params, options)
    second = client.v1.transfers.create(params, options)

    assert second.id == first.id
    assert len(fake_stripe.transfers) == 1
    assert second.last_response.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.last_response.headers
    assert second.last_response.body == first.last_response.body
    assert [r.replayed for r in fake_stripe.requests_log[-2:]] == [False, True]


def test_same_key_other_params_is_an_idempotency_error(fake_stripe: FakeStripe) -> None:
    client = raw_client(fake_stripe)
    destination = fake_stripe.add_connected_account()
    options: Any = {"idempotency_key": "payout-5-transfer"}
    client.v1.transfers.create(
        {"amount": 700, "currency": "usd", "destination": destination}, options
    )

    with pytest.raises(stripe.IdempotencyError) as excinfo:
        client.v1.transfers.create(
            {"amount": 701, "currency": "usd", "destination": destination}, options
        )
    assert excinfo.value.http_status == 400

    with pytest.raises(gateway.GatewayPermanentError) as gw_excinfo:
        gateway.create_transfer(
            amount_minor=999,
            currency="usd",
            destination=destination,
            transfer_group=None,
            idempotency_key="payout-5-transfer",
        )
    assert gw_excinfo.value.code == "idempotency_error"
    assert len(fake_stripe.transfers) == 1


def test_gateway_refuses_to_write_without_our_idempotency_key(fake_stripe: FakeStripe) -> None:
    with pytest.raises(ValueError, match="idempotency key"):
        pay(fake_stripe, "   ")
    assert fake_stripe.transfers == {}


def test_concurrent_request_with_a_key_in_flight_gets_409(fake_stripe: FakeStripe) -> None:
    fake_stripe.latency = 0.3
    destination = fake_stripe.add_connected_account()
    outcomes: list[object] = []

    def attempt() -> None:
        try:
            outcomes.append(pay(fake_stripe, "payout-6-transfer", destination=destination))
        except gateway.GatewayError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    errors = [o for o in outcomes if isinstance(o, gateway.GatewayError)]
    assert len(errors) == 1
    assert isinstance(errors[0], gateway.GatewayTransientError)
    assert errors[0].http_status == 409
    assert errors[0].code == "idempotency_key_in_use"
    assert len(fake_stripe.transfers) == 1


# -- failure injection -----------------------------------------------------------------------

STRIPE_ERROR_FOR_FAULT: dict[str, tuple[type[Exception], type[gateway.GatewayError]]] = {
    "http_500": (stripe.APIError, gateway.GatewayTransientError),
    "rate_limit": (stripe.RateLimitError, gateway.GatewayTransientError),
    "connection_reset": (stripe.APIConnectionError, gateway.GatewayTransientError),
    "timeout": (stripe.APIConnectionError, gateway.GatewayTransientError),
    "card_declined": (stripe.CardError, gateway.GatewayPermanentError),
    "insufficient_balance": (stripe.InvalidRequestError, gateway.GatewayPermanentError),
    "lost_response": (stripe.APIConnectionError, gateway.GatewayTransientError),
}


def test_every_fault_kind_is_covered() -> None:
    assert set(STRIPE_ERROR_FOR_FAULT) == set(FAULT_KINDS)


@pytest.mark.parametrize("kind", sorted(STRIPE_ERROR_FOR_FAULT))
def test_each_fault_raises_stripes_error_class(fake_stripe: FakeStripe, kind: str) -> None:
    stripe_error, gateway_error = STRIPE_ERROR_FOR_FAULT[kind]
    gateway.configure(timeout=0.3)  # the `timeout` fault costs one client timeout
    fake_stripe.inject("POST /v1/transfers", kind)

    with pytest.raises(gateway_error) as excinfo:
        pay(fake_stripe, f"payout-{kind}-transfer")

    assert isinstance(excinfo.value.__cause__, stripe_error)
    assert [f.kind for f in fake_stripe.faults_fired] == [kind]
    made = 1 if kind == "lost_response" else 0
    assert len(fake_stripe.transfers) == made
    if kind == "card_declined":
        assert excinfo.value.code == "card_declined"
    if kind == "insufficient_balance":
        assert excinfo.value.code == "balance_insufficient"
    if kind == "rate_limit":
        assert excinfo.value.http_status == 429


@pytest.mark.parametrize("kind", ["http_500", "rate_limit", "connection_reset", "timeout"])
def test_network_faults_are_not_stored_so_a_retry_proceeds(
    fake_stripe: FakeStripe, kind: str
) -> None:
    gateway.configure(timeout=0.3)
    destination = fake_stripe.add_connected_account()
    fake_stripe.inject("POST /v1/transfers", kind)
    with pytest.raises(gateway.GatewayTransientError):
        pay(fake_stripe, "payout-7-transfer", destination=destination)

    result = pay(fake_stripe, "payout-7-transfer", destination=destination)

    assert list(fake_stripe.transfers) == [result.id]
    assert fake_stripe.requests_log[-1].replayed is False


@pytest.mark.parametrize("kind", ["card_declined", "insufficient_balance"])
def test_execution_faults_are_stored_and_replayed(fake_stripe: FakeStripe, kind: str) -> None:
    destination = fake_stripe.add_connected_account()
    fake_stripe.inject("POST /v1/transfers", kind)
    with pytest.raises(gateway.GatewayPermanentError) as first:
        pay(fake_stripe, "payout-8-transfer", destination=destination)

    with pytest.raises(gateway.GatewayPermanentError) as again:
        pay(fake_stripe, "payout-8-transfer", destination=destination)

    assert again.value.code == first.value.code
    assert fake_stripe.requests_log[-1].replayed is True
    assert fake_stripe.transfers == {}


def test_lost_response_then_retry_makes_exactly_one_transfer(fake_stripe: FakeStripe) -> None:
    destination = fake_stripe.add_connected_account()
    fake_stripe.inject("POST /v1/transfers", "lost_response")
    with pytest.raises(gateway.GatewayTransientError) as excinfo:
        pay(fake_stripe, "payout-9-transfer", destination=destination)
    assert excinfo.value.outcome_unknown is True
    assert len(fake_stripe.transfers) == 1

    result = pay(fake_stripe, "payout-9-transfer", destination=destination)

    assert list(fake_stripe.transfers) == [result.id]
    assert fake_stripe.requests_log[-1].replayed is True
    assert len(transfers_with_key(fake_stripe, "payout-9-transfer")) == 1


def test_natural_insufficient_balance(fake_stripe: FakeStripe) -> None:
    fake_stripe.set_balance("usd", 499)
    with pytest.raises(gateway.GatewayPermanentError) as excinfo:
        pay(fake_stripe, "payout-10-transfer", amount=500)
    assert excinfo.value.code == "balance_insufficient"
    assert fake_stripe.balance["usd"] == 499


def test_card_decline_on_checkout(fake_stripe: FakeStripe) -> None:
    fake_stripe.inject("POST /v1/checkout/sessions", "card_declined")
    with pytest.raises(gateway.GatewayPermanentError) as excinfo:
        new_checkout()
    assert isinstance(excinfo.value.__cause__, stripe.CardError)
    assert excinfo.value.__cause__.error.decline_code == "generic_decline"


def test_stripe_python_own_retries_reuse_our_key(fake_stripe: FakeStripe) -> None:
    gateway.configure(max_network_retries=2)
    destination = fake_stripe.add_connected_account()
    fake_stripe.inject("POST /v1/transfers", "lost_response")

    result = pay(fake_stripe, "payout-11-transfer", destination=destination)

    attempts = [r for r in fake_stripe.requests_log if r.route == "POST /v1/transfers"]
    assert [r.idempotency_key for r in attempts] == ["payout-11-transfer"] * 2
    assert [(r.status, r.replayed) for r in attempts] == [(None, False), (200, True)]
    assert list(fake_stripe.transfers) == [result.id]


def _payout_run(seed: int) -> tuple[list[tuple[str | None, str]], dict[str, int]]:
    """40 payouts with 30% faults of every fast kind, each retried with its key until it is
    paid or permanently refused; returns the fired faults and transfers per key."""
    with FakeStripe() as fake:
        gateway.configure(api_key=fake.api_key, api_base=fake.api_base, max_network_retries=0)
        destination = fake.add_connected_account()
        kinds = [k for k in FAULT_KINDS if k != "timeout"]
        fake.set_fault_rate(0.3, kinds=kinds, seed=seed, routes=["POST /v1/transfers"])
        outcome: dict[str, int] = {}
        for n in range(40):
            key = f"payout-{n}-transfer"
            for _attempt in range(50):
                try:
                    pay(fake, key, destination=destination)
                except gateway.GatewayTransientError:
                    continue
                except gateway.GatewayPermanentError:
                    break
                break
            outcome[key] = len(transfers_with_key(fake, key))
        fired = [(f.idempotency_key, f.kind) for f in fake.faults_fired]
    return fired, outcome


def test_seeded_fault_rate_is_reproducible_and_never_pays_twice(fake_stripe: FakeStripe) -> None:
    seed = 20261125
    fired, outcome = _payout_run(seed)
    fired_again, outcome_again = _payout_run(seed)

    assert fired == fired_again, f"seed {seed}"
    assert outcome == outcome_again
    assert set(outcome.values()) <= {0, 1}, f"double transfer with seed {seed}"
    assert {kind for _, kind in fired} >= {"http_500", "lost_response", "card_declined"}
    assert _payout_run(seed + 1)[0] != fired


def test_inject_validates_and_clears(fake_stripe: FakeStripe) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        fake_stripe.inject("POST /v1/transfers", "meteor_strike")
    fake_stripe.inject("POST /v1/transfers", "http_500", times=None)
    fake_stripe.clear_faults()
    assert pay(fake_stripe, "payout-12-transfer").amount == 500


# -- webhooks --------------------------------------------------------------------------------


def test_webhook_signatures_verify_with_stripe_and_forgeries_fail(fake_stripe: FakeStripe) -> None:
    event = fake_stripe.complete_checkout_session(new_checkout().id)
    good = fake_stripe.signed_event(event)

    constructed = stripe.Webhook.construct_event(
        good.payload, good.header, fake_stripe.webhook_secret
    )
    assert constructed.id == event["id"]
    assert gateway.construct_webhook_event(good.payload, good.header)["type"] == event["type"]

    forged = fake_stripe.forged_event(event)
    stale = fake_stripe.stale_event(event)
    tampered = good.payload.replace(b'"paid"', b'"unpaid"')
    for payload, header in [
        (forged.payload, forged.header),
        (stale.payload, stale.header),
        (tampered, good.header),
        (good.payload, "t=1,v1=00"),
        (good.payload, "garbage"),
    ]:
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.Webhook.construct_event(payload, header, fake_stripe.webhook_secret)
        with pytest.raises(gateway.WebhookSignatureInvalid):
            gateway.construct_webhook_event(payload, header)
    with pytest.raises(gateway.WebhookSignatureInvalid):
        gateway.construct_webhook_event(good.payload, None)


class _Receiver(BaseHTTPRequestHandler):
    """A stand-in for our webhook view: verify with the gateway, 400 on failure."""

    received: list[dict[str, Any]]

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        try:
            event = gateway.construct_webhook_event(body, self.headers.get("Stripe-Signature"))
        except gateway.WebhookSignatureInvalid:
            self.send_response(400)
        else:
            self.received.append(event)
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    handler = type("Receiver", (_Receiver,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/payments/stripe/webhook/", received
    finally:
        server.shutdown()
        server.server_close()


def test_events_are_delivered_over_http(
    fake_stripe: FakeStripe, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = receiver
    fake_stripe.webhook_url = url

    completed = fake_stripe.complete_checkout_session(new_checkout().id)
    pay(fake_stripe, "payout-13-transfer")
    assert [e["id"] for e in received] == [completed["id"]]

    deliveries = fake_stripe.deliver_pending()

    assert [d.status for d in deliveries] == [200]
    assert [e["type"] for e in received] == ["checkout.session.completed", "transfer.created"]
    assert fake_stripe.deliver_pending() == []
    redelivered = fake_stripe.deliver(completed["id"])
    assert redelivered.status == 200
    assert received[-1]["id"] == completed["id"]
    account_id = fake_stripe.add_connected_account()
    failed = fake_stripe.fail_payout(account_id, 500)
    assert received[-1]["type"] == "payout.failed"
    assert failed["account"] == account_id
    fake_stripe.webhook_secret = "whsec_rotated"  # the receiver still expects the old one
    assert fake_stripe.deliver(completed["id"]).status == 400


# -- lists and pagination --------------------------------------------------------------------


def test_pagination_of_transfers_and_events(fake_stripe: FakeStripe) -> None:
    destination = fake_stripe.add_connected_account()
    made = [pay(fake_stripe, f"payout-p{n}", destination=destination).id for n in range(25)]
    client = raw_client(fake_stripe)

    page = client.v1.transfers.list({"limit": 10})
    assert page.has_more is True
    assert [t.id for t in page.data] == made[::-1][:10]
    second = client.v1.transfers.list({"limit": 10, "starting_after": page.data[-1].id})
    assert [t.id for t in second.data] == made[::-1][10:20]
    back = client.v1.transfers.list({"limit": 5, "ending_before": second.data[0].id})
    assert [t.id for t in back.data] == made[::-1][5:10]
    assert [t.id for t in page.auto_paging_iter()] == made[::-1]

    events = client.v1.events.list({"type": "transfer.created", "limit": 100})
    assert len(events.data) == 25
    assert events.has_more is False
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.transfers.list({"limit": 101})


def test_balance_transactions_filter_by_created(fake_stripe: FakeStripe) -> None:
    destination = fake_stripe.add_connected_account()
    start = fake_stripe.now()
    early = [pay(fake_stripe, f"payout-e{n}", destination=destination) for n in range(3)]
    fake_stripe.advance_clock(3600)
    late = [pay(fake_stripe, f"payout-l{n}", destination=destination, amount=7) for n in range(120)]
    fake_stripe.advance_clock(3600)
    pay(fake_stripe, "payout-after", destination=destination)

    window = list(
        gateway.list_balance_transactions(created_gte=start + 3600, created_lt=start + 7200)
    )

    assert len(window) == 120  # two pages of 100
    assert {t.source for t in window} == {t.id for t in late}
    assert all(t.type == "transfer" and t.amount == -7 and t.net == -7 for t in window)
    everything = list(gateway.list_balance_transactions(created_gte=0, created_lt=2**40))
    assert {t.source for t in everything} >= {t.id for t in early}
    listed = raw_client(fake_stripe).v1.balance_transactions.list({"created": {"lt": start + 3600}})
    assert {t.source for t in listed.data} == {t.id for t in early}


# -- lifecycle -----------------------------------------------------------------------------


def test_context_manager_starts_and_stops() -> None:
    with FakeStripe() as fake:
        base = fake.api_base
        assert base.startswith("http://127.0.0.1:")
    with pytest.raises(RuntimeError):
        _ = fake.api_base
    started = time.monotonic()
    with pytest.raises(stripe.APIConnectionError):
        stripe.StripeClient(
            fake.api_key, base_addresses={"api": base}, max_network_retries=0
        ).v1.balance.retrieve()
    assert time.monotonic() - started < 5
