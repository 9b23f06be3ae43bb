"""Issue 16: the permission matrix, generated from the URL conf and the OpenAPI schema.

Every URL the project serves (API, pages, downloads, sign-in pages, the webhook; the admin by
the rule in `test_admin_site`) is requested with each method it answers as each of seven roles
(tests/hardening/world.py) on real objects: the owner's bundle, the worker's assignment, etc.
`ROUTES` says which object fills the URL and what each role gets. A URL or an API operation
without an entry fails `test_every_url_has_an_entry` with the entry to add. Every response
body, errors included, is also searched for what that role may not see (`World.secrets`), and
every write to an object is checked to leave its row as it was for the roles refused (a page
may answer a refusal with the same redirect as a success: the row tells them apart).

Statuses are seven numbers in the order of `ROLES`:
anon, unverified, worker, other worker, requester, other requester, admin."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.cache import cache
from django.db import transaction
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse
from drf_spectacular.generators import SchemaGenerator

from tests.hardening.world import ROLES, World, build_world, clients_for


@dataclass(frozen=True)
class Route:
    """`obj` names the world object whose id (its `attr`: the primary key unless the URL names
    it by another identifier) fills the URL (None: no id); `objects` names the world object of
    any other URL argument, `kwargs` fixes the rest; each method maps to the seven statuses.

    A write to `obj` may change its row only for `writers` (default: the roles it does not
    refuse, status below 400); name them where a page answers a refusal with a redirect too."""

    obj: str | None = None
    kwargs: dict[str, str] = field(default_factory=dict)
    attr: str = "pk"
    objects: dict[str, str] = field(default_factory=dict)
    writers: str | None = None
    get: str = ""
    post: str = ""
    put: str = ""
    patch: str = ""
    delete: str = ""

    def methods(self) -> dict[str, str]:
        return {m: s for m in ("get", "post", "put", "patch", "delete") if (s := getattr(self, m))}


ROUTES: dict[str, Route] = {
    # the API: accounts
    "auth-token": Route(post="400 400 400 400 400 400 400"),
    "me": Route(get="401 401 200 200 200 200 200"),
    "qualification-list": Route(
        get="401 401 403 403 200 200 403", post="401 401 403 403 400 400 403"
    ),
    "qualification-detail": Route("qualification", get="401 401 403 403 200 404 403"),
    "qualification-grant": Route("qualification", post="401 401 403 403 400 404 403"),
    "my-qualification-list": Route(get="401 401 200 200 200 200 200"),
    # the API: tasks (requester)
    "bundle-list": Route(get="401 401 403 403 200 200 403", post="401 401 403 403 400 400 403"),
    "bundle-detail": Route(
        "bundle",
        get="401 401 403 403 200 404 403",
        put="401 401 403 403 400 404 403",
        patch="401 401 403 403 200 404 403",
        delete="401 401 403 403 409 404 403",
    ),
    "bundle-assignments": Route("bundle", get="401 401 403 403 200 404 403"),
    "bundle-assist": Route("bundle", get="401 401 403 403 200 404 403"),
    "bundle-cancel": Route("bundle", post="401 401 403 403 200 404 403"),
    "bundle-items": Route(
        "bundle", get="401 401 403 403 200 404 403", post="401 401 403 403 400 404 403"
    ),
    "bundle-pause": Route("bundle", post="401 401 403 403 200 404 403"),
    "bundle-predictions": Route("bundle", post="401 401 403 403 409 404 403"),
    "bundle-publish": Route("draft", post="401 401 403 403 409 404 403"),
    "bundle-results": Route("bundle", get="401 401 403 403 200 404 403"),
    "bundle-resume": Route("bundle", post="401 401 403 403 409 404 403"),
    "bundle-rule-events": Route(
        "bundle", get="401 401 403 403 200 404 403", post="401 401 403 403 404 404 403"
    ),
    "bundle-workers": Route(
        "bundle", get="401 401 403 403 200 404 403", post="401 401 403 403 400 404 403"
    ),
    "assignment-list": Route(get="401 401 403 403 200 200 403"),
    "assignment-review": Route(post="401 401 403 403 400 400 403"),
    "assignment-detail": Route("submitted", get="401 401 403 403 200 404 403"),
    "assignment-approve": Route("submitted", post="401 401 403 403 200 404 403"),
    "assignment-reject": Route("submitted", post="401 401 403 403 400 404 403"),
    "bonus-list": Route(get="401 401 403 403 200 200 403", post="401 401 403 403 400 400 403"),
    "bonus-detail": Route("bonus", get="401 401 403 403 200 404 403"),
    # the API: tasks (worker)
    "work-bundle-list": Route(get="401 401 200 200 403 403 403"),
    "work-bundle-detail": Route("bundle", get="401 401 200 200 403 403 403"),
    "work-bundle-claim": Route("bundle", post="401 401 201 201 403 403 403"),
    "work-assignment-list": Route(get="401 401 200 200 403 403 403"),
    "work-assignment-detail": Route("claim", get="401 401 200 404 403 403 403"),
    "work-assignment-give-back": Route("claim", post="401 401 200 404 403 403 403"),
    "work-assignment-submit": Route("claim", post="401 401 400 404 403 403 403"),
    "media-file": Route(get="404 404 404 404 404 404 404"),
    # the API: payments
    "balance": Route(get="401 401 403 403 200 200 403"),
    "earnings": Route(get="401 401 200 200 403 403 403"),
    "payout-account": Route(get="401 401 200 200 403 403 403", post="401 401 409 409 403 403 403"),
    "payout-details": Route(get="401 401 200 200 403 403 403", put="401 401 400 400 403 403 403"),
    "admin-revenue": Route(get="401 401 403 403 403 403 200"),
    "topup-list": Route(get="401 401 403 403 200 200 403", post="401 401 403 403 400 400 403"),
    "topup-detail": Route("topup", get="401 401 403 403 200 404 403"),
    "payout-list": Route(get="401 401 200 200 403 403 403", post="401 401 201 409 403 403 403"),
    "payout-detail": Route("payout", get="401 401 200 404 403 403 403"),
    "api-schema": Route(get="200 200 200 200 200 200 200"),
    "api-docs": Route(get="200 200 200 200 200 200 200"),
    # pages: worker workspace
    "home": Route(get="200 200 200 200 200 200 200", post="200 200 200 200 200 200 200"),
    "web:work-list": Route(get="302 302 200 200 403 403 403", post="405 405 405 405 405 405 405"),
    "web:worker-profile": Route(
        get="302 302 200 200 403 403 403", post="302 302 200 200 403 403 403"
    ),
    "web:earnings": Route(get="302 302 200 200 403 403 403", post="405 405 405 405 405 405 405"),
    "web:payout-request": Route(
        get="405 405 405 405 405 405 405", post="302 302 400 400 403 403 403"
    ),
    "web:payout-setup": Route(
        get="405 405 405 405 405 405 405", post="302 302 302 302 403 403 403"
    ),
    "web:payout-details": Route(
        get="405 405 405 405 405 405 405", post="302 302 400 400 403 403 403"
    ),
    "web:work-bundle": Route(
        "bundle", get="302 302 200 200 403 403 403", post="405 405 405 405 405 405 405"
    ),
    "web:work-next": Route(
        "bundle", get="405 405 405 405 405 405 405", post="302 302 302 302 403 403 403"
    ),
    "web:work-submit": Route(
        "claim", get="405 405 405 405 405 405 405", post="302 302 400 404 403 403 403"
    ),
    "web:work-skip": Route(
        "claim", get="405 405 405 405 405 405 405", post="302 302 302 404 403 403 403"
    ),
    # pages: requester console
    "web:bundle-list": Route(get="302 302 403 403 200 200 403", post="405 405 405 405 405 405 405"),
    "web:bundle-create": Route(
        get="302 302 403 403 200 200 403", post="302 302 403 403 200 200 403"
    ),
    "web:bundle-detail": Route(
        "bundle", get="302 302 403 403 200 404 403", post="405 405 405 405 405 405 405"
    ),
    "web:bundle-progress": Route(
        "bundle", get="302 302 403 403 200 404 403", post="405 405 405 405 405 405 405"
    ),
    "web:bundle-upload": Route(
        "bundle", get="405 405 405 405 405 405 405", post="302 302 403 403 400 404 403"
    ),
    "web:bundle-publish": Route(
        "draft", get="405 405 405 405 405 405 405", post="302 302 403 403 409 404 403"
    ),
    "web:bundle-review": Route(
        "bundle", get="302 302 403 403 200 404 403", post="302 302 403 403 400 404 403"
    ),
    "web:worker-bonus": Route(
        "bundle", get="302 302 403 403 200 404 403", post="302 302 403 403 200 404 403"
    ),
    "web:worker-block": Route(
        "bundle", get="405 405 405 405 405 405 405", post="302 302 403 403 400 404 403"
    ),
    "web:worker-unblock": Route(
        "bundle", get="405 405 405 405 405 405 405", post="302 302 403 403 302 404 403"
    ),
    "web:instructions-preview": Route(
        get="405 405 405 405 405 405 405", post="302 302 403 403 200 200 403"
    ),
    "web:task-preview": Route(
        get="405 405 405 405 405 405 405", post="302 302 403 403 200 200 403"
    ),
    "web:bundle-state": Route(
        "bundle",
        kwargs={"action": "pause"},
        get="405 405 405 405 405 405 405",
        post="302 302 403 403 302 404 403",
    ),
    "money:balance": Route(get="302 302 403 403 200 200 403", post="302 302 403 403 200 200 403"),
    "money:test-funds": Route(
        get="302 302 405 405 405 405 405", post="302 302 403 403 404 404 403"
    ),
    "health": Route(get="200 200 200 200 200 200 200", post="405 405 405 405 405 405 405"),
    "payments:stripe-webhook": Route(
        get="405 405 405 405 405 405 405", post="400 400 400 400 400 400 400"
    ),
    # allauth's pages
    "account_login": Route(get="200 200 302 302 302 302 302", post="200 200 302 302 302 302 302"),
    "account_logout": Route(get="302 302 200 200 200 200 200", post="302 302 302 302 302 302 302"),
    "account_inactive": Route(
        get="200 200 200 200 200 200 200", post="405 405 405 405 405 405 405"
    ),
    "account_signup": Route(get="200 200 302 302 302 302 302", post="200 200 302 302 302 302 302"),
    "account_reauthenticate": Route(
        get="302 302 200 200 200 200 200", post="302 302 200 200 200 200 200"
    ),
    "account_email": Route(get="302 302 200 200 200 200 200", post="302 302 302 302 302 302 302"),
    "account_email_verification_sent": Route(
        get="200 200 200 200 200 200 200", post="405 405 405 405 405 405 405"
    ),
    "account_change_password": Route(
        get="302 302 200 200 200 200 200", post="302 302 200 200 200 200 200"
    ),
    "account_set_password": Route(
        get="302 302 302 302 302 302 302", post="302 302 302 302 302 302 302"
    ),
    "account_reset_password": Route(
        get="200 200 200 200 200 200 200", post="200 200 200 200 200 200 200"
    ),
    "account_confirm_login_code": Route(
        get="302 302 302 302 302 302 302", post="302 302 302 302 302 302 302"
    ),
    "account_confirm_email": Route(
        kwargs={"key": "not-a-key"},
        get="200 200 200 200 200 200 200",
        post="404 404 404 404 404 404 404",
    ),
    "account_reset_password_from_key_done": Route(
        get="200 200 200 200 200 200 200", post="405 405 405 405 405 405 405"
    ),
    "account_reset_password_from_key": Route(
        kwargs={"uidb36": "zz", "key": "not-a-key"},
        get="200 200 200 200 200 200 200",
        post="200 200 200 200 200 200 200",
    ),
    "account_reset_password_done": Route(
        get="200 200 200 200 200 200 200", post="405 405 405 405 405 405 405"
    ),
    # Added at the session-4 merge (appeals, blocks, reports, pay floor, messaging, MTurk,
    # quality), each on the world's object of its kind.
    "appeal-answer": Route("appeal", post="401 401 403 403 400 404 403"),
    "appeal-detail": Route("appeal", get="401 401 200 404 200 404 404"),
    "appeal-list": Route(get="401 401 200 200 200 200 200", post="401 401 400 400 403 403 403"),
    "block-detail": Route("block", get="401 401 200 404 200 404 404"),
    "block-lift": Route("block", post="401 401 403 403 200 404 403"),
    "block-list": Route(get="401 401 200 200 200 200 200", post="401 401 403 403 400 400 403"),
    "bundle-pay-floor": Route("bundle", post="401 401 403 403 400 404 403"),
    "bundle-quality": Route(
        "bundle", get="401 401 403 403 200 404 403", post="401 401 403 403 404 404 403"
    ),
    "bundle-training": Route(
        "bundle", get="401 401 403 403 200 404 403", post="401 401 403 403 400 404 403"
    ),
    "keys:api-key-revoke": Route(
        "access_key",
        attr="access_key_id",
        get="405 405 405 405 405 405 405",
        post="302 302 403 403 302 302 403",
        writers="requester",
    ),
    "keys:api-keys": Route(get="302 302 403 403 200 200 403", post="302 302 403 403 200 200 403"),
    "mturk-worker:external-submit": Route(
        get="405 405 405 405 405 405 405", post="403 403 403 403 403 403 403"
    ),
    "mturk-worker:external-submit-signed": Route(
        get="403 403 403 403 403 403 403", post="403 403 403 403 403 403 403"
    ),
    "mturk:endpoint": Route(get="400 400 400 400 400 400 400", post="400 400 400 400 400 400 400"),
    "mturk:sandbox-endpoint": Route(
        get="400 400 400 400 400 400 400", post="400 400 400 400 400 400 400"
    ),
    "report-list": Route(get="401 401 200 200 200 200 200", post="401 401 400 400 403 403 403"),
    "sandbox-tester-remove": Route(post="401 401 403 403 400 400 403"),
    "sandbox-testers": Route(get="401 401 403 403 200 200 403", post="401 401 403 403 400 400 403"),
    "thread-detail": Route("thread", get="401 401 200 404 200 404 404"),
    "thread-list": Route(get="401 401 200 200 200 200 200", post="401 401 400 400 400 400 400"),
    "thread-messages": Route("thread", post="401 401 400 404 400 404 404"),
    "thread-read": Route("thread", post="401 401 204 404 204 404 404"),
    "web:appeal-answer": Route(
        "appeal",
        get="405 405 405 405 405 405 405",
        post="302 302 403 403 302 302 403",
        writers="requester",
    ),
    "web:appeal-block": Route(
        "block",
        get="405 405 405 405 405 405 405",
        post="302 302 302 302 403 403 403",
        writers="worker",
    ),
    "web:appeal-rejection": Route(
        "submitted", get="302 302 200 404 403 403 403", post="302 302 200 404 403 403 403"
    ),
    "web:block-lift": Route(
        "block",
        get="405 405 405 405 405 405 405",
        post="302 302 403 403 302 302 403",
        writers="requester",
    ),
    "web:block-list-add": Route(
        get="405 405 405 405 405 405 405", post="302 302 403 403 302 302 403"
    ),
    "web:bundle-pay-floor": Route(
        "bundle",
        get="405 405 405 405 405 405 405",
        post="302 302 403 403 302 302 403",
        writers="requester",
    ),
    "web:hit-frame": Route(
        "claim", get="302 302 404 404 403 403 403", post="405 405 405 405 405 405 405"
    ),
    "web:hit-preview-frame": Route(
        "bundle", get="302 302 404 404 403 403 403", post="405 405 405 405 405 405 405"
    ),
    "web:inbox": Route(get="302 302 200 200 200 200 200", post="405 405 405 405 405 405 405"),
    "web:message-thread": Route(
        "thread", get="302 302 200 404 200 404 404", post="302 302 200 404 200 404 404"
    ),
    "web:report-bundle": Route(
        "bundle", get="302 302 200 200 403 403 403", post="302 302 200 200 403 403 403"
    ),
    "web:requester-fairness": Route(
        get="302 302 403 403 200 200 403", post="405 405 405 405 405 405 405"
    ),
    "web:requester-message": Route(
        "bundle", get="302 302 403 403 200 404 403", post="302 302 403 403 200 404 403"
    ),
    "web:rule-event-reverse": Route(
        "bundle",
        objects={"event_id": "rule_event"},
        get="405 405 405 405 405 405 405",
        post="302 302 403 403 302 404 403",
    ),
    "web:training-update": Route(
        "bundle", get="405 405 405 405 405 405 405", post="302 302 403 403 302 404 403"
    ),
    "web:work-preview": Route(
        "bundle", get="302 302 200 200 403 403 403", post="405 405 405 405 405 405 405"
    ),
    "web:worker-ask": Route(
        "bundle", get="302 302 200 200 403 403 403", post="302 302 200 200 403 403 403"
    ),
    "web:worker-fairness": Route(
        get="302 302 200 200 403 403 403", post="405 405 405 405 405 405 405"
    ),
    "work-pay": Route(get="401 401 200 200 403 403 403"),
    "work-qualification-type-list": Route(get="401 401 200 200 403 403 403"),
    "work-qualification-type-request": Route(
        "qualification_type",
        attr="qualification_type_id",
        post="401 401 201 201 403 403 403",
    ),
    "work-quality-event-list": Route(get="401 401 200 200 403 403 403"),
}


def _all_urls(patterns=None, prefix: str = "", namespace: str = ""):
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            ns = namespace + (f"{entry.namespace}:" if entry.namespace else "")
            yield from _all_urls(entry.url_patterns, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            yield namespace + (entry.name or ""), prefix + str(entry.pattern)


def project_urls() -> dict[str, str]:
    """name -> pattern of every URL but the admin's (covered by its own rule)."""
    return {name: pattern for name, pattern in _all_urls() if not name.startswith("admin:")}


