"""Issue 16: the API's permission matrix, generated from the URL conf. Every API route is
requested (GET, and POST for the writes) as anonymous, worker and requester, on objects that
do not exist (ids 999999): the role check must answer before any object is looked up, so a
wrong role is 401/403 and the right one 404 (never a 500, never a 200 for the wrong role). A
route added without an entry here fails `test_every_api_route_has_an_entry`."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from tests.conftest import client_for
from tests.factories import RequesterFactory, WorkerFactory

pytestmark = pytest.mark.django_db

# route name -> {method: (anonymous, worker, requester)}
MATRIX: dict[str, dict[str, tuple[int, int, int]]] = {
    "auth-token": {"get": (405, 405, 405), "post": (400, 400, 400)},
    "me": {"get": (401, 200, 200)},
    "qualification-list": {"get": (401, 403, 200), "post": (401, 403, 400)},
    "qualification-detail": {"get": (401, 403, 404)},
    "qualification-grant": {"post": (401, 403, 404)},
    "my-qualification-list": {"get": (401, 200, 200)},  # anyone signed in: their own
    "bundle-list": {"get": (401, 403, 200), "post": (401, 403, 400)},
    "bundle-detail": {"get": (401, 403, 404)},
    "bundle-assignments": {"get": (401, 403, 404)},
    "bundle-cancel": {"post": (401, 403, 404)},
    "bundle-items": {"get": (401, 403, 404), "post": (401, 403, 404)},
    "bundle-pause": {"post": (401, 403, 404)},
    "bundle-publish": {"post": (401, 403, 404)},
    "bundle-results": {"get": (401, 403, 404)},
    "bundle-resume": {"post": (401, 403, 404)},
    "bundle-workers": {"get": (401, 403, 404)},
    "bundle-assist": {"get": (401, 403, 404)},
    "bundle-predictions": {"post": (401, 403, 404)},
    "bundle-rule-events": {"get": (401, 403, 404), "post": (401, 403, 404)},
    "bundle-training": {"get": (401, 403, 404), "post": (401, 403, 404)},
    "bundle-quality": {"get": (401, 403, 404), "post": (401, 403, 404)},
    "assignment-list": {"get": (401, 403, 200)},
    "assignment-review": {"post": (401, 403, 400)},
    "assignment-detail": {"get": (401, 403, 404)},
    "assignment-approve": {"post": (401, 403, 404)},
    "assignment-reject": {"post": (401, 403, 404)},
    "bonus-list": {"get": (401, 403, 200), "post": (401, 403, 400)},
    "bonus-detail": {"get": (401, 403, 404)},
    "thread-list": {"get": (401, 200, 200), "post": (401, 400, 400)},  # both sides: their own
    "thread-detail": {"get": (401, 404, 404)},
    "thread-messages": {"post": (401, 404, 404)},
    "thread-read": {"post": (401, 404, 404)},
    "work-bundle-list": {"get": (401, 200, 403)},
    "work-bundle-detail": {"get": (401, 404, 403)},
    "work-bundle-claim": {"post": (401, 404, 403)},
    "work-assignment-list": {"get": (401, 200, 403)},
    "work-assignment-detail": {"get": (401, 404, 403)},
    "work-assignment-give-back": {"post": (401, 404, 403)},
    "work-assignment-submit": {"post": (401, 404, 403)},
    "work-quality-event-list": {"get": (401, 200, 403)},
    "media-file": {"get": (404, 404, 404)},
    "balance": {"get": (401, 403, 200)},
    "earnings": {"get": (401, 200, 403)},
    "payout-account": {"get": (401, 200, 403)},
    "payout-details": {"get": (401, 200, 403)},
    "admin-revenue": {"get": (401, 403, 403)},
    "topup-list": {"get": (401, 403, 200)},
    "topup-detail": {"get": (401, 403, 404)},
    "payout-list": {"get": (401, 200, 403)},
    "payout-detail": {"get": (401, 404, 403)},
    "work-qualification-type-list": {"get": (401, 200, 403)},
    "work-qualification-type-request": {"post": (401, 404, 403)},
    "sandbox-testers": {"get": (401, 403, 200), "post": (401, 403, 400)},
    "sandbox-tester-remove": {"post": (401, 403, 400)},
    # Issue 15: appeals, blocks and reports are each side's own (workers and requesters).
    "appeal-list": {"get": (401, 200, 200), "post": (401, 400, 403)},
    "appeal-detail": {"get": (401, 404, 404)},
    "appeal-answer": {"post": (401, 403, 404)},
    "block-list": {"get": (401, 200, 200), "post": (401, 403, 400)},
    "block-detail": {"get": (401, 404, 404)},
    "block-lift": {"post": (401, 403, 404)},
    "report-list": {"get": (401, 200, 200), "post": (401, 400, 403)},
    "bundle-pay-floor": {"post": (401, 403, 404)},
    "work-pay": {"get": (401, 200, 403)},
}
PLACEHOLDER = re.compile(r"\(\?P<(\w+)>[^)]*\)|<(?:\w+:)?(\w+)>")


def _api_routes(patterns=None, prefix=""):
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            yield from _api_routes(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern) and (prefix + str(entry.pattern)).startswith("api/v1/"):
            yield entry.name, prefix + str(entry.pattern)


def _url(pattern: str) -> str:
    path = PLACEHOLDER.sub(lambda m: "999999" if (m[1] or m[2]) != "token" else "x", pattern)
    return "/" + path.replace("^", "").replace("$", "")


def test_every_api_route_has_an_entry():
    names = {name for name, _ in _api_routes()}
    assert names - set(MATRIX) == set(), "add the new route to MATRIX"
    assert set(MATRIX) - names == set(), "a route in MATRIX is gone"


def _cases():
    routes = dict(_api_routes())
    for name, methods in MATRIX.items():
        for method, expected in methods.items():
            yield pytest.param(routes.get(name, ""), method, expected, id=f"{method}-{name}")


@pytest.mark.parametrize(("pattern", "method", "expected"), list(_cases()))
def test_role_matrix(pattern, method, expected):
    clients = [APIClient(), client_for(WorkerFactory()), client_for(RequesterFactory())]
    got = tuple(getattr(c, method)(_url(pattern), {}, format="json").status_code for c in clients)
    assert got == expected
