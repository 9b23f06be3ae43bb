"""A HIT type's bundle is an ordinary bundle in the requester's console: its pages render."""

from __future__ import annotations

import pytest
from django.urls import reverse

from marketplace.mturk.hits import hit_create, hit_type_get_or_create
from tests.factories import RequesterFactory, fund
from tests.mturk.conftest import HIT_TYPE, HTML_QUESTION, answer_hit

pytestmark = pytest.mark.django_db


def test_console_pages_render_for_an_mturk_bundle(client):
    requester = RequesterFactory()
    fund(requester, 10_000)
    hit_type = hit_type_get_or_create(requester=requester, params=HIT_TYPE)
    hit = hit_create(requester=requester, hit_type=hit_type, max_assignments=2,
                     lifetime_seconds=600, question=HTML_QUESTION)  # fmt: skip
    answer_hit(hit.hit_id, {"sentiment": "ok"})
    client.force_login(requester)
    bundle_id = hit.item.bundle_id
    for url in (
        reverse("web:bundle-list"),
        reverse("web:bundle-detail", args=[bundle_id]),
        reverse("web:bundle-review", args=[bundle_id]),
        reverse("keys:api-keys"),
    ):
        assert client.get(url).status_code == 200, url