def schema_operations() -> dict[str, set[str]]:
    """URL name -> the methods the OpenAPI schema documents for it."""
    from django.urls import resolve

    schema = SchemaGenerator().get_schema(request=None, public=True)
    out: dict[str, set[str]] = {}
    for path, operations in schema["paths"].items():
        name = resolve(re.sub(r"\{\w+\}", "1", path)).url_name or ""
        out.setdefault(name, set()).update(
            m for m in operations if m in ("get", "post", "put", "patch", "delete")
        )
    return out


PARAM = re.compile(r"\(\?P<(\w+)>[^)]*\)|<(?:\w+:)?(\w+)>")


def url_for(name: str, route: Route, world: World, placeholder: str | None = None) -> str:
    """The URL of `name` on the world's objects. Only the entry suggested for a URL without one
    may fill an argument with `placeholder`: an entry checks a real object or fails."""
    pattern = project_urls()[name]
    kwargs = {}
    for match in PARAM.finditer(pattern):
        param = match[1] or match[2]
        if param in route.kwargs:
            kwargs[param] = route.kwargs[param]
        elif param in route.objects:
            kwargs[param] = str(world.objects[route.objects[param]].pk)
        elif param == "public_id":
            kwargs[param] = world.objects["public_id"]
        elif param == "token":
            kwargs[param] = world.objects["media_token"]
        elif route.obj is not None:
            kwargs[param] = str(getattr(world.objects[route.obj], route.attr))
        elif placeholder is not None:
            kwargs[param] = placeholder
        else:
            raise LookupError(f"{name}: no world object fills <{param}>: set obj= or objects=")
    return reverse(name, kwargs=kwargs)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """Built once for the module inside a transaction that is rolled back at the end; each
    test runs in a savepoint inside it (pytest-django's `django_db`), so a write by one role
    is gone before the next test."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield build_world()
        transaction.set_rollback(True)


Results = dict[str, tuple[int, bytes, bool]]


def _row(obj: Any) -> dict[str, Any] | None:
    return type(obj)._default_manager.filter(pk=obj.pk).values().first()


def request_as_roles(world: World, url: str, method: str, watched: Any = None) -> Results:
    """Each role's (status, body, whether the `watched` object's row changed). API URLs go
    through the token client, pages through the session client; an empty form/JSON body for
    writes; each role's request is rolled back before the next."""
    out = {}
    before = _row(watched) if watched is not None else None
    for role, (api, browser) in clients_for(world).items():
        cache.clear()  # the login throttles count per address, and every client is 127.0.0.1
        sid = transaction.savepoint()
        client = api if url.startswith("/api/") else browser
        if client is api:
            response = getattr(client, method)(url, {}, format="json")
        else:
            response = getattr(client, method)(url, {})
        body = b"".join(response.streaming_content) if response.streaming else response.content
        changed = watched is not None and _row(watched) != before
        out[role] = (response.status_code, body, changed)
        transaction.savepoint_rollback(sid)
    return out


