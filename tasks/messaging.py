"""Messages between a requester and one worker about one bundle (questions about the
instructions, later appeals): one thread per (bundle, worker), each side named for the other
only by pseudonym or public name, bodies cleaned of markup and contact details.

Scope is the whole security story here: a worker reaches only their own threads, a requester
only the threads of their own bundles; anything else is the same 404 as a thread that does not
exist. A message is one transaction with the other side's unread counter; its email follows on
commit, and only for the first unread message of a thread, so a chatty thread is one mail."""

from __future__ import annotations

import html
import re

import nh3
from django.db import transaction
from django.db.models import F, Q, QuerySet, Sum
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.notifications import notify
from marketplace.errors import DomainError, NotFound

from . import selectors
from .models import Bundle, BundleStatus, Message, MessageThread

MAX_BODY_CHARS = 5000

# Contact details a message may not carry: the platform keeps both sides pseudonymous (and
# off-platform deals are how workers lose the protections of its review and appeals).
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"\+\d[\d ()./-]{7,}\d")
EMAIL_HIDDEN = "[email hidden]"
PHONE_HIDDEN = "[phone hidden]"


class ThreadNotFound(NotFound):
    code = "thread_not_found"


class InvalidMessage(DomainError):
    code = "invalid_message"


def message_clean(text: str) -> str:
    """The body as stored: plain text with every tag removed (also tags smuggled in as entities,
    so `&lt;script&gt;` cannot become one later), contact details replaced, length bounded."""
    if not isinstance(text, str):
        raise InvalidMessage("A message is text.")
    body = text.replace("\r\n", "\n")
    for _ in range(3):  # to a fixed point: each round removes one layer of escaping
        cleaned = html.unescape(nh3.clean(body, tags=set()))
        if cleaned == body:
            break
        body = cleaned
    else:
        body = nh3.clean(body, tags=set())
    body = _PHONE.sub(PHONE_HIDDEN, _EMAIL.sub(EMAIL_HIDDEN, body)).strip()
    if not body:
        raise InvalidMessage("Write a message.")
    if len(body) > MAX_BODY_CHARS:
        raise InvalidMessage(f"A message is at most {MAX_BODY_CHARS} characters.")
    return body


# ---------------------------------------------------------------------------------------------
# Reads


def threads_of_worker(worker: User) -> QuerySet[MessageThread]:
    return (
        MessageThread.objects.filter(worker=worker)
        .select_related("bundle__requester__requester_profile")
        .order_by(F("last_message_at").desc(nulls_last=True), "-id")
    )


def threads_of_requester(requester: User) -> QuerySet[MessageThread]:
    return (
        MessageThread.objects.filter(bundle__requester=requester)
        .select_related("bundle")
        .order_by(F("last_message_at").desc(nulls_last=True), "-id")
    )


def thread_for(user: User, thread_id: int) -> tuple[MessageThread, str]:
    """A thread the user is a side of, and which side ("worker" or "requester"); 404 for
    every other thread, existing or not."""
    thread = (
        MessageThread.objects.filter(pk=thread_id)
        .filter(Q(worker=user) | Q(bundle__requester=user))
        .select_related("bundle__requester__requester_profile")
        .first()
    )
    if thread is None:
        raise ThreadNotFound("No such thread.")
    return thread, "worker" if thread.worker_id == user.pk else "requester"


def unread_count(user: User) -> int:
    """Messages the user has not read, as worker and as requester: one indexed query per
    role the user has (the navigation asks on every page)."""
    total = 0
    if user.is_worker:
        mine = MessageThread.objects.filter(worker=user, worker_unread__gt=0)
        total += mine.aggregate(n=Sum("worker_unread"))["n"] or 0
    if user.is_requester:
        theirs = MessageThread.objects.filter(bundle__requester=user, requester_unread__gt=0)
        total += theirs.aggregate(n=Sum("requester_unread"))["n"] or 0
    return total


