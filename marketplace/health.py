"""`GET /health/`: whether this web node can serve (a load balancer's check, a monitor's).

Checks the database (one query) and the Celery broker (a connection); answers 200 with
`{"status": "ok", "database": "ok", "broker": "ok"}`, or 503 naming what failed. Without a
broker configured (development: tasks run in-process) the broker is `"eager"`, which is fine
there; production refuses to start without one (settings). Says nothing else: no versions,
hosts or error texts, since anyone may call it."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)
BROKER_TIMEOUT_SECONDS = 2


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        logger.exception("health: database check failed")
        return "error"
    return "ok"


def _broker() -> str:
    if not settings.CELERY_BROKER_URL:
        return "eager"
    from marketplace.celery import app

    try:
        with app.connection_for_write(url=settings.CELERY_BROKER_URL) as conn:
            conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)
    except Exception:
        logger.exception("health: broker check failed")
        return "error"
    return "ok"


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    checks = {"database": _database(), "broker": _broker()}
    ok = all(value in ("ok", "eager") for value in checks.values())
    return JsonResponse({"status": "ok" if ok else "error", **checks}, status=200 if ok else 503)
