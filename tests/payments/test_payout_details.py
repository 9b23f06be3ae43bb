"""Workers' bank details for manual payouts (issue 11, "Manual payouts collect no payout
details"): stored encrypted, shown masked, carried into the batch CSV with every cell safe
from spreadsheet formulas."""

import csv
import io

import pytest
from cryptography.fernet import Fernet
from django.db import connection

from marketplace.errors import DomainError
from payments import payouts
from payments.models import PayoutDetails
from tests.factories import RequesterFactory
from tests.payments.factories import earning_worker, worker
from tests.payments.helpers import assert_ledger_balanced

pytestmark = pytest.mark.django_db

IBAN = "DE89 3704 0044 0532 0130 00"


@pytest.fixture(autouse=True)
def _manual(settings):
    settings.STRIPE_SECRET_KEY = ""
    settings.PAYOUT_MINIMUM_MINOR = 500
    settings.PAYOUT_DETAILS_KEYS = []


def stored_text(worker_id: int) -> str:
    """The row as the database holds it (no model code in between)."""
    table = PayoutDetails._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} WHERE worker_id = %s", [worker_id])  # noqa: S608
        return " ".join(str(value) for value in cursor.fetchone())


def test_details_are_encrypted_at_rest_and_shown_masked():
    w = worker()
    row = payouts.payout_details_set(
        worker=w, account_holder="Ada  Lovelace", account=IBAN, bank_code="cobadeffxxx"
    )
    assert row.masked_account == "•••• 3000"
    raw = stored_text(w.pk)
    assert "Lovelace" not in raw
    assert "DE89370400440532013000" not in raw
    assert "COBADEFFXXX" not in raw
    details = payouts.payout_details_get(worker_id=w.pk)
    assert details == payouts.BankDetails(
        account_holder="Ada Lovelace", account="DE89370400440532013000", bank_code="COBADEFFXXX"
    )
    assert details.masked == "•••• 3000"
    # replacing keeps one row
    payouts.payout_details_set(worker=w, account_holder="Ada L", account="12345678")
    assert PayoutDetails.objects.filter(worker=w).count() == 1
    assert payouts.payout_details_get(worker_id=w.pk).account == "12345678"


@pytest.mark.parametrize(
    ("holder", "account", "code", "field"),
    [
        ("Ada", "DE89 3704 0044 0532 0130 01", "", "account"),  # IBAN checksum wrong
        ("Ada", "12", "", "account"),
        ("Ada", "12345678;DROP", "", "account"),
        (" ", "12345678", "", "account_holder"),
        ("Ada", "12345678", "BIC WITH !", "bank_code"),
    ],
)
def test_invalid_details_are_refused(holder, account, code, field):
    w = worker()
    with pytest.raises(DomainError) as err:
        payouts.payout_details_set(worker=w, account_holder=holder, account=account, bank_code=code)
    assert err.value.code == "invalid_payout_details"
    assert err.value.extra["field"] == field
    assert not PayoutDetails.objects.exists()


def test_only_workers_store_details():
    with pytest.raises(DomainError) as err:
        payouts.payout_details_set(
            worker=RequesterFactory(), account_holder="R", account="12345678"
        )
    assert err.value.code == "not_a_worker"


def test_keys_rotate_first_encrypts_every_one_decrypts(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.PAYOUT_DETAILS_KEYS = [old]
    w = worker()
    payouts.payout_details_set(worker=w, account_holder="Ada", account=IBAN)
    settings.PAYOUT_DETAILS_KEYS = [new, old]
    assert payouts.payout_details_get(worker_id=w.pk).account_holder == "Ada"
    payouts.payout_details_set(worker=w, account_holder="Ada 2", account=IBAN)
    settings.PAYOUT_DETAILS_KEYS = [new]
    assert payouts.payout_details_get(worker_id=w.pk).account_holder == "Ada 2"
    settings.PAYOUT_DETAILS_KEYS = [old]
    with pytest.raises(DomainError) as err:
        payouts.payout_details_get(worker_id=w.pk)
    assert err.value.code == "payout_details_unreadable"


def test_default_key_comes_from_secret_key(settings):
    w = worker()
    payouts.payout_details_set(worker=w, account_holder="Ada", account="12345678")
    settings.SECRET_KEY = "another-secret-key-" + "y" * 40
    with pytest.raises(DomainError):
        payouts.payout_details_get(worker_id=w.pk)


def test_batch_csv_carries_the_details_with_formulas_neutralised():
    a, b = earning_worker(1_000), earning_worker(800)
    payouts.payout_details_set(
        worker=a, account_holder='=HYPERLINK("http://evil.test","x")', account=IBAN
    )
    pa = payouts.payout_request(worker=a)
    pb = payouts.payout_request(worker=b)  # no details given: blank columns
    rows = list(csv.DictReader(io.StringIO(payouts.manual_batch_export(batch=pa.batch))))
    by_id = {int(r["payout_id"]): r for r in rows}
    assert by_id[pa.pk]["account_holder"] == '\'=HYPERLINK("http://evil.test","x")'
    assert by_id[pa.pk]["account"] == "DE89370400440532013000"
    assert by_id[pa.pk]["amount_minor"] == "1000"
    assert (by_id[pb.pk]["account_holder"], by_id[pb.pk]["account"]) == ("", "")
    assert payouts.manual_batch_mark_paid(batch=pa.batch, by=None) == 2
    assert_ledger_balanced()


def test_api_reads_masked_and_writes_encrypted(api):
    w = worker()
    api.force_authenticate(w)
    assert api.get("/api/v1/work/payout-details/").json()["exists"] is False
    response = api.put(
        "/api/v1/work/payout-details/",
        {"account_holder": "Ada Lovelace", "account": IBAN, "bank_code": ""},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body == {
        "exists": True,
        "account_holder": "Ada Lovelace",
        "bank_code": "",
        "account_masked": "•••• 3000",
    }
    assert "account" not in api.get("/api/v1/work/payout-details/").json()
    bad = api.put(
        "/api/v1/work/payout-details/",
        {"account_holder": "Ada", "account": "DE00 0000"},
        format="json",
    )
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid_payout_details"
    requester = RequesterFactory()
    api.force_authenticate(requester)
    assert api.get("/api/v1/work/payout-details/").status_code == 403


def test_earnings_page_form_saves_and_shows_masked(client):
    w = earning_worker(1_000)
    client.force_login(w)
    html = client.get("/work/earnings/").content.decode()
    assert 'id="payout-details-form"' in html
    assert 'id="bank-details-missing"' in html
    response = client.post(
        "/work/earnings/payout-details/",
        {"account_holder": "Ada Lovelace", "account": IBAN, "bank_code": ""},
    )
    assert response.status_code == 302
    html = client.get("/work/earnings/").content.decode()
    assert "•••• 3000" in html
    assert "DE89370400440532013000" not in html
    bad = client.post(
        "/work/earnings/payout-details/", {"account_holder": "Ada", "account": "DE89 0000 1"}
    )
    assert bad.status_code == 400
    assert "valid IBAN" in bad.content.decode()


def test_with_stripe_the_page_asks_for_no_bank_details(client, settings):
    settings.STRIPE_SECRET_KEY = "sk_test_x"
    w = earning_worker(1_000)
    client.force_login(w)
    assert 'id="payout-details-form"' not in client.get("/work/earnings/").content.decode()
