"""Training items from the bundle page: the requester names gold items (by external id) and the
explanation workers see once they have answered them (`tasks.quality.exams`)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from marketplace.errors import DomainError
from tasks import selectors
from tasks.models import Bundle, Item
from tasks.quality.exams import training_items_set

from .common import requester_required


def training_context(bundle: Bundle) -> dict[str, Any]:
    """The bundle page's training form: shown when the bundle has gold items."""
    gold = Item.objects.filter(bundle=bundle, is_gold=True)
    lines = [
        f"{external_id}: {explanation}"
        for external_id, explanation in gold.filter(is_training=True)
        .order_by("id")
        .values_list("external_id", "explanation")
    ]
    return {"has_gold": gold.exists(), "lines": "\n".join(lines)}


@require_POST
@requester_required
def training_update(request: HttpRequest, bundle_id: int) -> HttpResponse:
    """Lines `external_id: explanation`; a gold item left out keeps what it had, one given
    with nothing after the colon stops being training."""
    bundle = get_object_or_404(selectors.bundles_of_requester(request.user), pk=bundle_id)
    explanations: dict[str, str] = {}
    for number, line in enumerate(request.POST.get("training", "").splitlines(), 1):
        if not line.strip():
            continue
        external_id, sep, text = line.partition(":")
        if not sep or not external_id.strip():
            messages.error(request, f"Line {number}: write it as `external_id: explanation`.")
            return redirect(reverse("web:bundle-detail", args=[bundle.pk]) + "#training")
        explanations[external_id.strip()] = text.strip()
    try:
        count = training_items_set(bundle=bundle, explanations=explanations)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"{count} training item(s): workers get them first.")
    return redirect(reverse("web:bundle-detail", args=[bundle.pk]) + "#training")
