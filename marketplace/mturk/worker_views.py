"""`/mturk/externalSubmit`: where HIT pages post their answers, as they did on MTurk.

Thin: the rules (who may submit what) are `marketplace.mturk.worker.external_submit`'s. The
answer page is shown inside the HIT's frame, so it may be framed by our own pages."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from marketplace.csp import FRAMED_POLICY
from marketplace.errors import DomainError
from tasks.schema import InvalidAnswer

from .worker import external_submit as record


def _page(request: HttpRequest, context: dict, status: int) -> HttpResponse:
    response = render(request, "mturk/submitted.html", context, status=status)
    response["Content-Security-Policy"] = FRAMED_POLICY  # the HIT's frame lands here
    return response


# A cross-site frame posts here without our CSRF token (and without cookies, on the signed
# path): the signed URL or the signed-in worker is the authentication, and the assignment must
# be theirs and open, so a forged post can only submit the caller's own work.
@csrf_exempt
@xframe_options_sameorigin
@require_http_methods(["GET", "POST"])
def external_submit(request: HttpRequest, token: str | None = None) -> HttpResponse:
    if request.method == "GET" and token is None:
        # A GET that writes would let any page submit a signed-in worker's task with a link;
        # GET (some HIT forms use it) only works with the signed turkSubmitTo.
        return _page(request, {"ok": False, "reason": "Submit with POST."}, 405)
    data = request.POST if request.method == "POST" else request.GET
    user = request.user if request.user.is_authenticated else None
    try:
        assignment = record(
            assignment_text_id=data.get("assignmentId", ""),
            fields=[(name, value) for name in data for value in data.getlist(name)],
            token=token,
            user=user,
        )
    except InvalidAnswer as exc:
        return _page(request, {"ok": False, "reason": exc.detail}, 400)
    except DomainError as exc:
        return _page(request, {"ok": False, "reason": exc.detail}, exc.http_status)
    return _page(request, {"ok": True, "bundle_id": assignment.bundle_id}, 200)