def statuses(results: Results) -> str:
    return " ".join(str(results[role][0]) for role in ROLES)


def leaks(world: World, results: Results) -> list[str]:
    found = []
    for role, (_, body, _) in results.items():
        text = body.decode("utf-8", "replace")
        for secret, allowed in world.secrets.items():
            if role not in allowed and secret in text:
                found.append(f"{role} sees {secret!r}")
    return found


def _cases():
    for name, route in ROUTES.items():
        for method, expected in route.methods().items():
            yield pytest.param(name, method, expected, id=f"{method}-{name}")


pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _production_sign_in(settings):
    """Verification is mandatory in production (optional in development): the unverified
    role signs in under the production rule."""
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    settings.STRIPE_WEBHOOK_SECRET = "whsec_matrix"  # configured, as in production
    cache.clear()  # the login throttles count per address: each test starts afresh


@pytest.mark.parametrize(("name", "method", "expected"), list(_cases()))
def test_role_matrix(world, name, method, expected):
    route = ROUTES[name]
    watched = world.objects[route.obj] if route.obj and method != "get" else None
    results = request_as_roles(world, url_for(name, route, world), method, watched)
    assert statuses(results) == expected, f"{method.upper()} {name} ({' '.join(ROLES)})"
    assert all(status < 500 for status, _, _ in results.values())
    assert leaks(world, results) == []
    writers = (
        set(route.writers.split())
        if route.writers is not None
        else {role for role, (status, _, _) in results.items() if status < 400}
    )
    changed_by = [role for role, (_, _, changed) in results.items() if changed]
    assert set(changed_by) <= writers, f"{route.obj} changed by {changed_by}, refused or not"


