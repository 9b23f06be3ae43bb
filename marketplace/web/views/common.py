"""What every page shares: role checks and htmx detection."""

from __future__ import annotations

from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

PROGRESS_POLL_SECONDS = 2


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _role_required(role: str):
    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not getattr(request.user, f"is_{role}"):
                context = {"role": role}
                return render(request, "web/need_role.html", context, status=403)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


worker_required = _role_required("worker")
requester_required = _role_required("requester")
