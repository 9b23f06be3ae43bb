"""API shapes for money. Amounts are integers in the currency's smallest unit, as in Stripe."""

from __future__ import annotations

from rest_framework import serializers

from payments.models import Bonus, Payout, Posting, TopUp


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
    amount = serializers.IntegerField(source="amount_minor", min_value=1)
    currency = serializers.CharField(max_length=3, default="usd")
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


class BonusSerializer(serializers.ModelSerializer):
    worker_id = serializers.IntegerField()
    amount = serializers.IntegerField(source="amount_minor", min_value=1)
    fee = serializers.IntegerField(source="fee_minor", read_only=True)
    currency = serializers.CharField(max_length=3, default="usd")

    class Meta:
        model = Bonus
        fields = [
            "id",
            "worker_id",
            "amount",
            "fee",
            "currency",
            "reason",
            "client_token",
            "created_at",
        ]
        read_only_fields = ["id", "fee", "created_at"]


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

    amount = serializers.IntegerField(min_value=1, required=False)
    currency = serializers.CharField(max_length=3, default="usd")
    client_token = serializers.CharField(max_length=100, required=False)


class BalanceSerializer(serializers.Serializer):
    currency = serializers.CharField()
    available = serializers.IntegerField()


class EarningsBalanceSerializer(BalanceSerializer):
    in_flight = serializers.IntegerField()
    paid_out = serializers.IntegerField()


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


class LinkSerializer(serializers.Serializer):
    url = serializers.URLField()


class RevenueReportSerializer(serializers.Serializer):
    results = RevenueRowSerializer(many=True)
