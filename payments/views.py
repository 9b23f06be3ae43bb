"""The Stripe webhook endpoint (not part of the REST API: Stripe signs the raw body)."""

from __future__ import annotations

import logging

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import stripe_gateway as gateway
from .webhooks import event_process, event_receive

logger = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    """Verify, store, process. A forged or stale signature is a 400 and nothing is stored.
    A stored event answers 200 even if its handler failed: the failure is on the inbox row
    and the replay job (or an admin) retries it, so Stripe need not."""
    try:
        event = event_receive(
            payload=request.body, signature=request.headers.get("Stripe-Signature")
        )
    except gateway.WebhookSignatureInvalid as exc:
        return JsonResponse({"code": "invalid_signature", "detail": str(exc)}, status=400)
    except gateway.GatewayNotConfigured:
        return JsonResponse(
            {"code": "stripe_not_configured", "detail": "No webhook secret is configured."},
            status=503,
        )
    event = event_process(event_id=event.pk)
    return JsonResponse({"id": event.event_id, "status": event.status})
