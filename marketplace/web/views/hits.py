"""The frame documents of HTMLQuestion HITs (the task page itself is work.py's)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET

from marketplace.csp import FRAMED_POLICY
from marketplace.mturk.worker import preview_item
from tasks import selectors
from tasks.models import AssignmentStatus

from .. import hits
from .common import signed_in_user, worker_required


def _frame(request: HttpRequest, html: str, *, preview: bool) -> HttpResponse:
    response = HttpResponse(hits.frame_document(html, request=request, preview=preview))
    response["Content-Security-Policy"] = hits.frame_policy(request)
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


def _gone(request: HttpRequest) -> HttpResponse:
    """Shown in the frame (a task submitted or expired meanwhile), so it may be framed."""
    response = render(request, "web/work/hit_gone.html", status=404)
    response["Content-Security-Policy"] = FRAMED_POLICY
    return response


@require_GET
@xframe_options_sameorigin
@worker_required
def hit_frame(request: HttpRequest, assignment_id: int) -> HttpResponse:
    """The HTMLQuestion of the worker's own open assignment."""
    user = signed_in_user(request)
    assignment = (
        selectors.assignments_of_worker(user)
        .filter(pk=assignment_id, status=AssignmentStatus.CLAIMED)
        .first()
    )
    parsed = hits.parsed_question(assignment.item.payload) if assignment else None
    if parsed is None or parsed.kind != "HTMLQuestion":
        return _gone(request)
    return _frame(request, parsed.html, preview=False)


@require_GET
@xframe_options_sameorigin
@worker_required
def hit_preview_frame(request: HttpRequest, bundle_id: int) -> HttpResponse:
    """A preview of one of the bundle's HTMLQuestions, for a worker who may work there."""
    bundle = selectors.bundle_for_worker(signed_in_user(request), bundle_id)
    item = preview_item(bundle.pk) if bundle is not None else None
    parsed = hits.parsed_question(item.payload) if item is not None else None
    if parsed is None or parsed.kind != "HTMLQuestion":
        return _gone(request)
    return _frame(request, parsed.html, preview=True)