def test_the_change_check_can_fail(world):
    """The owner's revocation changes the key's row: the check above sees a write."""
    route = ROUTES["keys:api-key-revoke"]
    url = url_for("keys:api-key-revoke", route, world)
    results = request_as_roles(world, url, "post", world.objects["access_key"])
    changed_by = [role for role, (_, _, changed) in results.items() if changed]
    assert changed_by == ["requester"]


def missing_entries(world: World) -> list[str]:
    """The entries to add for URLs (or API operations) without one, with what each role gets
    today: check each status is what that role should get before pasting it."""
    urls, documented = project_urls(), schema_operations()
    problems = []
    for name in sorted(urls):
        route = ROUTES.get(name)
        wanted = documented.get(name) or (
            {"get"} if urls[name].startswith("api/") else {"get", "post"}
        )
        if route is not None and wanted <= set(route.methods()):
            continue
        suggestion = route or Route()
        lines = []
        for method in sorted(wanted - set(suggestion.methods())):
            try:
                url = url_for(name, suggestion, world, placeholder="999999")
                results = request_as_roles(world, url, method)
            except NoReverseMatch:
                lines.append(f'{method}="..." (set kwargs= for the URL arguments)')
                continue
            lines.append(f'{method}="{statuses(results)}"')
        problems.append(
            f'    "{name}": Route({", ".join(lines)}),  # {urls[name]}: set obj= to the world '
            "object (tests/hardening/world.py) whose id fills the URL"
        )
    return problems


