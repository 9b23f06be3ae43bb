"""Message threads through the API: a worker's threads about bundles, a requester's threads
with the workers of their bundles (by pseudonym). Both sides use the same routes; a thread
the caller is not a side of is a 404 like one that does not exist."""

from __future__ import annotations

from typing import Any

from django.db.models import F, Q, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from tasks import messaging
from tasks.models import Bundle, MessageThread


class MessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sender = serializers.CharField(help_text='"requester" or "worker".')
    mine = serializers.BooleanField(help_text="Written by the caller.")
    body = serializers.CharField(help_text="Plain text: no markup, contact details hidden.")
    created_at = serializers.DateTimeField()


class ThreadSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    bundle_id = serializers.IntegerField()
    bundle_title = serializers.CharField()
    side = serializers.CharField(help_text='The caller\'s side: "requester" or "worker".')
    counterpart = serializers.CharField(
        help_text="The worker's pseudonym (for the requester) or the requester's public name."
    )
    unread = serializers.IntegerField(help_text="Messages the caller has not read.")
    last_message_at = serializers.DateTimeField(allow_null=True)


class ThreadDetailSerializer(ThreadSerializer):
    messages = MessageSerializer(many=True)


class ThreadCreateSerializer(serializers.Serializer):
    bundle_id = serializers.IntegerField()
    worker_id = serializers.CharField(
        required=False,
        help_text="Requesters: the worker's pseudonym (w_...). Workers leave it out.",
    )
    body = serializers.CharField(max_length=messaging.MAX_BODY_CHARS, trim_whitespace=False)


class PostSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=messaging.MAX_BODY_CHARS, trim_whitespace=False)


def thread_data(thread: MessageThread, user_id: int, *, with_messages: bool = False) -> dict:
    side = "worker" if thread.worker_id == user_id else "requester"
    data: dict[str, Any] = {
        "id": thread.pk,
        "bundle_id": thread.bundle_id,
        "bundle_title": thread.bundle.title,
        "side": side,
        "counterpart": messaging.counterpart_name(thread, side),
        "unread": thread.worker_unread if side == "worker" else thread.requester_unread,
        "last_message_at": thread.last_message_at,
    }
    if with_messages:
        data["messages"] = [
            {
                "id": m.pk,
                "sender": "requester" if m.from_requester else "worker",
                "mine": m.from_requester == (side == "requester"),
                "body": m.body,
                "created_at": m.created_at,
            }
            for m in thread.messages.all()
        ]
    return data


class ThreadViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The caller's message threads, latest activity first. POST starts (or continues) the
    thread of a bundle with its first message; `messages/` posts, `read/` marks read."""

    permission_classes = [IsAuthenticated]
    serializer_class = ThreadSerializer
    lookup_value_regex = "[0-9]+"

    def get_queryset(self) -> QuerySet[MessageThread]:
        if getattr(self, "swagger_fake_view", False):
            return MessageThread.objects.none()
        user = self.request.user
        return (
            MessageThread.objects.filter(Q(worker=user) | Q(bundle__requester=user))
            .select_related("bundle__requester__requester_profile")
            .order_by(F("last_message_at").desc(nulls_last=True), "-id")
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        rows = [thread_data(t, request.user.pk) for t in (page or [])]
        return self.get_paginated_response(rows)

    @extend_schema(responses=ThreadDetailSerializer)
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        thread, _ = messaging.thread_for(request.user, int(kwargs["pk"]))
        return Response(thread_data(thread, request.user.pk, with_messages=True))

    @extend_schema(request=ThreadCreateSerializer, responses={201: ThreadDetailSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = ThreadCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        public_id = data.get("worker_id")
        if public_id:
            bundle = Bundle.objects.filter(pk=data["bundle_id"], requester=request.user).first()
            if bundle is None:
                raise messaging.ThreadNotFound("No such bundle.")
            thread = messaging.requester_thread_open(
                requester=request.user, bundle=bundle, public_id=public_id
            )
        else:
            thread = messaging.worker_thread_open(worker=request.user, bundle_id=data["bundle_id"])
        messaging.message_post(thread=thread, author=request.user, body=data["body"])
        thread, _ = messaging.thread_for(request.user, thread.pk)
        return Response(
            thread_data(thread, request.user.pk, with_messages=True),
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=PostSerializer, responses={201: MessageSerializer})
    @action(detail=True, methods=["post"])
    def messages(self, request: Request, pk: str | None = None) -> Response:
        thread, side = messaging.thread_for(request.user, int(pk or 0))
        body = PostSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        message = messaging.message_post(
            thread=thread, author=request.user, body=body.validated_data["body"]
        )
        data = {
            "id": message.pk,
            "sender": side,
            "mine": True,
            "body": message.body,
            "created_at": message.created_at,
        }
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["post"])
    def read(self, request: Request, pk: str | None = None) -> Response:
        thread, _ = messaging.thread_for(request.user, int(pk or 0))
        messaging.thread_mark_read(thread=thread, reader=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