def counterpart_name(thread: MessageThread, side: str) -> str:
    """Who the other side is, as this side may know them: the worker's pseudonym for the
    requester, the requester's public name for the worker."""
    bundle = thread.bundle
    if side == "requester":
        return selectors.worker_public_id(bundle.requester_id, thread.worker_id)
    profile = getattr(bundle.requester, "requester_profile", None)
    return profile.public_name if profile else f"Requester #{bundle.requester_id}"


# ---------------------------------------------------------------------------------------------
# Writes


def worker_thread_open(*, worker: User, bundle_id: int) -> MessageThread:
    """The worker's thread on a bundle, made on first use: a bundle they worked on, or one
    live and open to them now (to ask before starting)."""
    bundle = Bundle.objects.filter(pk=bundle_id).exclude(requester=worker).first()
    worked = bundle is not None and bundle.assignments.filter(worker=worker).exists()
    visible = bundle is not None and selectors.bundle_for_worker(worker, bundle_id) is not None
    if bundle is None or bundle.status == BundleStatus.DRAFT or not (worked or visible):
        raise ThreadNotFound("No such bundle.")
    thread, _ = MessageThread.objects.get_or_create(bundle=bundle, worker=worker)
    return thread


def requester_thread_open(*, requester: User, bundle: Bundle, public_id: str) -> MessageThread:
    """The requester's thread with a worker of one of their bundles, named by pseudonym;
    404 for anyone who has not worked on it (a pseudonym from elsewhere, a guessed id)."""
    if bundle.requester_id != requester.pk:
        raise ThreadNotFound("No such bundle.")
    worker_id = selectors.bundle_worker_from_public_id(bundle, public_id)
    if worker_id is None:
        raise ThreadNotFound("No such worker in this bundle.")
    thread, _ = MessageThread.objects.get_or_create(bundle=bundle, worker_id=worker_id)
    return thread


@transaction.atomic
def message_post(*, thread: MessageThread, author: User, body: str) -> Message:
    """Post on a thread the author is a side of; the other side's unread count goes up and, if
    it was nothing, they get one email (without the author's address or the body's)."""
    locked = MessageThread.objects.select_for_update().select_related("bundle").get(pk=thread.pk)
    if author.pk == locked.worker_id:
        from_requester = False
    elif author.pk == locked.bundle.requester_id:
        from_requester = True
    else:
        raise ThreadNotFound("No such thread.")
    clean = message_clean(body)
    message = Message.objects.create(
        thread=locked, author=author, from_requester=from_requester, body=clean
    )
    unread_field = "worker_unread" if from_requester else "requester_unread"
    was_unread = getattr(locked, unread_field)
    MessageThread.objects.filter(pk=locked.pk).update(
        last_message_at=message.created_at, **{unread_field: F(unread_field) + 1}
    )
    if was_unread == 0:
        _notify_recipient(locked, from_requester)
    return message


def thread_mark_read(*, thread: MessageThread, reader: User) -> None:
    """The reader has seen every message on their side of the thread."""
    if reader.pk == thread.worker_id:
        MessageThread.objects.filter(pk=thread.pk).update(worker_unread=0)
        thread.worker_unread = 0
    if reader.pk == thread.bundle.requester_id:
        MessageThread.objects.filter(pk=thread.pk).update(requester_unread=0)
        thread.requester_unread = 0


def _notify_recipient(thread: MessageThread, from_requester: bool) -> None:
    bundle = thread.bundle
    recipient = thread.worker if from_requester else bundle.requester
    sender = counterpart_name(thread, "worker" if from_requester else "requester")
    notify(
        recipient,
        f"New message about {bundle.title}",
        "message_received",
        {
            "sender": sender,
            "bundle_title": bundle.title,
            "path": reverse("web:message-thread", args=[thread.pk]),
            "sent_at": timezone.now(),
        },
    )
