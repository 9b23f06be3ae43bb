"""The quality rules editor of the create form in a real browser: rules added, changed and
removed as rows (no JSON typed), with each action's parameter; the draft carries exactly those
rules, validated by the service; a rule the service refuses comes back with its message next to
the rules. Screenshot: test-output/screenshots/rules-editor-1280.png."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.e2e.annotation_pages import VIEWPORTS, session_cookie

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _form(open_context, site):
    from accounts.services import qualification_create
    from tests.factories import RequesterFactory

    with site.lock:
        requester = RequesterFactory()
        qualification_create(owner=requester, name="fast-clicker")
        cookie = session_cookie(site, requester)
    context = open_context(viewport=VIEWPORTS["1280"])
    context.set_default_timeout(10_000)
    context.add_cookies([cookie])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(site("/bundles/new/"))
    page.get_by_label("Title").fill("Rules in the browser")
    page.get_by_label("Choices").fill("Positive\nNegative")
    return page, requester, errors


def test_rules_editor_builds_the_rules_without_json(open_context, site, screenshot):
    page, requester, errors = _form(open_context, site)
    editor = page.locator("[data-rules-editor]")
    expect(editor).to_be_visible()
    expect(page.locator("#id_quality_rules")).to_be_hidden()  # the JSON stays behind the rows

    editor.get_by_role("button", name="Add a rule").click()
    expect(page.get_by_label("Rule 1 measure")).to_be_focused()
    page.get_by_label("Rule 1 threshold (%)").fill("40")
    page.get_by_label("Rule 1 minimum answers").fill("3")
    page.get_by_label("Rule 1 action").select_option("pause")

    editor.get_by_role("button", name="Add a rule").click()
    page.get_by_label("Rule 2 measure").select_option("agent_canary")
    expect(page.get_by_label("Rule 2 minimum answers")).to_have_value("1")
    page.get_by_label("Rule 2 action").select_option("grant_qualification")
    page.get_by_label("Rule 2 qualification name").fill("fast-clicker")

    editor.get_by_role("button", name="Add a rule").click()
    page.get_by_label("Rule 3 measure").select_option("pasted")
    page.get_by_label("Rule 3 action").select_option("lower_weight")
    page.get_by_label("Rule 3 weight (0 to 0.99)").fill("0.5")
    editor.get_by_role("button", name="Add a rule").click()
    editor.get_by_role("button", name="Remove rule 4").click()
    expect(page.locator("[data-rule-row]")).to_have_count(3)

    page.get_by_label("Hidden word for AI agents (optional)").fill("zephyrine")
    written = json.loads(page.locator("#id_quality_rules").input_value())
    assert [r["action"] for r in written] == ["pause", "grant_qualification", "lower_weight"]
    screenshot(page, "rules-editor-1280")

    page.get_by_role("button", name="Create draft").click()
    expect(page.locator(".messages")).to_contain_text("Bundle created as a draft")
    with site.lock:
        from tasks.models import Bundle

        bundle = Bundle.objects.get(requester=requester)
    assert bundle.agent_canary == "zephyrine"
    assert bundle.quality_rules == [
        {"collector": "answer_speed", "threshold": 0.4, "min_answers": 3, "action": "pause",
         "floor": 0.3},
        {"collector": "agent_canary", "threshold": 0.0, "min_answers": 1,
         "action": "grant_qualification", "qualification": "fast-clicker", "value": 1},
        {"collector": "pasted", "threshold": 0.5, "min_answers": 3, "action": "lower_weight",
         "weight": 0.5},
    ]  # fmt: skip
    assert not errors, errors


def test_a_refused_rule_comes_back_with_its_message(open_context, site):
    page, requester, errors = _form(open_context, site)
    editor = page.locator("[data-rules-editor]")
    editor.get_by_role("button", name="Add a rule").click()
    page.get_by_label("Rule 1 action").select_option("revoke_qualification")
    page.get_by_label("Rule 1 qualification name").fill("nobody-has-this")
    page.get_by_role("button", name="Create draft").click()
    expect(page.locator(".has-error")).to_contain_text("unknown qualification")
    # the editor comes back with the rule as it was, to fix it there
    expect(page.get_by_label("Rule 1 qualification name")).to_have_value("nobody-has-this")
    with site.lock:
        from tasks.models import Bundle

        assert not Bundle.objects.filter(requester=requester).exists()
    assert not errors, errors
