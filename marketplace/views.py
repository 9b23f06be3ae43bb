from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.defaults import bad_request as html_bad_request
from django.views.defaults import page_not_found as html_page_not_found

# Set by accounts.adapters.AccountAdapter when an account is created, read once here: the
# first page after sign-up greets a newcomer, not a returning user (issue 15, bug 8).
JUST_SIGNED_UP = "just_signed_up"


def home(request):
    first_visit = bool(request.session.pop(JUST_SIGNED_UP, False))
    return render(request, "home.html", {"first_visit": first_visit})


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's 400 (a body over DATA_UPLOAD_MAX_MEMORY_SIZE, too many fields, a bad host...)
    happens before DRF sees the request: under /api/ it is JSON with a code like every other API
    error; pages keep Django's HTML 400."""
    if request.path.startswith("/api/"):
        if isinstance(exception, RequestDataTooBig):
            body = {"code": "request_too_large", "detail": "The request body is too large."}
            return JsonResponse(body, status=413)
        return JsonResponse({"code": "bad_request", "detail": "Bad request."}, status=400)
    return html_bad_request(request, exception)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """A URL no route matches (`/api/v1/bundles/0.5/`: the router's ids take no dot) is
    Django's 404, not DRF's: under /api/ it is JSON like every other API error (found by
    schemathesis, issue 16); pages keep the HTML 404."""
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "not_found", "detail": "Not found."}, status=404)
    return html_page_not_found(request, exception)
