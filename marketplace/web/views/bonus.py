"""Bonuses in the requester console: to a worker of a bundle, by the pseudonym the requester
sees, with a reason the worker reads on their earnings page (`tasks.bonuses` holds the scope,
`payments` moves the money)."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from marketplace.errors import DomainError
from payments import services as payments
from tasks import bonuses, selectors

from ..forms import BonusForm
from ..money import money
from .common import requester_required


@require_http_methods(["GET", "POST"])
@requester_required
def worker_bonus(request: HttpRequest, bundle_id: int, public_id: str) -> HttpResponse:
    bundle = get_object_or_404(selectors.bundles_of_requester(request.user), pk=bundle_id)
    if selectors.bundle_worker_from_public_id(bundle, public_id) is None:
        raise Http404("No such worker in this bundle.")
    form = BonusForm(request.POST or None, initial={"client_token": uuid.uuid4().hex})
    if request.method == "POST" and form.is_valid():
        amount = form.cleaned_data["amount"]
        try:
            bonuses.bonus_grant(
                requester=request.user,
                amount_minor=amount,
                currency=bundle.currency,
                reason=form.cleaned_data["reason"],
                client_token=f"web-{form.cleaned_data['client_token']}",
                worker_public_id=public_id,
            )
        except DomainError as exc:
            form.add_error("amount" if exc.code == "insufficient_funds" else None, exc.detail)
        else:
            messages.success(
                request, f"Paid a bonus of {money(amount, bundle.currency)} to {public_id}."
            )
            return redirect(reverse("web:bundle-detail", args=[bundle.pk]) + "#workers")
    context = {
        "bundle": bundle,
        "public_id": public_id,
        "form": form,
        "available": money(
            payments.requester_available(
                requester_id=bundle.requester_id, currency=bundle.currency
            ),
            bundle.currency,
        ),
    }
    return render(request, "web/console/bonus.html", context, status=400 if form.errors else 200)
