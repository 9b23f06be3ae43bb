"""The AWS JSON 1.1 protocol of MTurk's 2017-01-17 API: the operation registry, input checks
against botocore's service model (the same model boto3 builds its client from), output
encoding (timestamps as epoch seconds, no nulls), errors in MTurk's shape and pagination.

Operations are plain functions `(call, params) -> dict` registered by name with
`@operation`; they translate MTurk's shapes to our services and back, nothing more.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any, TypeVar

from botocore.model import OperationModel, ServiceModel, Shape
from botocore.session import get_session
from botocore.validate import ParamValidator
from django.db.models import Model, QuerySet

from accounts.models import User
from marketplace.errors import DomainError

from .errors import MTurkRequestError

TARGET_PREFIX = "MTurkRequesterServiceV20170117."
DEFAULT_MAX_RESULTS = 10
MAX_MAX_RESULTS = 100
M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Call:
    """Who is calling: the requester the access key belongs to (and the sandbox flag of the
    endpoint they used, for the sandbox's own handling)."""

    requester: User
    access_key_id: str
    sandbox: bool = False


Handler = Callable[[Call, dict[str, Any]], dict[str, Any]]
REGISTRY: dict[str, Handler] = {}


def operation(name: str) -> Callable[[Handler], Handler]:
    """Register an operation under its MTurk name (which must exist in the service model)."""

    def register(handler: Handler) -> Handler:
        if name not in service_model().operation_names:
            raise LookupError(f"{name} is not an MTurk operation")
        REGISTRY[name] = handler
        return handler

    return register


@cache
def service_model() -> ServiceModel:
    return get_session().get_service_model("mturk", api_version="2017-01-17")


def operation_model(name: str) -> OperationModel:
    return service_model().operation_model(name)


def request_error(message: str, code: str = "ParameterValidationError") -> MTurkRequestError:
    return MTurkRequestError(message, f"AWS.MechanicalTurk.{code}")


def from_domain(exc: DomainError) -> MTurkRequestError:
    """Our services' refusal as MTurk's RequestError (`insufficient_funds` ->
    `AWS.MechanicalTurk.InsufficientFunds`), keeping our human message."""
    code = "".join(part.capitalize() for part in exc.code.split("_"))
    return request_error(exc.detail, code)


def validate_input(name: str, params: dict[str, Any]) -> None:
    """Refuse what the model refuses (missing required members, wrong types, out of range),
    as botocore would before sending: a hand-written client gets the same answers."""
    shape = operation_model(name).input_shape
    if shape is None:
        return
    report = ParamValidator().validate(params, shape)
    if report.has_errors():
        raise request_error(report.generate_report().replace("\n", " "))


def encode_output(name: str, result: dict[str, Any]) -> dict[str, Any]:
    """The result as JSON 1.1 sends it: shaped by the output model, timestamps as epoch
    seconds, None members left out. A member the model does not have is a bug, refused."""
    shape = operation_model(name).output_shape
    if shape is None:
        return {}
    return _encode(shape, result, name)


def _encode(shape: Shape, value: Any, where: str) -> Any:
    kind = shape.type_name
    if kind == "structure":
        members = shape.members
        out = {}
        for key, item in value.items():
            if key not in members:
                raise KeyError(f"{where}.{key} is not in the MTurk model")
            if item is not None:
                out[key] = _encode(members[key], item, f"{where}.{key}")
        return out
    if kind == "list":
        return [_encode(shape.member, item, where) for item in value]
    if kind == "timestamp":
        return round(value.timestamp(), 3)
    if kind in ("integer", "long"):
        return int(value)
    return value


def error_body(exc: Exception) -> dict[str, str]:
    kind = "RequestError" if isinstance(exc, MTurkRequestError) else "ServiceFault"
    return {
        "__type": kind,
        "Message": getattr(exc, "message", str(exc)),
        "TurkErrorCode": getattr(exc, "turk_error_code", "AWS.MechanicalTurk.ServiceFault"),
    }


# ---------------------------------------------------------------------------------------------
# Values


def money_minor(text: str, field: str = "Reward") -> int:
    """MTurk's USD amount string ("0.05") in cents; fractions of a cent are refused."""
    try:
        amount = Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        raise request_error(f"{field} must be an amount in US dollars, like 0.05.") from None
    cents = amount * 100
    if not amount.is_finite() or amount < 0 or cents != cents.to_integral_value():
        raise request_error(f"{field} must be a non-negative whole number of cents.")
    return int(cents)


def money_text(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d}"


def as_datetime(value: Any) -> datetime:
    """A timestamp member as received on the wire (epoch seconds; an ISO string from others)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise request_error(f"Not a timestamp: {value!r}.") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise request_error(f"Not a timestamp: {value!r}.")


# ---------------------------------------------------------------------------------------------
# Pagination: NextToken is the last id served, opaque to the client.


def _token(after: int) -> str:
    return base64.urlsafe_b64encode(f"after:{after}".encode()).decode()


def _after(token: str | None) -> int:
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        prefix, number = text.split(":", 1)
        if prefix != "after":
            raise ValueError
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise request_error("NextToken is not one we issued.") from None


def page(rows: QuerySet[M], params: dict[str, Any], key: str = "pk") -> tuple[list[M], str | None]:
    """One page of `rows` in id order after NextToken, at most MaxResults (1-100, default 10),
    and the token of the next page (None on the last one)."""
    size = params.get("MaxResults", DEFAULT_MAX_RESULTS)
    if not 1 <= size <= MAX_MAX_RESULTS:
        raise request_error(f"MaxResults must be between 1 and {MAX_MAX_RESULTS}.")
    after = _after(params.get("NextToken"))
    batch = list(rows.filter(**{f"{key}__gt": after}).order_by(key)[: size + 1])
    more = len(batch) > size
    batch = batch[:size]
    return batch, (_token(getattr(batch[-1], key)) if more and batch else None)


def listing(
    name: str, items: Iterable[dict[str, Any]], token: str | None, **extra: Any
) -> dict[str, Any]:
    """A list operation's answer: NumResults, the items under `name`, NextToken when more."""
    items = list(items)
    return {"NumResults": len(items), name: items, "NextToken": token, **extra}


def parse_body(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise request_error("The body is not JSON.") from None
    if not isinstance(data, dict):
        raise request_error("The body must be a JSON object.")
    return data
