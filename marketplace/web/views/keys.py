"""The requester's MTurk API keys page: make a key (its secret shown this once), revoke one.
Thin over `marketplace.mturk.keys`."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from marketplace.errors import DomainError
from marketplace.mturk.keys import access_key_create, access_key_revoke
from marketplace.mturk.models import AccessKey

from .common import requester_required, signed_in_user


@require_http_methods(["GET", "POST"])
@requester_required
def api_keys(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    created = None
    status = 200
    if request.method == "POST":
        try:
            key, secret = access_key_create(
                requester=user, label=request.POST.get("label", "")[:100]
            )
        except DomainError as exc:
            messages.error(request, exc.detail)
            status = 400
        else:
            created = {"access_key_id": key.access_key_id, "secret": secret}
    context = {
        "keys": AccessKey.objects.filter(requester=user),
        "created": created,
        "endpoint": request.build_absolute_uri(reverse("mturk:endpoint")),
    }
    response = render(request, "web/console/api_keys.html", context, status=status)
    response["Cache-Control"] = "no-store"  # the page may carry a secret
    return response


@require_POST
@requester_required
def api_key_revoke(request: HttpRequest, access_key_id: str) -> HttpResponse:
    try:
        access_key_revoke(requester=signed_in_user(request), access_key_id=access_key_id)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Revoked {access_key_id}.")
    return redirect("keys:api-keys")
