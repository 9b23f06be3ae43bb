"""`/api/v1/sandbox/testers/`: the workers who see a requester's sandbox (play-money) bundles.

A requester names their own test accounts by email (they made them); the answer is the list
of testers, and a refused email gets one message whether it is unknown or not a worker's."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User
from marketplace.permissions import IsRequester
from tasks.sandbox import sandbox_tester_add, sandbox_tester_remove, sandbox_testers


class SandboxTesterSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


def _listing(requester: User) -> list[dict[str, str]]:
    return [{"email": tester.email} for tester in sandbox_testers(requester)]


class SandboxTestersView(generics.GenericAPIView):
    permission_classes = [IsRequester]
    serializer_class = SandboxTesterSerializer
    queryset = User.objects.none()  # the schema's model (testers are users); never listed
    pagination_class = None

    @extend_schema(responses=SandboxTesterSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(_listing(request.user))  # type: ignore[arg-type]

    @extend_schema(responses={201: SandboxTesterSerializer(many=True)})
    def post(self, request: Request) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        sandbox_tester_add(requester=request.user, worker=serializer.validated_data["email"])  # type: ignore[arg-type]
        return Response(_listing(request.user), status=status.HTTP_201_CREATED)  # type: ignore[arg-type]


class SandboxTesterRemoveView(generics.GenericAPIView):
    queryset = User.objects.none()  # the schema's model (testers are users); never listed
    permission_classes = [IsRequester]
    serializer_class = SandboxTesterSerializer

    @extend_schema(responses=SandboxTesterSerializer(many=True))
    def post(self, request: Request) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        sandbox_tester_remove(requester=request.user, worker=serializer.validated_data["email"])  # type: ignore[arg-type]
        return Response(_listing(request.user))  # type: ignore[arg-type]
