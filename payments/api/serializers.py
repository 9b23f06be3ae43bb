"""API shapes for money. Amounts are integers in the currency's smallest unit, as in Stripe."""

from __future__ import annotations

from rest_framework import serializers

from marketplace.api.fields import INT32_MAX, CurrencyField
from payments.models import Payout, Posting, TopUp


class StatementLineSerializer(serializers.ModelSerializer):
    """One posting on the caller's account: positive = money in, negative = money out."""

    entry_id = serializers.IntegerField(source="entry.pk")
    created_at = serializers.DateTimeField(source="entry.created_at")
    kind = serializers.CharField(source="entry.kind")
    memo = serializers.CharField(source="entry.memo")
    account = serializers.CharField(source="account.kind")
    amount = serializers.IntegerField(source="amount_minor")
    reference_type = serializers.CharField(source="entry.reference_type")
    reference_id = serializers.CharField(source="entry.reference_id")

    class Meta:
        model = Posting
        fields = [
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


class TopUpSerializer(serializers.ModelSerializer):
    amount = serializers.IntegerField(source="amount_minor", min_value=1, max_value=INT32_MAX)
    currency = CurrencyField(default="usd")
    client_token = serializers.CharField(max_length=100, required=False)

    class Meta:
        model = TopUp
        fields = [
            "id",
            "amount",
            "currency",
            "status",
            "checkout_url",
            "client_token",
            "created_at",
            "completed_at",
        ]
        read_only_fields = ["id", "status", "checkout_url", "created_at", "completed_at"]


class PayoutSerializer(serializers.ModelSerializer):
    amount = serializers.IntegerField(source="amount_minor", read_only=True)

    class Meta:
        model = Payout
        fields = [
            "id",
            "amount",
            "currency",
            "method",
            "status",
            "failure_code",
            "created_at",
            "paid_at",
            "returned_at",
        ]
        read_only_fields = fields


class PayoutRequestSerializer(serializers.Serializer):
    """Omit `amount` to be paid the whole available balance."""

    amount = serializers.IntegerField(min_value=1, max_value=INT32_MAX, required=False)
    currency = CurrencyField(default="usd")
    client_token = serializers.CharField(max_length=100, required=False)


class BalanceSerializer(serializers.Serializer):
    currency = serializers.CharField()
    available = serializers.IntegerField()


class RequesterBalanceSerializer(BalanceSerializer):
    debt_minor = serializers.IntegerField(help_text="Owed after card money came back.")
    in_debt_reason = serializers.CharField(allow_null=True)


class EarningsBalanceSerializer(BalanceSerializer):
    in_flight = serializers.IntegerField()
    held = serializers.IntegerField(help_text="Held by an admin (under review); not withdrawable.")
    paid_out = serializers.IntegerField()


class _StatementPage(serializers.Serializer):
    """What `GET /balance/` and `GET /work/earnings/` answer in JSON: the balances, then one
    page of the statement (schemathesis found the schema promising a bare statement line)."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = StatementLineSerializer(many=True)


class BalanceStatementSerializer(_StatementPage):
    balances = RequesterBalanceSerializer(many=True)


class EarningsStatementSerializer(_StatementPage):
    balances = EarningsBalanceSerializer(many=True)


class RevenueRowSerializer(serializers.Serializer):
    currency = serializers.CharField()
    revenue_minor = serializers.IntegerField()
    from_assignments_minor = serializers.IntegerField()
    from_bonuses_minor = serializers.IntegerField()
    stripe_fees_minor = serializers.IntegerField(
        help_text="Stripe's processing fees and adjustments borne by the platform (negative); "
        "already deducted in revenue_minor."
    )
    entries = serializers.IntegerField()


class PayoutAccountStatusSerializer(serializers.Serializer):
    exists = serializers.BooleanField()
    ready = serializers.BooleanField()
    payouts_enabled = serializers.BooleanField(required=False)
    details_submitted = serializers.BooleanField(required=False)
    last_payout_failure = serializers.CharField(required=False)
    requirements_due = serializers.ListField(child=serializers.CharField(), required=False)
    disabled_reason = serializers.CharField(required=False)
    deauthorized = serializers.BooleanField(required=False)
    on_hold = serializers.BooleanField()
    pause_reason = serializers.CharField(allow_blank=True)


class PayoutDetailsSerializer(serializers.Serializer):
    """Bank details for manual (bank-transfer) payouts. `account` is write-only: reads show
    `account_masked` (the last four characters); the full details are stored encrypted."""

    account_holder = serializers.CharField(max_length=140)
    account = serializers.CharField(max_length=64, write_only=True)
    bank_code = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    account_masked = serializers.CharField(read_only=True)
    exists = serializers.BooleanField(read_only=True)


class LinkSerializer(serializers.Serializer):
    url = serializers.URLField()


class RevenueReportSerializer(serializers.Serializer):
    results = RevenueRowSerializer(many=True)
