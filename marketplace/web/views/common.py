"""What every page shares: role checks, the signed-in user, and htmx detection."""

from __future__ import annotations

from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.models import User

PROGRESS_POLL_SECONDS = 2


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def signed_in_user(request: HttpRequest) -> User:
    """The user of a view behind a role decorator, typed as such (never anonymous there)."""
    if not isinstance(request.user, User):
        raise PermissionDenied
    return request.user


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
