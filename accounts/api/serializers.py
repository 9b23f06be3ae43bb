from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import authenticate
from rest_framework import serializers

from accounts.login_guard import login_failure_record, login_is_locked, login_success_record
from accounts.models import Qualification, User, WorkerQualification
from marketplace.errors import DomainError


def _email_verified(user: User) -> bool:
    """Where verification is mandatory, a token is no way around it: the same rule as the web
    login (allauth), checked on the user's own address."""
    if settings.ACCOUNT_EMAIL_VERIFICATION != "mandatory":
        return True
    return EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=True).exists()


class TokenRequestSerializer(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)

    def validate(self, attrs):
        email = attrs["email"].lower()
        if login_is_locked(email=email):
            raise DomainError(
                "Too many failed sign-ins: this account is locked for a while.",
                code="account_locked",
                http_status=403,
            )
        user = authenticate(self.context.get("request"), email=email, password=attrs["password"])
        if user is None or not user.is_active:
            login_failure_record(email=email)
            raise serializers.ValidationError(
                "Unable to log in with those credentials.", code="authorization"
            )
        if not _email_verified(user):
            raise serializers.ValidationError(
                "Confirm your email address before signing in.", code="unverified"
            )
        login_success_record(email=email)
        attrs["user"] = user
        return attrs


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()


class MeSerializer(serializers.ModelSerializer):
    is_requester = serializers.BooleanField(read_only=True)
    is_worker = serializers.BooleanField(read_only=True)
    worker_status = serializers.SerializerMethodField()
    approval_rate = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = [
            "id",
            "email",
            "is_requester",
            "is_worker",
            "is_staff",
            "worker_status",
            "approval_rate",
        ]

    def get_worker_status(self, user: User) -> str | None:
        return user.worker_profile.status if user.is_worker else None

    def get_approval_rate(self, user: User) -> int | None:
        return user.worker_profile.approval_rate if user.is_worker else None


class QualificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Qualification
        fields = ["id", "name", "description", "is_system", "created_at"]
        read_only_fields = ["id", "is_system", "created_at"]


class GrantSerializer(serializers.Serializer):
    worker_email = serializers.EmailField(write_only=True)
    value = serializers.IntegerField(default=1)


class WorkerQualificationSerializer(serializers.ModelSerializer):
    qualification = serializers.CharField(source="qualification.name")

    class Meta:
        model = WorkerQualification
        fields = ["qualification", "value", "updated_at"]
