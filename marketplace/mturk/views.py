"""The `/mturk/` endpoint: one POST view speaking AWS JSON 1.1 as boto3 sends it.

Order of checks: the operation named by X-Amz-Target exists, the signature verifies against
the requester's key, the input matches the model; then the operation runs (each one its own
transaction where it writes) and its answer is encoded by the output model. Every refusal is
MTurk's error shape with HTTP 400, so boto3 raises its own ClientError classes.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from marketplace.errors import DomainError

from . import operations  # noqa: F401  (registers every operation)
from .errors import MTurkRequestError, MTurkServiceFault
from .keys import access_key_touch
from .protocol import (
    REGISTRY,
    TARGET_PREFIX,
    Call,
    encode_output,
    error_body,
    from_domain,
    parse_body,
    request_error,
    validate_input,
)
from .sigv4 import verify

logger = logging.getLogger(__name__)
CONTENT_TYPE = "application/x-amz-json-1.1"


def _response(body: dict[str, Any], status: int, request_id: str) -> HttpResponse:
    response = HttpResponse(json.dumps(body), status=status, content_type=CONTENT_TYPE)
    response["x-amzn-RequestId"] = request_id
    return response


def _dispatch(request: HttpRequest, sandbox: bool) -> dict[str, Any]:
    if request.method != "POST":
        raise request_error("The MTurk API takes POST requests only.")
    target = request.META.get("HTTP_X_AMZ_TARGET", "")
    name = target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else ""
    if name not in REGISTRY:
        raise request_error(f"Unknown operation {target!r}.", "UnknownOperation")
    body = request.body
    key = verify(request, body)
    access_key_touch(key)
    params = parse_body(body)
    validate_input(name, params)
    call = Call(requester=key.requester, access_key_id=key.access_key_id, sandbox=sandbox)
    try:
        with transaction.atomic():
            result = REGISTRY[name](call, params)
    except DomainError as exc:
        raise from_domain(exc) from exc
    return encode_output(name, result)


@csrf_exempt
def endpoint(request: HttpRequest, sandbox: bool = False) -> HttpResponse:
    request_id = str(uuid.uuid4())
    try:
        return _response(_dispatch(request, sandbox), 200, request_id)
    except MTurkRequestError as exc:
        return _response(error_body(exc), 400, request_id)
    except RequestDataTooBig:
        too_big = request_error("The request body is too large.", "RequestTooLarge")
        return _response(error_body(too_big), 400, request_id)
    except MTurkServiceFault as exc:
        logger.error("MTurk service fault %s: %s", request_id, exc)
        return _response(error_body(exc), 400, request_id)
    except Exception:
        logger.exception("MTurk operation failed (request %s)", request_id)
        fault = MTurkServiceFault(f"The request failed on our side (request {request_id}).")
        return _response(error_body(fault), 400, request_id)
