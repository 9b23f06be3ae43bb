"""Messaging (issue 15): one thread per (bundle, worker) between its requester and the worker;
nobody else reads or posts; unread counts; one email per unread thread without addresses;
bodies cleaned of markup and contact details."""

from __future__ import annotations

import pytest
from django.core import mail

from tasks import messaging, services, work
from tasks.models import Message, MessageThread
from tasks.selectors import worker_public_id
from tests.conftest import client_for
from tests.factories import BundleFactory, ItemFactory, RequesterFactory, WorkerFactory, publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def worked(requester):
    """A live bundle one worker answered in (so the requester knows their pseudonym)."""
    bundle = BundleFactory(requester=requester, min_overlap=1, max_overlap=1)
    ItemFactory.create_batch(3, bundle=bundle)
    bundle = publish(bundle)
    worker = WorkerFactory()
    claimed = work.assignment_claim(bundle=bundle, worker=worker)
    services.assignment_submit(assignment_id=claimed.pk, worker=worker, answer="pos")
    return bundle, worker


def test_a_worker_asks_and_the_requester_answers_through_the_api(
    worked, django_capture_on_commit_callbacks
):
    bundle, worker = worked
    public = worker_public_id(bundle.requester_id, worker.pk)
    w, r = client_for(worker), client_for(bundle.requester)
    with django_capture_on_commit_callbacks(execute=True):
        created = w.post(
            "/api/v1/threads/",
            {"bundle_id": bundle.pk, "body": "Is sarcasm negative?"},
            format="json",
        )
    assert created.status_code == 201, created.content
    thread_id = created.json()["id"]
    assert r.get("/api/v1/threads/").json()["results"][0]["counterpart"] == public
    assert r.get("/api/v1/threads/").json()["results"][0]["unread"] == 1
    with django_capture_on_commit_callbacks(execute=True):
        answered = r.post(
            f"/api/v1/threads/{thread_id}/messages/", {"body": "Yes, negative."}, format="json"
        )
    assert answered.status_code == 201
    detail = w.get(f"/api/v1/threads/{thread_id}/").json()
    assert [(m["sender"], m["mine"], m["body"]) for m in detail["messages"]] == [
        ("worker", True, "Is sarcasm negative?"),
        ("requester", False, "Yes, negative."),
    ]
    assert detail["unread"] == 1
    assert w.post(f"/api/v1/threads/{thread_id}/read/").status_code == 204
    assert w.get(f"/api/v1/threads/{thread_id}/").json()["unread"] == 0
    # Neither side's address travels in the API or in the mails.
    for payload in (detail, r.get(f"/api/v1/threads/{thread_id}/").json()):
        text = str(payload)
        assert worker.email not in text and bundle.requester.email not in text
    assert [m.to for m in mail.outbox] == [[bundle.requester.email], [worker.email]]
    for sent in mail.outbox:
        assert worker.email not in sent.body and bundle.requester.email not in sent.body
        assert f"/messages/{thread_id}/" in sent.body
    assert public in mail.outbox[0].body  # the requester is told the pseudonym


def test_a_requester_starts_a_thread_by_pseudonym_only_with_their_own_workers(worked):
    bundle, worker = worked
    r = client_for(bundle.requester)
    public = worker_public_id(bundle.requester_id, worker.pk)
    ok = r.post(
        "/api/v1/threads/",
        {"bundle_id": bundle.pk, "worker_id": public, "body": "Thanks!"},
        format="json",
    )
    assert ok.status_code == 201 and ok.json()["counterpart"] == public
    stranger = WorkerFactory()
    other_public = worker_public_id(bundle.requester_id, stranger.pk)
    assert (
        r.post(
            "/api/v1/threads/",
            {"bundle_id": bundle.pk, "worker_id": other_public, "body": "Hi"},
            format="json",
        ).status_code
        == 404
    )
    other_requester = RequesterFactory()
    theirs = client_for(other_requester).post(
        "/api/v1/threads/",
        {"bundle_id": bundle.pk, "worker_id": public, "body": "Hi"},
        format="json",
    )
    assert theirs.status_code == 404


def test_no_one_else_reads_or_posts_on_a_thread(worked):
    bundle, worker = worked
    thread = messaging.worker_thread_open(worker=worker, bundle_id=bundle.pk)
    messaging.message_post(thread=thread, author=worker, body="Question")
    other_worker, other_requester = WorkerFactory(), RequesterFactory()
    for outsider in (other_worker, other_requester):
        c = client_for(outsider)
        assert c.get(f"/api/v1/threads/{thread.pk}/").status_code == 404
        assert c.get("/api/v1/threads/").json()["results"] == []
        assert (
            c.post(f"/api/v1/threads/{thread.pk}/messages/", {"body": "x"}, format="json")
        ).status_code == 404
        assert c.post(f"/api/v1/threads/{thread.pk}/read/").status_code == 404
        with pytest.raises(messaging.ThreadNotFound):
            messaging.message_post(thread=thread, author=outsider, body="sneaky")
    assert Message.objects.count() == 1
    # Pages: the same 404.
    from django.test import Client

    for outsider in (other_worker, other_requester):
        page = Client()
        page.force_login(outsider)
        assert page.get(f"/messages/{thread.pk}/").status_code == 404
        assert page.post(f"/messages/{thread.pk}/", {"body": "x"}).status_code == 404
        assert "Question" not in page.get("/messages/").content.decode()


