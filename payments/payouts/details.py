"""Workers' bank details for manual (bank-transfer) payouts, encrypted at rest.

The details are stored only as a Fernet token (AES-128-CBC + HMAC-SHA256, from
`cryptography`). Keys come from settings `PAYOUT_DETAILS_KEYS` (a list of Fernet keys; the first
encrypts, every one decrypts, so a key can be rotated); when empty, one key is derived from
`SECRET_KEY`, so changing SECRET_KEY without setting PAYOUT_DETAILS_KEYS to the old derived key
makes stored details unreadable (the operator guide says how to rotate). Pages and admin lists
show `masked_account` only; the plain text is decrypted for the worker's own page and for the
batch CSV an admin downloads.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import transaction

from accounts.models import User
from marketplace.errors import DomainError

from ..models import PayoutDetails

_IBAN_START = re.compile(r"^[A-Z]{2}[0-9]{2}")
_IBAN = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{10,30}$")
_ACCOUNT = re.compile(r"^[A-Z0-9]{4,34}$")
_BANK_CODE = re.compile(r"^[A-Z0-9-]{0,20}$")


@dataclass(frozen=True)
class BankDetails:
    account_holder: str
    account: str  # an IBAN, or a national account number
    bank_code: str = ""  # BIC / SWIFT, routing number, sort code; optional

    @property
    def masked(self) -> str:
        return mask(self.account)


def mask(account: str) -> str:
    """Only the last four characters: "•••• 3000"."""
    return f"•••• {account[-4:]}" if account else ""


def derived_key() -> str:
    """The Fernet key used when PAYOUT_DETAILS_KEYS is empty, derived from SECRET_KEY (list it
    in PAYOUT_DETAILS_KEYS, after a new key, before SECRET_KEY changes)."""
    digest = hashlib.sha256(b"crowdmarket payout details v1:" + settings.SECRET_KEY.encode())
    return base64.urlsafe_b64encode(digest.digest()).decode()


def _keys() -> tuple[str, ...]:
    configured = getattr(settings, "PAYOUT_DETAILS_KEYS", None) or []
    if isinstance(configured, str):
        configured = [k for k in configured.split(",") if k.strip()]
    if configured:
        return tuple(k.strip() for k in configured)
    return (derived_key(),)


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def _iban_ok(iban: str) -> bool:
    """ISO 13616: move the country and check digits to the end, letters to numbers, mod 97."""
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def _clean(account_holder: str, account: str, bank_code: str) -> BankDetails:
    holder = " ".join((account_holder or "").split())
    if not holder or len(holder) > 140:
        raise DomainError(
            "The account holder's name is required (at most 140 characters).",
            code="invalid_payout_details",
            field="account_holder",
        )
    number = re.sub(r"[\s-]", "", account or "").upper()
    # Two letters and two digits open an IBAN (no national account number starts so): then
    # the whole IBAN must be well formed and pass its checksum.
    as_iban = _IBAN_START.match(number) is not None
    if not _ACCOUNT.match(number) or (as_iban and not (_IBAN.match(number) and _iban_ok(number))):
        raise DomainError(
            "Enter a valid IBAN or bank account number (letters and digits).",
            code="invalid_payout_details",
            field="account",
        )
    code = re.sub(r"\s", "", bank_code or "").upper()
    if not _BANK_CODE.match(code):
        raise DomainError(
            "The bank code (BIC, routing number or sort code) has letters, digits and dashes only.",
            code="invalid_payout_details",
            field="bank_code",
        )
    return BankDetails(account_holder=holder, account=number, bank_code=code)


def payout_details_set(
    *, worker: User, account_holder: str, account: str, bank_code: str = ""
) -> PayoutDetails:
    """Store (replace) the worker's bank details, encrypted. Validates the IBAN checksum when
    the account is an IBAN. Returns the stored row (which holds only the token and the mask)."""
    if not getattr(worker, "is_worker", False):
        raise DomainError("Only workers are paid out.", code="not_a_worker", http_status=403)
    details = _clean(account_holder, account, bank_code)
    token = _fernet(_keys()).encrypt(json.dumps(details.__dict__).encode()).decode()
    with transaction.atomic():
        row, _ = PayoutDetails.objects.update_or_create(
            worker=worker, defaults={"ciphertext": token, "masked_account": details.masked}
        )
    return row


def payout_details_get(*, worker_id: int) -> BankDetails | None:
    """The worker's bank details in plain text, or None when none are stored. Raises
    DomainError `payout_details_unreadable` when no configured key decrypts them."""
    row = PayoutDetails.objects.filter(worker_id=worker_id).first()
    if row is None:
        return None
    try:
        data = json.loads(_fernet(_keys()).decrypt(row.ciphertext.encode()))
    except InvalidToken as exc:
        raise DomainError(
            "Stored payout details cannot be decrypted with the configured keys.",
            code="payout_details_unreadable",
            http_status=500,
        ) from exc
    return BankDetails(**data)
