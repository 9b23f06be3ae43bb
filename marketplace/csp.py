"""Content-Security-Policy on every response (Django 5.2 has none built in).

Scripts only from this origin and never inline or eval'd: the templates load htmx and the
annotation tools from static files, with no inline handlers. Styles may be inline (htmx
inserts its indicator style; a few templates size images with `style=`). Images and audio are
item media: signed URLs here, or the http(s) URLs a requester's payload names. Nothing may
frame the pages. The API docs page (Swagger UI from its CDN, with an inline bootstrap script)
gets its own narrower-purpose policy.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob: https: http:",
        "media-src 'self' data: blob: https: http:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
#: The task page of MTurk HITs: the same, plus frames of our own HIT documents (sandboxed)
#: and of requesters' ExternalQuestion pages (https, or a local development server).
HIT_PAGE_POLICY = POLICY + "; frame-src 'self' https: http://localhost:* http://127.0.0.1:*"
#: Our own pages shown inside a HIT's frame (the task gone, an externalSubmit's answer page):
#: the usual policy, framed by our pages only.
FRAMED_POLICY = POLICY.replace("frame-ancestors 'none'", "frame-ancestors 'self'")
_CDN = "https://cdn.jsdelivr.net"
DOCS_POLICY = "; ".join(
    [
        "default-src 'self'",
        f"script-src 'self' 'unsafe-inline' {_CDN}",
        f"style-src 'self' 'unsafe-inline' {_CDN}",
        f"img-src 'self' data: {_CDN}",
        "object-src 'none'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            docs = request.path.startswith("/api/docs/")
            response["Content-Security-Policy"] = DOCS_POLICY if docs else POLICY
        return response
