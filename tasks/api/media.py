"""The one way uploaded media leaves the server: `GET /api/v1/media/<signed token>/`.

A plain Django view (not DRF: an `<img>` asks for image types, which DRF's content
negotiation would refuse) that authenticates by session or by API token and asks
`tasks.media.media_for_viewer` on every request. Anything else is the same JSON 404, so a
forged, expired or foreign link and a missing file cannot be told apart."""

from __future__ import annotations

from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.views.decorators.http import require_safe
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from tasks import media


def _not_found() -> HttpResponse:
    return JsonResponse({"code": "not_found", "detail": "Not found."}, status=404)


def _viewer(request: HttpRequest):
    if request.user.is_authenticated:
        return request.user
    try:
        found = TokenAuthentication().authenticate(request)  # type: ignore[arg-type]
    except AuthenticationFailed:
        return None
    return found[0] if found else None


@require_safe
def media_file(request: HttpRequest, token: str) -> HttpResponseBase:
    found = media.media_for_viewer(user=_viewer(request), token=token)
    if found is None:
        return _not_found()
    try:
        handle = media.media_open(found.key)
    except OSError:  # gone from storage (deleted by hand): nothing to serve
        return _not_found()
    response = FileResponse(handle, content_type=found.content_type)
    # Private to this viewer, never shared caches; the bytes are never run as a page.
    response["Cache-Control"] = "private, max-age=300"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Content-Disposition"] = "inline"
    return response
