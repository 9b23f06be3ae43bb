"""Issue 16, finding 7: a Content-Security-Policy on every page. The browser tests
(tests/e2e) drive htmx and the annotation tools under it."""

import pytest

from tests.factories import RequesterFactory, WorkerFactory

pytestmark = pytest.mark.django_db


def _directives(response):
    header = response["Content-Security-Policy"]
    return dict((part.strip().split(" ", 1) + [""])[:2] for part in header.split(";"))


@pytest.mark.parametrize(
    ("path", "who"),
    [("/", None), ("/accounts/login/", None), ("/work/", "worker"), ("/bundles/", "requester"),
     ("/api/v1/me/", None), ("/admin/login/", None)],
)  # fmt: skip
def test_every_page_has_a_policy_without_inline_script(client, path, who):
    if who == "worker":
        client.force_login(WorkerFactory())
    elif who == "requester":
        client.force_login(RequesterFactory())
    response = client.get(path)
    assert response.status_code < 500
    directives = _directives(response)
    assert directives["script-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
