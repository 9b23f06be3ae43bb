"""The requester's reversal of a quality rule's action from the bundle page (the API and the
admin do the same through `rules_engine.rule_event_reverse`)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from marketplace.errors import DomainError
from tasks import selectors
from tasks.quality import rules_engine

from .common import requester_required


@require_POST
@requester_required
def rule_event_reverse(request: HttpRequest, bundle_id: int, event_id: int) -> HttpResponse:
    """Undo what a rule did (unblock, resume, restore a weight or a qualification, overturn
    its rejections); another requester's bundle or event is a 404."""
    bundle = get_object_or_404(selectors.bundles_of_requester(request.user), pk=bundle_id)
    event = get_object_or_404(bundle.rule_events.all(), pk=event_id)
    try:
        rules_engine.rule_event_reverse(event_id=event.pk, by=request.user)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, "Reversed the rule's action.")
    return redirect(reverse("web:bundle-detail", args=[bundle.pk]) + "#rule-history")
