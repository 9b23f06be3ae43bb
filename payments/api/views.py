"""Thin views over payments services and selectors. Everything is scoped to the caller: another
user's top-up or payout is a 404, never a 403. Bonuses are served by tasks' API
(`tasks.api.bonuses`): only tasks knows which workers worked for a requester."""

from __future__ import annotations

import io
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import NotAuthenticated
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from marketplace.csvsafe import SafeWriter
from marketplace.errors import DomainError
from marketplace.permissions import IsRequester, IsWorker
from payments import payouts, selectors, services
from payments import stripe_gateway as gateway
from payments.models import AccountKind, ConnectedAccount, Payout, TopUp

from . import serializers as s

FORMAT_PARAM = OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv"])
CURRENCY_PARAM = OpenApiParameter("currency", OpenApiTypes.STR)


def _caller(request: Request) -> User:
    """The signed-in user. Every view here has a permission (IsRequester, IsWorker,
    IsAdminUser) that refuses anonymous requests before the handler runs, so this only narrows
    the type; should a view ever lose its permission, it fails closed (401), never acting for
    an anonymous user."""
    user = request.user
    if not isinstance(user, User):
        raise NotAuthenticated()
    return user


def _statement_response(
    view: GenericAPIView,
    request: Request,
    lines: QuerySet,
    balances: Sequence[Mapping[str, Any]],
    filename: str,
) -> HttpResponse | Response:
    """The statement as a paginated JSON page with the balances on top, or all of it as CSV."""
    if request.query_params.get("format") == "csv":
        out = io.StringIO()
        writer = SafeWriter(out)
        writer.writerow(
            [
                "entry_id",
                "created_at",
                "kind",
                "memo",
                "account",
                "amount",
                "currency",
                "reference_type",
                "reference_id",
            ]
        )
        for line in lines.iterator():
            writer.writerow(
                [
                    line.entry_id,
                    line.entry.created_at.isoformat(),
                    line.entry.kind,
                    line.entry.memo,
                    line.account.kind,
                    line.amount_minor,
                    line.currency,
                    line.entry.reference_type,
                    line.entry.reference_id,
                ]
            )
        response = HttpResponse(out.getvalue(), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    paginator = view.paginator
    if paginator is None:  # settings set DEFAULT_PAGINATION_CLASS; statements need it
        raise ImproperlyConfigured("statements are paginated: set DEFAULT_PAGINATION_CLASS")
    page = paginator.paginate_queryset(lines, request, view=view)
    response = paginator.get_paginated_response(s.StatementLineSerializer(page, many=True).data)
    response.data = {"balances": balances, **response.data}
    return response


class BalanceView(GenericAPIView):
    """A requester's available balance per currency and their statement (newest first).

    Each balance also says what the requester owes (`debt_minor`, after a card refund or
    dispute of money already spent) and why (`in_debt_reason`, null when nothing is owed);
    while anything is owed, publishing, uploads and bonuses answer `requester_in_debt`."""

    permission_classes = [IsRequester]
    serializer_class = s.StatementLineSerializer

    @extend_schema(
        parameters=[FORMAT_PARAM, CURRENCY_PARAM], responses={200: s.BalanceStatementSerializer}
    )
    def get(self, request: Request) -> HttpResponse | Response:
        user = _caller(request)
        balances = selectors.requester_balances(requester_id=user.pk)
        lines = selectors.statement(
            user_id=user.pk,
            kinds=[AccountKind.REQUESTER_AVAILABLE, AccountKind.REQUESTER_DEBT],
            currency=request.query_params.get("currency"),
        )
        return _statement_response(self, request, lines, balances, "statement.csv")


class EarningsView(BalanceView):
    """A worker's balances (available, in flight, paid out) and earnings statement."""

    permission_classes = [IsWorker]

    @extend_schema(
        parameters=[FORMAT_PARAM, CURRENCY_PARAM], responses={200: s.EarningsStatementSerializer}
    )
    def get(self, request: Request) -> HttpResponse | Response:
        user = _caller(request)
        balances = selectors.worker_earnings(worker_id=user.pk)
        lines = selectors.statement(
            user_id=user.pk,
            kinds=[AccountKind.WORKER_AVAILABLE],
            currency=request.query_params.get("currency"),
        )
        return _statement_response(self, request, lines, balances, "earnings.csv")


class TopUpViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """POST returns the Stripe Checkout URL; the balance is credited by Stripe's webhook."""

    permission_classes = [IsRequester]
    serializer_class = s.TopUpSerializer

    def get_queryset(self) -> QuerySet[TopUp]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return TopUp.objects.none()
        return TopUp.objects.filter(requester=_caller(self.request)).order_by("-created_at", "-pk")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        topup = services.topup_create(
            requester=_caller(request),
            amount_minor=data["amount_minor"],
            currency=data["currency"],
            client_token=data.get("client_token") or uuid.uuid4().hex,
        )
        return Response(self.get_serializer(topup).data, status=status.HTTP_201_CREATED)


class PayoutViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """A worker's payouts; POST asks for one (whole available balance unless `amount`)."""

    permission_classes = [IsWorker]
    serializer_class = s.PayoutSerializer

    def get_queryset(self) -> QuerySet[Payout]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Payout.objects.none()
        return Payout.objects.filter(worker=_caller(self.request)).order_by("-created_at", "-pk")

    @extend_schema(request=s.PayoutRequestSerializer, responses={201: s.PayoutSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = s.PayoutRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        token = data.get("client_token")
        worker = _caller(request)
        payout = payouts.payout_request(
            worker=worker,
            currency=data["currency"],
            amount_minor=data.get("amount"),
            request_key=f"api-{worker.pk}-{token}" if token else None,
        )
        return Response(s.PayoutSerializer(payout).data, status=status.HTTP_201_CREATED)


class PayoutAccountView(APIView):
    """GET: the worker's Stripe payout account status. POST: a fresh onboarding link."""

    permission_classes = [IsWorker]

    @extend_schema(responses=s.PayoutAccountStatusSerializer)
    def get(self, request: Request) -> Response:
        """`ready`: Stripe accepts transfers to the account and nothing on Stripe's side
        pauses it; `pause_reason` says in words why no payout can go now (Stripe's side, or an
        admin's hold, also without Stripe), for the worker to act on; "" when one can."""
        worker = _caller(request)
        paused = {
            "on_hold": payouts.worker_on_hold(worker_id=worker.pk),
            "pause_reason": payouts.payout_pause_reason(
                worker_id=worker.pk, stripe=gateway.is_configured()
            ),
        }
        account = ConnectedAccount.objects.filter(worker=worker).first()
        if account is None:
            return Response({"exists": False, "ready": False, **paused})
        return Response(
            {
                "exists": True,
                "ready": account.ready,
                "payouts_enabled": account.payouts_enabled,
                "details_submitted": account.details_submitted,
                "last_payout_failure": account.last_payout_failure,
                "requirements_due": list(account.requirements_due or []),
                "disabled_reason": account.disabled_reason,
                "deauthorized": account.deauthorized_at is not None,
                **paused,
            }
        )

    @extend_schema(request=None, responses={201: s.LinkSerializer})
    def post(self, request: Request) -> Response:
        url = payouts.payout_account_onboard(worker=_caller(request))
        return Response({"url": url}, status=status.HTTP_201_CREATED)


class PayoutDetailsView(APIView):
    """A worker's bank details for manual payouts (where Stripe is not configured): GET shows
    them masked, PUT replaces them (stored encrypted; an IBAN's checksum is verified)."""

    permission_classes = [IsWorker]

    @staticmethod
    def _shown(worker: User) -> dict[str, object]:
        details = payouts.payout_details_get(worker_id=worker.pk)
        if details is None:
            return {"exists": False, "account_holder": "", "bank_code": "", "account_masked": ""}
        return {
            "exists": True,
            "account_holder": details.account_holder,
            "bank_code": details.bank_code,
            "account_masked": details.masked,
        }

    @extend_schema(responses=s.PayoutDetailsSerializer)
    def get(self, request: Request) -> Response:
        return Response(self._shown(_caller(request)))

    @extend_schema(request=s.PayoutDetailsSerializer, responses=s.PayoutDetailsSerializer)
    def put(self, request: Request) -> Response:
        serializer = s.PayoutDetailsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        worker = _caller(request)
        payouts.payout_details_set(worker=worker, **serializer.validated_data)
        return Response(self._shown(worker))


def _moment(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        parsed = None
    if parsed is None:
        raise DomainError(f"{name} is not an ISO date or datetime.", code="invalid")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class RevenueView(APIView):
    """Platform fee revenue per currency (admins only), optionally for [since, until)."""

    permission_classes = [IsAdminUser]

    @extend_schema(
        parameters=[
            OpenApiParameter("since", OpenApiTypes.DATETIME),
            OpenApiParameter("until", OpenApiTypes.DATETIME),
        ],
        responses=s.RevenueReportSerializer,
    )
    def get(self, request: Request) -> Response:
        rows = selectors.revenue_report(
            since=_moment(request.query_params.get("since"), "since"),
            until=_moment(request.query_params.get("until"), "until"),
        )
        return Response({"results": rows})
