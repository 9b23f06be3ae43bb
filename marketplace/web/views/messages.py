"""Message threads in the browser: the inbox, one thread (reading it marks it read), and
starting a thread, from the worker's side (about a bundle) or the requester's (with a worker
of their bundle, by pseudonym). Scoping and cleaning live in `tasks.messaging`."""

from __future__ import annotations

from django import forms
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from marketplace.errors import DomainError
from tasks import messaging, selectors
from tasks.models import MessageThread

from .common import requester_required, signed_in_user, worker_required


class MessageForm(forms.Form):
    body = forms.CharField(
        label="Message",
        max_length=messaging.MAX_BODY_CHARS,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Plain text. Email addresses and phone numbers are hidden: keep the "
        "conversation here.",
    )


def _thread_rows(threads: list[MessageThread], user_id: int) -> list[dict]:
    rows = []
    for thread in threads:
        side = "worker" if thread.worker_id == user_id else "requester"
        rows.append(
            {
                "thread": thread,
                "side": side,
                "counterpart": messaging.counterpart_name(thread, side),
                "unread": thread.worker_unread if side == "worker" else thread.requester_unread,
            }
        )
    return rows


@require_GET
@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    threads: list[MessageThread] = []
    if user.is_worker:
        threads += list(messaging.threads_of_worker(user)[:200])
    if user.is_requester:
        threads += list(messaging.threads_of_requester(user)[:200])
    threads.sort(key=lambda t: (t.last_message_at is not None, t.last_message_at), reverse=True)
    return render(request, "web/messages/inbox.html", {"rows": _thread_rows(threads, user.pk)})


@require_http_methods(["GET", "POST"])
@login_required
def thread_page(request: HttpRequest, thread_id: int) -> HttpResponse:
    user = signed_in_user(request)
    try:
        thread, side = messaging.thread_for(user, thread_id)
    except DomainError as exc:
        raise Http404(exc.detail) from exc
    form = MessageForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            messaging.message_post(thread=thread, author=user, body=form.cleaned_data["body"])
        except DomainError as exc:
            form.add_error("body", exc.detail)
        else:
            flash.success(request, "Message sent.")
            return redirect("web:message-thread", thread_id=thread.pk)
    messaging.thread_mark_read(thread=thread, reader=user)
    return _render_thread(request, thread, side, form)


def _render_thread(
    request: HttpRequest, thread: MessageThread | None, side: str, form: MessageForm, **extra
) -> HttpResponse:
    counterpart = messaging.counterpart_name(thread, side) if thread else ""
    rows = []
    for message in thread.messages.all() if thread is not None else []:
        mine = message.from_requester == (side == "requester")
        rows.append({"message": message, "mine": mine, "who": "You" if mine else counterpart})
    context = {
        "thread": thread,
        "side": side,
        "form": form,
        "rows": rows,
        "counterpart": counterpart,
        **extra,
    }
    return render(request, "web/messages/thread.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@worker_required
def worker_ask(request: HttpRequest, bundle_id: int) -> HttpResponse:
    """The worker's thread about a bundle (a question before or while working on it)."""
    user = signed_in_user(request)
    existing = MessageThread.objects.filter(bundle_id=bundle_id, worker=user).first()
    if existing is not None:
        return redirect("web:message-thread", thread_id=existing.pk)
    bundle = selectors.bundle_for_worker(user, bundle_id)
    if bundle is None:  # not open to them now: a bundle they worked on still is
        worked = user.assignments.filter(bundle_id=bundle_id).select_related("bundle").first()
        if worked is None:
            raise Http404("No such bundle.")
        bundle = worked.bundle
    form = MessageForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            thread = messaging.worker_thread_open(worker=user, bundle_id=bundle_id)
            messaging.message_post(thread=thread, author=user, body=form.cleaned_data["body"])
        except DomainError as exc:
            form.add_error("body", exc.detail)
        else:
            flash.success(request, "Message sent to the requester.")
            return redirect("web:message-thread", thread_id=thread.pk)
    return _render_thread(request, None, "worker", form, new_title=f"Ask about {bundle.title}")


@require_http_methods(["GET", "POST"])
@requester_required
def requester_message(request: HttpRequest, bundle_id: int, public_id: str) -> HttpResponse:
    """The requester's thread with one worker of their bundle, named by pseudonym."""
    user = signed_in_user(request)
    bundle = get_object_or_404(selectors.bundles_of_requester(user), pk=bundle_id)
    worker_id = selectors.bundle_worker_from_public_id(bundle, public_id)
    if worker_id is None:
        raise Http404("No such worker in this bundle.")
    existing = MessageThread.objects.filter(bundle=bundle, worker_id=worker_id).first()
    if existing is not None:
        return redirect("web:message-thread", thread_id=existing.pk)
    form = MessageForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            thread = messaging.requester_thread_open(
                requester=user, bundle=bundle, public_id=public_id
            )
            messaging.message_post(thread=thread, author=user, body=form.cleaned_data["body"])
        except DomainError as exc:
            form.add_error("body", exc.detail)
        else:
            flash.success(request, f"Message sent to {public_id}.")
            return redirect("web:message-thread", thread_id=thread.pk)
    new_title = f"Message {public_id} about {bundle.title}"
    return _render_thread(request, None, "requester", form, new_title=new_title)
