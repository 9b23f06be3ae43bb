"""The web product's pages through Django's test client: worker workspace, requester console,
the allauth pages in the site layout. Browser behaviour (keyboard, htmx) is in tests/e2e."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.services import qualification_create
from tasks import review, services, work
from tasks.models import Assignment, AssignmentStatus, Bundle, BundleStatus
from tasks.quality import blocking
from tests.factories import (
    BundleFactory,
    ItemFactory,
    RequesterFactory,
    WorkerFactory,
    fund,
    publish,
)

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def login(client, user):
    client.force_login(user)
    return client


def title_of(response) -> str:
    match = re.search(rb"<title>(.*?)</title>", response.content, re.S)
    assert match, "every page has a <title>"
    return match.group(1).decode().strip()


@pytest.fixture
def bundle(requester):
    bundle = BundleFactory(requester=requester, min_overlap=1, max_overlap=1)
    for n in range(3):
        ItemFactory(bundle=bundle, payload={"text": f"<b>review {n}</b>"})
    return publish(bundle)


# -- pages render, with titles, for the right people ----------------------------------------


@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/accounts/signup/"])
def test_public_pages_have_titles_and_the_site_layout(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert title_of(response)
    assert b'name="viewport"' in response.content
    assert b"css/site.css" in response.content


def test_signup_page_labels_every_input(client):
    html = client.get("/accounts/signup/").content.decode()
    for name in ("email", "password1", "password2", "country"):
        input_id = re.search(rf'<input[^>]*name="{name}"[^>]*id="([^"]+)"', html)
        input_id = input_id or re.search(rf'<input[^>]*id="([^"]+)"[^>]*name="{name}"', html)
        assert input_id, name
        assert f'for="{input_id.group(1)}"' in html, f"{name} has no <label>"
    assert "csrfmiddlewaretoken" in html


def test_signup_makes_a_worker_and_lands_on_a_page_with_work_links(client):
    response = client.post(
        "/accounts/signup/",
        {
            "email": "new@example.com",
            "password1": "a-long-pass-phrase-9",
            "password2": "a-long-pass-phrase-9",
            "roles": ["worker"],
            "country": "DE",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert b"Find work" in response.content


def test_signup_errors_show_next_to_the_field(client):
    response = client.post(
        "/accounts/signup/",
        {"email": "not-an-email", "password1": "x", "password2": "y", "roles": ["worker"]},
    )
    html = response.content.decode()
    assert 'class="field has-error"' in html
    assert "errorlist" in html


@pytest.mark.parametrize("path", ["/work/", "/work/earnings/", "/bundles/", "/bundles/new/"])
def test_pages_need_a_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_a_requester_is_told_the_worker_pages_need_a_worker_account(client, requester):
    response = login(client, requester).get("/work/")
    assert response.status_code == 403
    assert b"needs a worker account" in response.content


# -- worker workspace ------------------------------------------------------------------------


def test_find_work_lists_the_bundle_with_reward_and_tasks_left(client, bundle):
    response = login(client, WorkerFactory()).get("/work/")
    html = response.content.decode()
    assert title_of(response).startswith("Find work")
    assert bundle.title in html
    assert "$0.05 per task" in html
    assert "<dd>3</dd>" in html  # tasks left


def test_find_work_estimates_hourly_pay_from_the_median_time(client, requester):
    # Issue 15: the estimate needs enough approved work (one answer is "not enough data").
    bundle = BundleFactory(requester=requester, min_overlap=1, max_overlap=1)
    for n in range(6):
        ItemFactory(bundle=bundle, payload={"text": f"item {n}"})
    bundle = publish(bundle)
    for _ in range(5):
        worker = WorkerFactory()
        assignment = work.assignment_claim(bundle=bundle, worker=worker)
        services.assignment_submit(assignment_id=assignment.pk, worker=worker, answer="pos")
        Assignment.objects.filter(pk=assignment.pk).update(seconds_spent=18.0)
        review.assignments_review(
            requester=bundle.requester, assignment_ids=[assignment.pk], approve=True
        )
    html = login(client, WorkerFactory()).get("/work/").content.decode()
    assert "$10.00/h" in html  # 5 cents every 18 s
    assert "18 s" in html


def test_task_page_claims_and_renders_the_item_escaped(client, bundle):
    worker = WorkerFactory()
    client = login(client, worker)
    response = client.post(f"/work/{bundle.pk}/next/")
    assert response.status_code == 302
    page = client.get(response["Location"])
    html = page.content.decode()
    # an HTML snippet is sanitised to the allow-list (<b> is not on it), never passed raw
    assert "<b>review" not in html and "review 0" in html
    assert 'data-key="1"' in html and 'data-key="2"' in html
    assert "data-deadline=" in html
    assert "<details" in html  # collapsible instructions
    assert Assignment.objects.filter(worker=worker, status=AssignmentStatus.CLAIMED).count() == 1


def test_submit_by_htmx_returns_the_next_task_panel(client, bundle):
    worker = WorkerFactory()
    client = login(client, worker)
    first = client.post(f"/work/{bundle.pk}/next/", **HTMX)
    assert b'id="task-panel"' in first.content and b"<html" not in first.content
    claimed = Assignment.objects.get(worker=worker, status=AssignmentStatus.CLAIMED)
    response = client.post(f"/work/tasks/{claimed.pk}/submit/", {"answer": "pos"}, **HTMX)
    assert response.status_code == 200
    assert b"Answer saved." in response.content
    claimed.refresh_from_db()
    assert claimed.status == AssignmentStatus.SUBMITTED and claimed.answer == "pos"
    assert Assignment.objects.filter(worker=worker, status=AssignmentStatus.CLAIMED).count() == 1


def test_missing_answer_is_shown_in_the_panel_and_nothing_is_submitted(client, bundle):
    worker = WorkerFactory()
    client = login(client, worker)
    client.post(f"/work/{bundle.pk}/next/")
    claimed = Assignment.objects.get(worker=worker)
    response = client.post(f"/work/tasks/{claimed.pk}/submit/", {}, **HTMX)
    assert b"Pick an option." in response.content
    assert b'id="answer-error"' in response.content
    claimed.refresh_from_db()
    assert claimed.status == AssignmentStatus.CLAIMED


def test_skip_returns_the_task_and_serves_another(client, bundle):
    worker = WorkerFactory()
    client = login(client, worker)
    client.post(f"/work/{bundle.pk}/next/")
    first = Assignment.objects.get(worker=worker)
    response = client.post(f"/work/tasks/{first.pk}/skip/", **HTMX)
    assert b"Task skipped." in response.content
    first.refresh_from_db()
    assert first.status == AssignmentStatus.RETURNED
    assert Assignment.objects.filter(worker=worker, status=AssignmentStatus.CLAIMED).count() == 1


def test_an_empty_bundle_says_so(client, bundle):
    worker = WorkerFactory()
    client = login(client, worker)
    for _ in range(3):
        client.post(f"/work/{bundle.pk}/next/")
        claimed = Assignment.objects.get(worker=worker, status=AssignmentStatus.CLAIMED)
        response = client.post(f"/work/tasks/{claimed.pk}/submit/", {"answer": "neg"}, **HTMX)
    assert b"No more tasks here for you" in response.content


def test_a_blocked_worker_sees_the_reason(client, bundle):
    worker = WorkerFactory()
    blocking.worker_block(
        worker_id=worker.pk,
        bundle_id=bundle.pk,
        reason="Too many wrong gold answers",
        by=bundle.requester,
    )
    response = login(client, worker).get(f"/work/{bundle.pk}/")
    assert b"Too many wrong gold answers" in response.content
    assert b"You cannot work on this bundle" in response.content


def test_an_unqualified_worker_sees_what_is_required(client, requester):
    bundle = BundleFactory(
        requester=requester,
        requirements=[{"qualification": "country", "comparator": "EqualTo", "value": "FR"}],
    )
    ItemFactory(bundle=bundle)
    publish(bundle)
    response = login(client, WorkerFactory()).get(f"/work/{bundle.pk}/")
    assert b"You do not qualify for this bundle" in response.content
    assert b"Requires" in response.content


def test_gold_feedback_says_correct_or_incorrect_but_never_the_gold(client, requester, monkeypatch):
    monkeypatch.setattr("tasks.work.claim.random.random", lambda: 0.0)  # gold first
    secret = "zebra-gold-secret"
    bundle = BundleFactory(
        requester=requester,
        question={"type": "text", "max_length": 100},
        gold_rate=0.9,
        gold_feedback=True,
        min_overlap=1,
        max_overlap=1,
    )
    ItemFactory(bundle=bundle)
    ItemFactory(bundle=bundle, gold=secret)
    publish(bundle)
    worker = WorkerFactory()
    client = login(client, worker)
    seen_gold = False
    for _ in range(2):
        client.post(f"/work/{bundle.pk}/next/")
        claimed = Assignment.objects.filter(worker=worker, status=AssignmentStatus.CLAIMED).first()
        if claimed is None:
            break
        response = client.post(f"/work/tasks/{claimed.pk}/submit/", {"answer": "nope"}, **HTMX)
        assert secret.encode() not in response.content
        if claimed.is_gold:
            seen_gold = True
            assert b"Quality check: incorrect." in response.content
    assert seen_gold


def test_earnings_show_balance_and_reject_reasons(client, bundle):
    worker = WorkerFactory()
    done = []
    for answer in ("pos", "neg"):
        claimed = work.assignment_claim(bundle=bundle, worker=worker)
        services.assignment_submit(assignment_id=claimed.pk, worker=worker, answer=answer)
        done.append(claimed.pk)
    review.assignment_approve(assignment_id=done[0], by=bundle.requester)
    review.assignment_reject(assignment_id=done[1], by=bundle.requester, reason="Not negative")
    response = login(client, worker).get("/work/earnings/")
    html = response.content.decode()
    assert title_of(response).startswith("Earnings")
    assert "$0.05" in html
    assert "Reason: Not negative" in html
    assert "Approved" in html and "Rejected" in html


# -- requester console -----------------------------------------------------------------------


def _bundle_form(**overrides):
    data = {
        "title": "Sentiment",
        "instructions": "Is it positive?",
        "question_type": "single_choice",
        "choices": "pos | Positive\nneg | Negative",
        "currency": "usd",
        "reward": "0.05",
        "overlap": "2",
        "gold_rate": "0",
        "time_limit_minutes": "10",
    }
    data.update(overrides)
    return data


def test_create_bundle_form_makes_a_draft(client, requester):
    client = login(client, requester)
    page = client.get("/bundles/new/")
    assert b"Platform fee" in page.content
    response = client.post("/bundles/new/", _bundle_form())
    bundle = Bundle.objects.get(requester=requester)
    assert response["Location"] == f"/bundles/{bundle.pk}/"
    assert bundle.reward_minor == 5 and bundle.max_overlap == 2
    assert bundle.question["choices"][0] == {"value": "pos", "label": "Positive"}


def test_create_bundle_errors_show_next_to_the_field(client, requester):
    response = login(client, requester).post(
        "/bundles/new/", _bundle_form(choices="only one", reward="-1")
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "List at least two choices" in html
    assert html.count('class="field has-error"') == 2
    assert not Bundle.objects.exists()


def test_upload_shows_the_row_at_fault_next_to_the_file_field(client, requester):
    bundle = BundleFactory(requester=requester)
    bad = SimpleUploadedFile("items.csv", b"external_id,text,gold\na,fine,pos\nb,bad,maybe\n")
    response = login(client, requester).post(f"/bundles/{bundle.pk}/items/", {"file": bad})
    assert response.status_code == 400
    html = response.content.decode()
    assert re.search(r'field has-error">.*Row 2', html, re.S)
    assert bundle.items.count() == 0


def test_upload_then_publish_with_the_total_cost_shown(client, requester):
    bundle = BundleFactory(requester=requester, min_overlap=2, max_overlap=2)
    client = login(client, requester)
    good = SimpleUploadedFile("items.csv", b"text\none\ntwo\nthree\n")
    response = client.post(f"/bundles/{bundle.pk}/items/", {"file": good})
    assert response.status_code == 302
    page = client.get(f"/bundles/{bundle.pk}/").content.decode()
    assert "$0.36" in page  # 3 items x 2 answers x (5 + 1 fee) cents
    fund(requester, amount_minor=36)
    response = client.post(f"/bundles/{bundle.pk}/publish/")
    assert response.status_code == 302
    bundle.refresh_from_db()
    assert bundle.status == BundleStatus.PUBLISHED


def test_publish_without_money_says_how_much_is_missing(client, requester):
    bundle = BundleFactory(requester=requester, min_overlap=1, max_overlap=1)
    ItemFactory(bundle=bundle)
    fund(requester, amount_minor=2)
    response = login(client, requester).post(f"/bundles/{bundle.pk}/publish/")
    assert response.status_code == 402
    assert b"Not enough funds to publish: $0.04 missing." in response.content
    bundle.refresh_from_db()
    assert bundle.status == BundleStatus.DRAFT


def test_progress_fragment_polls_while_live(client, bundle):
    response = login(client, bundle.requester).get(f"/bundles/{bundle.pk}/progress/", **HTMX)
    html = response.content.decode()
    assert 'hx-trigger="every 2s"' in html
    assert "0 / 3 items complete" in html


def test_review_queue_approves_and_requires_a_reason_to_reject(client, bundle):
    workers = [WorkerFactory(), WorkerFactory()]
    ids = []
    for worker in workers:
        claimed = work.assignment_claim(bundle=bundle, worker=worker)
        services.assignment_submit(assignment_id=claimed.pk, worker=worker, answer="pos")
        ids.append(claimed.pk)
    client = login(client, bundle.requester)
    page = client.get(f"/bundles/{bundle.pk}/review/")
    assert page.status_code == 200 and f'value="{ids[0]}"'.encode() in page.content
    refused = client.post(f"/bundles/{bundle.pk}/review/", {"ids": [ids[1]], "action": "reject"})
    assert refused.status_code == 400
    assert b"Give a reason to reject" in refused.content
    approved = client.post(f"/bundles/{bundle.pk}/review/", {"ids": [ids[0]], "action": "approve"})
    assert approved.status_code == 302
    rejected = client.post(
        f"/bundles/{bundle.pk}/review/",
        {"ids": [ids[1]], "action": "reject", "reason": "Wrong"},
    )
    assert rejected.status_code == 302
    statuses = dict(Assignment.objects.filter(pk__in=ids).values_list("pk", "status"))
    assert statuses == {ids[0]: "approved", ids[1]: "rejected"}


def test_another_requesters_bundle_is_not_found(client, bundle):
    response = login(client, RequesterFactory()).get(f"/bundles/{bundle.pk}/")
    assert response.status_code == 404


def test_results_download_works_with_the_session(client, bundle):
    response = login(client, bundle.requester).get(
        f"/api/v1/bundles/{bundle.pk}/results/?format=csv"
    )
    assert response.status_code == 200
    assert b"item_id" in b"".join(response.streaming_content)


def test_create_form_takes_dynamic_overlap_auto_approval_and_requirements(client, requester):
    # Requirements may name only qualifications that exist (issue 16, finding 6).
    qualification_create(owner=requester, name="sentiment-exam")
    response = login(client, requester).post(
        "/bundles/new/",
        _bundle_form(
            max_overlap="5",
            target_confidence="95",
            auto_approve_hours="24",
            requirements="approval_rate >= 95\ncountry in us, ca\nsentiment-exam > 80",
        ),
    )
    assert response.status_code == 302
    bundle = Bundle.objects.get(requester=requester)
    assert (bundle.min_overlap, bundle.max_overlap, bundle.target_confidence) == (2, 5, 0.95)
    assert bundle.auto_approve_after_seconds == 24 * 3600
    assert bundle.requirements == [
        {"qualification": "approval_rate", "comparator": "GreaterThanOrEqualTo", "value": 95},
        {"qualification": "country", "comparator": "In", "values": ["US", "CA"]},
        {"qualification": "sentiment-exam", "comparator": "GreaterThan", "value": 80},
    ]


def test_create_form_shows_requirement_errors_next_to_the_field(client, requester):
    response = login(client, requester).post(
        "/bundles/new/", _bundle_form(requirements="approval_rate about 95")
    )
    assert response.status_code == 400
    assert re.search(r'field has-error">.*Line 1', response.content.decode(), re.S)
    assert not Bundle.objects.exists()