def test_every_url_has_an_entry(world):
    problems = missing_entries(world)
    assert not problems, (
        "add to ROUTES in tests/hardening/test_permission_matrix.py (statuses in the order "
        + " ".join(ROLES)
        + "):\n"
        + "\n".join(problems)
    )
    gone = sorted(set(ROUTES) - set(project_urls()))
    assert not gone, f"in ROUTES but no longer a URL: {gone}"


def test_a_new_url_without_an_entry_is_named_with_its_entry(world, settings):
    settings.ROOT_URLCONF = "tests.hardening.urls_with_a_new_route"
    assert missing_entries(world) == [
        '    "new-thing": Route(get="302 302 302 302 302 302 302", post="302 302 302 302 302 302 '
        '302"),  # new/<int:pk>/: set obj= to the world object (tests/hardening/world.py) whose '
        "id fills the URL"
    ]


CANARIES = [
    ("bundle-results", "requester"),
    ("bundle-items", "requester"),
    ("work-assignment-list", "worker"),
    ("work-assignment-list", "other_worker"),
    ("balance", "requester"),
    ("balance", "other_requester"),
    ("earnings", "worker"),
    ("me", "worker"),
    ("me", "other_worker"),
    ("me", "requester"),
    ("me", "other_requester"),
    ("topup-detail", "requester"),
    ("payout-detail", "worker"),
    ("payout-account", "worker"),
    ("money:balance", "requester"),
    ("money:balance", "other_requester"),
    ("web:earnings", "worker"),
    ("web:bundle-review", "requester"),
    ("appeal-detail", "worker"),
    ("block-detail", "requester"),
    ("thread-detail", "worker"),
    ("keys:api-keys", "requester"),
]


