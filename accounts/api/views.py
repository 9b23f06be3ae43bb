from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action, api_view, permission_classes, throttle_classes
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle

from accounts import services
from accounts.models import Qualification, User, WorkerQualification
from marketplace.errors import DomainError
from marketplace.permissions import IsRequester

from .serializers import (
    GrantSerializer,
    MeSerializer,
    QualificationSerializer,
    TokenRequestSerializer,
    TokenSerializer,
    WorkerQualificationSerializer,
)


class LoginThrottle(AnonRateThrottle):
    """Per client address. The address is REMOTE_ADDR unless settings name how many trusted
    proxies sit in front (REST_FRAMEWORK["NUM_PROXIES"]): a client-sent X-Forwarded-For is
    never believed on its own."""

    rate = "30/min"


class LoginAccountThrottle(SimpleRateThrottle):
    """Per account asked for, whatever the address: spreading guesses over many addresses
    does not buy more of them (the lock in accounts.login_guard then stops them outright)."""

    scope = "login-account"
    rate = "20/min"

    def get_cache_key(self, request, view):
        email = request.data.get("email") if hasattr(request.data, "get") else None
        if not isinstance(email, str) or not email:
            return None
        return self.cache_format % {"scope": self.scope, "ident": email.strip().lower()[:254]}


@extend_schema(request=TokenRequestSerializer, responses=TokenSerializer)
@api_view(["POST"])
@permission_classes([AllowAny])
@throttle_classes([LoginThrottle, LoginAccountThrottle])
def token_obtain(request):
    """Exchange email and password for an API token (`Authorization: Token ...`)."""
    serializer = TokenRequestSerializer(data=request.data, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return Response({"token": services.user_api_token(user=serializer.validated_data["user"])})


@extend_schema(responses=MeSerializer)
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def me(request):
    return Response(MeSerializer(request.user).data)


class QualificationViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """A requester's own qualifications (plus the system ones, read-only), and grants."""

    serializer_class = QualificationSerializer
    permission_classes = [IsRequester]

    def get_queryset(self):
        from django.db.models import Q

        if getattr(self, "swagger_fake_view", False):
            return Qualification.objects.none()
        return Qualification.objects.filter(
            Q(owner=self.request.user) | Q(owner__isnull=True)
        ).order_by("id")

    def perform_create(self, serializer):
        serializer.instance = services.qualification_create(
            owner=self.request.user,
            name=serializer.validated_data["name"],
            description=serializer.validated_data.get("description", ""),
        )

    @extend_schema(request=GrantSerializer, responses=WorkerQualificationSerializer)
    @action(detail=True, methods=["post"])
    def grant(self, request, pk=None):
        qualification = self.get_object()
        if qualification.owner_id != request.user.id:
            raise DomainError("System qualifications are computed.", code="system_qualification")
        body = GrantSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        worker = User.objects.filter(
            email__iexact=body.validated_data["worker_email"], worker_profile__isnull=False
        ).first()
        if worker is None:
            raise DomainError("No worker with that email.", code="unknown_worker", http_status=404)
        grant = services.qualification_grant(
            qualification=qualification,
            worker=worker,
            value=body.validated_data["value"],
            by=request.user,
        )
        return Response(WorkerQualificationSerializer(grant).data, status=status.HTTP_201_CREATED)


class MyQualificationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The qualifications a worker holds (granted ones; system values are on /me/)."""

    serializer_class = WorkerQualificationSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return WorkerQualification.objects.none()
        return (
            WorkerQualification.objects.filter(worker=self.request.user)
            .select_related("qualification")
            .order_by("qualification__name")
        )