def test_a_worker_cannot_open_a_thread_on_a_bundle_they_cannot_see(requester):
    draft = BundleFactory(requester=requester)
    worker = WorkerFactory()
    with pytest.raises(messaging.ThreadNotFound):
        messaging.worker_thread_open(worker=worker, bundle_id=draft.pk)
    response = client_for(worker).post(
        "/api/v1/threads/", {"bundle_id": draft.pk, "body": "hi"}, format="json"
    )
    assert response.status_code == 404
    assert not MessageThread.objects.exists()


def test_unread_counts_and_one_email_per_unread_thread(worked, django_capture_on_commit_callbacks):
    bundle, worker = worked
    thread = messaging.worker_thread_open(worker=worker, bundle_id=bundle.pk)
    with django_capture_on_commit_callbacks(execute=True):
        for text in ("one", "two", "three"):
            messaging.message_post(thread=thread, author=worker, body=text)
    assert messaging.unread_count(bundle.requester) == 3
    assert messaging.unread_count(worker) == 0
    assert len(mail.outbox) == 1  # one mail until the requester has read the thread
    thread.refresh_from_db()
    messaging.thread_mark_read(thread=thread, reader=bundle.requester)
    assert messaging.unread_count(bundle.requester) == 0
    with django_capture_on_commit_callbacks(execute=True):
        messaging.message_post(thread=thread, author=worker, body="four")
    assert len(mail.outbox) == 2 and messaging.unread_count(bundle.requester) == 1


def test_the_unread_count_is_in_the_navigation_and_reading_clears_it(client, worked):
    bundle, worker = worked
    thread = messaging.worker_thread_open(worker=worker, bundle_id=bundle.pk)
    messaging.message_post(thread=thread, author=worker, body="Hello there")
    client.force_login(bundle.requester)
    page = client.get("/bundles/").content.decode()
    assert 'aria-label="1 unread"' in page
    reading = client.get(f"/messages/{thread.pk}/").content.decode()
    assert "Hello there" in reading and worker.email not in reading
    assert 'aria-label="1 unread"' not in client.get("/bundles/").content.decode()


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("<script>alert(1)</script>Hi <b>there</b>", "Hi there"),
        ("&lt;script&gt;alert(1)&lt;/script&gt;ok", "ok"),
        ("mail me at jo.doe+x@example.org", "mail me at [email hidden]"),
        ("call +49 151 2345 6789 now", "call [phone hidden] now"),
        ("5 < 6 & 7 > 3", "5 < 6 & 7 > 3"),
    ],
)
def test_bodies_are_cleaned_of_markup_and_contact_details(raw, stored):
    assert messaging.message_clean(raw) == stored


def test_an_empty_or_huge_message_is_a_clear_error(worked):
    bundle, worker = worked
    w = client_for(worker)
    thread = messaging.worker_thread_open(worker=worker, bundle_id=bundle.pk)
    empty = w.post(f"/api/v1/threads/{thread.pk}/messages/", {"body": "<b></b>"}, format="json")
    assert empty.status_code == 400 and empty.json()["code"] == "invalid_message"
    huge = w.post(f"/api/v1/threads/{thread.pk}/messages/", {"body": "x" * 6000}, format="json")
    assert huge.status_code == 400


def test_the_requester_messages_a_worker_from_the_console(client, worked):
    bundle, worker = worked
    public = worker_public_id(bundle.requester_id, worker.pk)
    client.force_login(bundle.requester)
    url = f"/bundles/{bundle.pk}/workers/{public}/message/"
    assert client.get(url).status_code == 200
    response = client.post(url, {"body": "Please re-read rule 3."})
    assert response.status_code == 302
    thread = MessageThread.objects.get()
    assert thread.worker_id == worker.pk and response["Location"] == f"/messages/{thread.pk}/"
    assert client.get(url)["Location"] == f"/messages/{thread.pk}/"
    assert client.get(f"/bundles/{bundle.pk}/workers/w_000000000000/message/").status_code == 404
    other = RequesterFactory()
    client.force_login(other)
    assert client.get(url).status_code == 404


def test_admins_read_threads(admin_client, worked):
    bundle, worker = worked
    thread = messaging.worker_thread_open(worker=worker, bundle_id=bundle.pk)
    messaging.message_post(thread=thread, author=worker, body="Dispute: my answer was right")
    page = admin_client.get(f"/admin/tasks/messagethread/{thread.pk}/change/")
    assert page.status_code == 200 and "Dispute: my answer was right" in page.content.decode()


def test_a_worker_asks_from_the_pages_also_about_a_bundle_no_longer_open(client, worked):
    bundle, worker = worked
    services.bundle_cancel(bundle=bundle, by=bundle.requester)
    client.force_login(worker)
    page = client.get(f"/work/{bundle.pk}/ask/")
    assert page.status_code == 200 and f"Ask about {bundle.title}" in page.content.decode()
    sent = client.post(f"/work/{bundle.pk}/ask/", {"body": "Why was it cancelled?"})
    assert sent.status_code == 302
    assert MessageThread.objects.get().worker_id == worker.pk
    client.force_login(WorkerFactory())  # never worked there, and it is not open: nothing
    assert client.get(f"/work/{bundle.pk}/ask/").status_code == 404
    assert client.post(f"/work/{bundle.pk}/ask/", {"body": "hi"}).status_code == 404
    assert MessageThread.objects.count() == 1
