"""Email (issue 15): allauth's verification and password reset work end to end through the
email backend; the platform's notifications (claims expired, payout sent; message received is
in tests/tasks/messaging) go out once, after commit, and carry no other user's address."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.cache import cache

from accounts.models import User
from accounts.notifications import notify
from payments import payouts
from tasks import work
from tasks.models import Assignment
from tests.factories import BundleFactory, ItemFactory, WorkerFactory, publish
from tests.payments.factories import earning_worker

pytestmark = pytest.mark.django_db


def test_signup_sends_a_verification_link_that_verifies_the_address(client, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    cache.clear()  # allauth rate-limits confirmation mail per address in the cache
    response = client.post(
        "/accounts/signup/",
        {"email": "verify-me@example.com", "password1": "a-long-pass-phrase",
         "password2": "a-long-pass-phrase", "roles": ["worker"]},
    )  # fmt: skip
    assert response.status_code == 302
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["verify-me@example.com"]
    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+)", mail.outbox[0].body)
    assert link, mail.outbox[0].body
    user = User.objects.get(email="verify-me@example.com")
    assert not user.emailaddress_set.get().verified
    assert client.post(link[1]).status_code == 302
    assert user.emailaddress_set.get().verified


def test_password_reset_mails_a_link_that_sets_a_new_password(client):
    cache.clear()  # allauth rate-limits reset mail per address in the cache
    user = WorkerFactory(email="forgot@example.com")
    assert (
        client.post("/accounts/password/reset/", {"email": "forgot@example.com"}).status_code == 302
    )
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["forgot@example.com"]
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/key/\S+)", mail.outbox[0].body)
    assert link, mail.outbox[0].body
    form = client.get(link[1], follow=True)  # allauth moves the key into the session
    assert form.status_code == 200
    new = {"password1": "brand-new-pass-2026", "password2": "brand-new-pass-2026"}
    assert client.post(form.redirect_chain[-1][0], new).status_code == 302
    user.refresh_from_db()
    assert user.check_password("brand-new-pass-2026")


def test_notify_sends_after_commit_and_not_on_rollback(django_capture_on_commit_callbacks):
    from django.db import transaction

    user = WorkerFactory()
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                notify(user, "never", "message_received", {"sender": "x", "bundle_title": "t"})
                raise RuntimeError
        except RuntimeError:
            pass
    assert mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        notify(user, "Hello", "message_received", {"sender": "x", "bundle_title": "t", "path": "/"})
    assert [m.subject for m in mail.outbox] == ["[crowdmarket] Hello"]


def test_expired_claims_mail_their_worker_once_per_run(
    requester, django_capture_on_commit_callbacks
):
    bundle = BundleFactory(requester=requester, title="Sentiment of reviews")
    ItemFactory.create_batch(2, bundle=bundle)
    bundle = publish(bundle)
    other = BundleFactory(requester=requester, title="Cats or dogs")
    ItemFactory(bundle=other)
    other = publish(other)
    worker, punctual = WorkerFactory(), WorkerFactory()
    held = work.assignment_claim(bundle=bundle, worker=worker)
    work.assignment_claim(bundle=other, worker=worker)
    with django_capture_on_commit_callbacks(execute=True):
        assert work.assignments_expire(now=held.deadline - timedelta(seconds=1)) == 0
    assert mail.outbox == []
    later = work.assignment_claim(bundle=bundle, worker=punctual)
    Assignment.objects.filter(pk=later.pk).update(deadline=held.deadline + timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert work.assignments_expire(now=held.deadline + timedelta(seconds=1)) == 2
    assert [m.to for m in mail.outbox] == [[worker.email]]
    body = mail.outbox[0].body
    assert (
        "2 tasks you claimed" in body and "Sentiment of reviews" in body and "Cats or dogs" in body
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert work.assignments_expire(now=held.deadline + timedelta(seconds=2)) == 0
    assert len(mail.outbox) == 1


def test_a_manual_payout_marked_paid_mails_the_worker(settings, django_capture_on_commit_callbacks):
    settings.STRIPE_SECRET_KEY = ""
    settings.PAYOUT_MINIMUM_MINOR = 500
    a = earning_worker(1_000)
    payout = payouts.payout_request(worker=a)
    payouts.manual_batch_export(batch=payout.batch)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert payouts.manual_batch_mark_paid(batch=payout.batch, by=None) == 1
    assert [m.to for m in mail.outbox] == [[a.email]]
    assert "10.00 USD" in mail.outbox[0].subject and "bank transfer" in mail.outbox[0].body


def test_long_claims_about_to_expire_get_one_reminder(
    requester, django_capture_on_commit_callbacks
):
    long = BundleFactory(
        requester=requester, title="Transcribe interviews", time_limit_seconds=7200
    )
    short = BundleFactory(requester=requester, title="Quick sentiment")
    for bundle in (long, short):
        ItemFactory(bundle=bundle)
    long, short = publish(long), publish(short)
    worker = WorkerFactory()
    held = work.assignment_claim(bundle=long, worker=worker)
    quick = work.assignment_claim(bundle=short, worker=worker)
    early = held.deadline - timedelta(minutes=30)
    with django_capture_on_commit_callbacks(execute=True):
        assert work.claims_remind_expiring(now=early) == 0  # not yet within 15 minutes
    soon = held.deadline - timedelta(minutes=10)
    with django_capture_on_commit_callbacks(execute=True):
        assert work.claims_remind_expiring(now=soon) == 1
        assert work.claims_remind_expiring(now=soon + timedelta(minutes=1)) == 0  # once
    assert [m.to for m in mail.outbox] == [[worker.email]]
    assert "Transcribe interviews" in mail.outbox[0].body and "10 min" in mail.outbox[0].subject
    # A ten-minute claim is worked in one sitting: never an email, even right before its end.
    with django_capture_on_commit_callbacks(execute=True):
        assert work.claims_remind_expiring(now=quick.deadline - timedelta(minutes=1)) == 0
    assert len(mail.outbox) == 1