def test_the_leak_check_can_fail(world):
    """Each secret is really served to a role allowed to see it, so its absence elsewhere
    means something (a check for strings nobody serves would pass whatever leaked)."""
    seen: set[str] = set()
    clients = clients_for(world)
    for name, role in CANARIES:
        url = url_for(name, ROUTES[name], world)
        api, browser = clients[role]
        response = (api if url.startswith("/api/") else browser).get(url)
        text = b"".join(
            response.streaming_content if response.streaming else [response.content]
        ).decode()
        seen |= {
            secret
            for secret, allowed in world.secrets.items()
            if role in allowed and secret in text
        }
    # Stripe's ids and the access key's secret are served to nobody outside the admin: only
    # their absence is checked.
    assert sorted(set(world.secrets) - seen) == sorted(world.unserved)


ADMIN_OPEN = {"admin:login": 200}  # the one admin page anyone may load


def _admin_urls(world: World) -> list[tuple[str, str]]:
    """(name, URL) of every admin URL: object ids are the first row of the model the URL names
    (999999 where the table is empty), the app label of `app_list` is each installed one."""
    from django.apps import apps
    from django.contrib import admin

    out = []
    for name, pattern in _all_urls():
        if not name.startswith("admin:"):
            continue
        if name == "admin:":  # unnamed: the catch-all and the old object URLs' redirect
            out.append(("admin:(catch-all)", "/admin/no-such-page/"))
            continue
        params = [m[1] or m[2] for m in PARAM.finditer(pattern)]
        if name == "admin:app_list":
            labels = sorted({m._meta.app_label for m in admin.site._registry})
            out += [(name, reverse(name, kwargs={"app_label": label})) for label in labels]
            continue
        if name == "admin:view_on_site":
            continue  # a redirect to the object's own page, which the matrix above covers
        kwargs = {}
        for param in params:
            app_model = name.removeprefix("admin:").rsplit("_", 1)[0]
            model = next(
                (
                    m
                    for m in apps.get_models()
                    if f"{m._meta.app_label}_{m._meta.model_name}" == app_model
                ),
                None,
            )
            row = model._default_manager.order_by("pk").first() if model else None
            kwargs[param] = str(row.pk) if row is not None else "999999"
        out.append((name, reverse(name, kwargs=kwargs)))
    return out


def test_admin_site(world):
    """Every admin URL (generated from the admin's URL conf, so a new model admin is covered
    without an entry): everyone but staff is sent to the admin login, staff get no 5xx, and
    admin pages leak nothing to non-staff (they never render for them)."""
    wrong = []
    clients = clients_for(world)
    for name, url in _admin_urls(world):
        for role in ROLES:
            _, browser = clients[role]
            sid = transaction.savepoint()
            status = browser.get(url).status_code
            transaction.savepoint_rollback(sid)
            if name in ADMIN_OPEN:
                ok = status in (ADMIN_OPEN[name], 302)
            elif role == "admin":
                # 403 where a ModelAdmin refuses the action (the ledger's rows are never deleted)
                ok = status < 500
            else:
                ok = status == 302
            if not ok:
                wrong.append(f"{role} GET {url} ({name}): {status}")
    assert wrong == [], "\n".join(wrong)
