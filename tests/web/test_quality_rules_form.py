"""The create form takes the bundle's quality rules (JSON), checked by the one validator the API
and the admin use, with the error next to the field."""

from __future__ import annotations

import json
import re

import pytest

from tasks.models import Bundle

from .test_pages import _bundle_form, login

pytestmark = pytest.mark.django_db


def test_create_form_takes_quality_rules(client, requester):
    rules = [{"collector": "answer_speed", "threshold": 0.4, "action": "block"}]
    response = login(client, requester).post(
        "/bundles/new/", _bundle_form(quality_rules=json.dumps(rules))
    )
    assert response.status_code == 302
    bundle = Bundle.objects.get(requester=requester)
    assert bundle.quality_rules == [
        {"collector": "answer_speed", "threshold": 0.4, "min_answers": 5, "action": "block",
         "floor": 0.3}
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "message"),
    [('[{"collector": "vibes"}]', "collector must be one of"), ("[{", "Not valid JSON")],
)
def test_create_form_shows_rule_errors_next_to_the_field(client, requester, text, message):
    response = login(client, requester).post("/bundles/new/", _bundle_form(quality_rules=text))
    assert response.status_code == 400
    html = response.content.decode()
    field = re.search(r'<div class="field has-error">(.*?)</div>', html, re.S)
    assert field and "quality_rules" in field.group(1) and message in html
    assert not Bundle.objects.exists()
