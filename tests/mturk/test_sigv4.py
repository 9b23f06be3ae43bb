"""SigV4 as botocore signs it: accepted when right, refused (MTurk's RequestError, HTTP 400,
so boto3 raises ClientError) for a wrong secret, an old or future date, a tampered body, no
signature, another service's scope, and an unknown operation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import botocore.auth
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from marketplace.mturk.keys import access_key_create
from tests.factories import RequesterFactory
from tests.mturk.conftest import mturk_client

pytestmark = pytest.mark.django_db(transaction=True)

TARGET = "MTurkRequesterServiceV20170117.GetAccountBalance"


@pytest.fixture
def key(live_server):
    return access_key_create(requester=RequesterFactory())


def _code(error: ClientError) -> tuple[str, str, int]:
    response = error.response
    return (
        response["Error"]["Code"],
        response.get("TurkErrorCode", ""),
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def _signed(url: str, key_id: str, secret: str, body: bytes, service: str = "mturk-requester"):
    request = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET},
    )
    SigV4Auth(Credentials(key_id, secret), service, "us-east-1").add_auth(request)
    return request


def test_right_signature_accepted(live_server, key):
    key_row, secret = key
    assert mturk_client(live_server.url, key_row.access_key_id, secret).get_account_balance()


def test_wrong_secret_refused(live_server, key):
    key_row, _ = key
    client = mturk_client(live_server.url, key_row.access_key_id, "x" * 40)
    with pytest.raises(ClientError) as error:
        client.get_account_balance()
    assert _code(error.value) == ("RequestError", "AWS.MechanicalTurk.InvalidSignature", 400)


def test_unknown_key_refused(live_server):
    client = mturk_client(live_server.url, "AKCMNOSUCHKEY0000000", "x" * 40)
    with pytest.raises(ClientError) as error:
        client.get_account_balance()
    assert _code(error.value)[1] == "AWS.MechanicalTurk.InvalidAccessKey"


@pytest.mark.parametrize("minutes", [-20, 20])
def test_expired_or_future_signature_refused(live_server, key, monkeypatch, minutes):
    key_row, secret = key
    signed_at = datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=minutes)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: signed_at)
    client = mturk_client(live_server.url, key_row.access_key_id, secret)
    with pytest.raises(ClientError) as error:
        client.get_account_balance()
    code, turk_code, status = _code(error.value)
    assert (code, turk_code, status) == (
        "RequestError",
        "AWS.MechanicalTurk.SignatureExpired",
        400,
    )
    assert "Signature expired" in error.value.response["Error"]["Message"]


def test_within_the_skew_window_accepted(live_server, key, monkeypatch):
    key_row, secret = key
    signed_at = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=10)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: signed_at)
    assert mturk_client(live_server.url, key_row.access_key_id, secret).get_account_balance()


def test_tampered_body_refused(live_server, key):
    key_row, secret = key
    url = live_server.url + "/mturk/"
    request = _signed(url, key_row.access_key_id, secret, b"{}")
    prepared = request.prepare()
    ok = requests.post(url, data=b"{}", headers=dict(prepared.headers), timeout=30)
    assert ok.status_code == 200, ok.text
    tampered = requests.post(url, data=b'{"x": 1}', headers=dict(prepared.headers), timeout=30)
    assert tampered.status_code == 400
    body = tampered.json()
    assert body["__type"] == "RequestError"
    assert body["TurkErrorCode"] == "AWS.MechanicalTurk.InvalidSignature"


def test_other_service_scope_refused(live_server, key):
    key_row, secret = key
    url = live_server.url + "/mturk/"
    prepared = _signed(url, key_row.access_key_id, secret, b"{}", service="sqs").prepare()
    answer = requests.post(url, data=b"{}", headers=dict(prepared.headers), timeout=30)
    assert answer.status_code == 400 and "mturk-requester" in answer.json()["Message"]


def test_unsigned_and_unknown_operation_refused(live_server):
    url = live_server.url + "/mturk/"
    unsigned = requests.post(url, data=b"{}", headers={"X-Amz-Target": TARGET}, timeout=30)
    assert unsigned.status_code == 400
    assert unsigned.json()["TurkErrorCode"] == "AWS.MechanicalTurk.MissingAuth"
    unknown = requests.post(
        url,
        data=b"{}",
        headers={"X-Amz-Target": "MTurkRequesterServiceV20170117.Nope"},
        timeout=30,
    )
    assert unknown.status_code == 400 and unknown.json()["__type"] == "RequestError"
    assert requests.get(url, timeout=30).status_code == 400
    assert json.loads(requests.get(url, timeout=30).content)["__type"] == "RequestError"
