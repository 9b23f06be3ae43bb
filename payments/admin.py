"""Admin for money: the ledger is read-only (corrections are new entries, made by services);
actions call services (retry a payout, mark a manual batch paid, replay an event)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts.models import User
from marketplace.errors import DomainError

from . import admin_holds as admin_holds  # registers the hold and bank-details admins
from . import payouts, selectors, services, webhooks
from .ledger import account_balance
from .models import (
    Bonus,
    ConnectedAccount,
    Dispute,
    JournalEntry,
    LedgerAccount,
    ManualPayoutBatch,
    Payout,
    PayoutMethod,
    PayoutStatus,
    Posting,
    ReconciliationReport,
    StripeEvent,
    TopUp,
)


def _link(obj: Any, label: str | None = None) -> str:
    if obj is None:
        return "-"
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, label or str(obj))


def _admin_user(request: HttpRequest) -> User:
    """The admin acting. `admin_view` lets only logged-in staff through, so this is a User;
    anything else is refused rather than recorded as who moved the money."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return user


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewable, never editable or deletable from admin."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


POSTING_FIELDS: tuple[str, ...] = ("account_link", "amount_minor", "currency")


class PostingInline(admin.TabularInline):
    model = Posting
    fields = readonly_fields = POSTING_FIELDS
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="account")
    def account_link(self, posting: Posting) -> str:
        return _link(posting.account, posting.account.key)


class CreditForm(forms.Form):
    """Money received outside Stripe (invoice paid, bank transfer)."""

    email = forms.EmailField(help_text="The requester's login email.")
    amount_minor = forms.IntegerField(min_value=1, help_text="Integer minor units (cents).")
    currency = forms.CharField(max_length=3, initial="usd")
    reference = forms.CharField(
        max_length=120,
        help_text="Invoice or bank reference; crediting the same reference twice credits once.",
    )


@admin.register(LedgerAccount)
class LedgerAccountAdmin(ReadOnlyAdmin):
    list_display = ["key", "kind", "currency", "owner_link", "bundle_id", "balance"]
    list_filter = ["kind", "currency"]
    search_fields = ["key", "owner__email"]
    list_select_related = ["owner"]
    change_list_template = "admin/payments/ledgeraccount/change_list.html"

    def get_urls(self) -> list[Any]:
        extra = [
            path(
                "credit/",
                self.admin_site.admin_view(self.credit_view),
                name="payments_ledgeraccount_credit",
            ),
        ]
        return extra + super().get_urls()

    def credit_view(self, request: HttpRequest) -> HttpResponse:
        """Credit a requester's balance: a ledger entry like any other (services.balance_credit)."""
        if not request.user.has_perm("payments.view_ledgeraccount") or not request.user.is_staff:
            raise PermissionDenied
        form = CreditForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            user = User.objects.filter(email__iexact=form.cleaned_data["email"]).first()
            if user is None:
                form.add_error("email", "No user with this email.")
            else:
                try:
                    entry = services.balance_credit(
                        requester=user,
                        amount_minor=form.cleaned_data["amount_minor"],
                        currency=form.cleaned_data["currency"],
                        reference=form.cleaned_data["reference"],
                        by=_admin_user(request),
                    )
                except DomainError as exc:
                    form.add_error(None, f"{exc.code}: {exc.detail}")
                else:
                    self.message_user(request, f"Credited (entry {entry.pk}).")
                    return HttpResponseRedirect(
                        reverse("admin:payments_journalentry_change", args=[entry.pk])
                    )
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "title": "Credit a requester balance",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/payments/credit.html", context)

    @admin.display(description="owner")
    def owner_link(self, account: LedgerAccount) -> str:
        return _link(account.owner)

    @admin.display(description="balance (minor units)")
    def balance(self, account: LedgerAccount) -> int:
        return (
            int(account.balance_minor)
            if account.balance_minor is not None
            else account_balance(account)
        )


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "kind", "idempotency_key", "memo", "created_by"]
    list_filter = ["kind", "created_at"]
    search_fields = [
        "idempotency_key",
        "memo",
        "external_id",
        "reference_id",
        "postings__account__owner__email",
    ]
    date_hierarchy = "created_at"
    inlines = [PostingInline]


@admin.register(Posting)
class PostingAdmin(ReadOnlyAdmin):
    list_display = ["id", "entry_link", "account_link", "amount_minor", "currency"]
    list_filter = ["currency", "account__kind"]
    search_fields = ["account__key", "account__owner__email", "entry__idempotency_key"]
    list_select_related = ["entry", "account"]

    @admin.display(description="entry")
    def entry_link(self, posting: Posting) -> str:
        return _link(posting.entry)

    @admin.display(description="account")
    def account_link(self, posting: Posting) -> str:
        return _link(posting.account, posting.account.key)


@admin.register(Payout)
class PayoutAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "worker",
        "amount_minor",
        "currency",
        "method",
        "status",
        "attempts",
        "created_at",
        "paid_at",
        "batch_link",
    ]
    list_filter = ["status", "method", "currency"]
    search_fields = ["worker__email", "transfer_id", "request_key"]
    list_select_related = ["worker", "batch"]
    actions = ["retry_now", "return_manual", "resolve_retry", "resolve_return"]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Payouts whose retries gave up (or that Stripe refused the key for) are named on top
        of the list until an admin resolves them."""
        waiting = Payout.objects.filter(status=PayoutStatus.NEEDS_ATTENTION).count()
        if waiting:
            self.message_user(
                request,
                f"{waiting} payout(s) need attention: filter by status, then resolve them "
                "(retry, or return after a lookup at Stripe).",
                messages.WARNING,
            )
        return super().changelist_view(request, extra_context)

    def _resolve(self, request: HttpRequest, queryset: QuerySet[Payout], action: str) -> None:
        done = 0
        for payout in queryset.filter(status=PayoutStatus.NEEDS_ATTENTION):
            try:
                payouts.payout_resolve(
                    payout_id=payout.pk,
                    action="retry" if action == "retry" else "return",
                    by=_admin_user(request),
                )
            except DomainError as exc:
                self.message_user(request, f"Payout {payout.pk}: {exc.detail}", messages.ERROR)
            else:
                done += 1
        self.message_user(request, f"Resolved {done} payout(s); see their status.")

    @admin.action(description="Needs attention: retry the transfer (a fresh retry window)")
    def resolve_retry(self, request: HttpRequest, queryset: QuerySet[Payout]) -> None:
        self._resolve(request, queryset, "retry")

    @admin.action(
        description="Needs attention: look the transfer up at Stripe; record it, or return "
        "the money if Stripe has none"
    )
    def resolve_return(self, request: HttpRequest, queryset: QuerySet[Payout]) -> None:
        self._resolve(request, queryset, "return")

    @admin.action(description="Bank transfer failed: return to the worker's balance")
    def return_manual(self, request: HttpRequest, queryset: QuerySet[Payout]) -> None:
        returned = 0
        for payout in queryset.filter(method=PayoutMethod.MANUAL, status=PayoutStatus.PENDING):
            payouts.payout_return(
                payout_id=payout.pk,
                code="bank_transfer_failed",
                reason=f"returned by {request.user}",
            )
            returned += 1
        self.message_user(request, f"Returned {returned} payout(s) to workers' balances.")

    @admin.display(description="batch")
    def batch_link(self, payout: Payout) -> str:
        return _link(payout.batch)

    @admin.action(description="Retry the Stripe transfer now (same idempotency key)")
    def retry_now(self, request: HttpRequest, queryset: QuerySet[Payout]) -> None:
        done = 0
        for payout in queryset.filter(
            method=PayoutMethod.STRIPE, status__in=[PayoutStatus.PENDING, PayoutStatus.PROCESSING]
        ):
            payouts.payout_execute(payout_id=payout.pk)
            done += 1
        self.message_user(request, f"Attempted {done} payout(s); see their status.")


@admin.register(ManualPayoutBatch)
class ManualPayoutBatchAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "currency",
        "status",
        "created_at",
        "exported_at",
        "paid_at",
        "payout_count",
    ]
    list_filter = ["status", "currency"]
    actions = ["download_csv", "mark_paid"]

    @admin.display(description="payouts")
    def payout_count(self, batch: ManualPayoutBatch) -> int:
        return batch.payouts.count()

    @admin.action(description="Download CSV for the bank (closes the batch)")
    def download_csv(
        self, request: HttpRequest, queryset: QuerySet[ManualPayoutBatch]
    ) -> HttpResponse:
        parts = [payouts.manual_batch_export(batch=batch) for batch in queryset.order_by("pk")]
        body = parts[0] + "".join(p.split("\n", 1)[1] for p in parts[1:]) if parts else ""
        response = HttpResponse(body, content_type="text/csv")
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="payouts-{stamp}.csv"'
        return response

    @admin.action(description="Mark paid (bank transfers made)")
    def mark_paid(self, request: HttpRequest, queryset: QuerySet[ManualPayoutBatch]) -> None:
        marked = 0
        for batch in queryset:
            try:
                marked += payouts.manual_batch_mark_paid(batch=batch, by=_admin_user(request))
            except DomainError as exc:
                self.message_user(request, f"Batch {batch.pk}: {exc.detail}", messages.ERROR)
        self.message_user(request, f"Marked {marked} payout(s) paid.")


@admin.register(TopUp)
class TopUpAdmin(ReadOnlyAdmin):
    """Top-ups with the card payment behind them: Stripe's fee, what was refunded, disputes,
    and what the requester owes now (a refund or dispute of money already spent)."""

    list_display = [
        "id",
        "requester",
        "amount_minor",
        "currency",
        "status",
        "stripe_fee_minor",
        "refunded_minor",
        "requester_owes",
        "created_at",
        "entry_link",
    ]
    list_filter = ["status", "currency"]
    search_fields = ["requester__email", "checkout_session_id", "payment_intent_id", "charge_id"]
    list_select_related = ["requester", "entry"]

    @admin.display(description="entry")
    def entry_link(self, topup: TopUp) -> str:
        return _link(topup.entry)

    @admin.display(description="requester owes (minor units)")
    def requester_owes(self, topup: TopUp) -> int:
        return selectors.requester_debt(requester_id=topup.requester_id, currency=topup.currency)


@admin.register(Dispute)
class DisputeAdmin(ReadOnlyAdmin):
    """Card disputes (chargebacks) of top-ups, as Stripe last reported them. Evidence is
    submitted in Stripe's dashboard before `evidence_due_by`; the money is booked from the
    webhooks (see the operator guide)."""

    list_display = [
        "stripe_dispute_id",
        "topup_link",
        "requester",
        "amount_minor",
        "currency",
        "reason",
        "status",
        "evidence_due_by",
        "withdrawn_minor",
        "reinstated_minor",
        "fees_minor",
    ]
    list_filter = ["status", "reason", "currency"]
    search_fields = ["stripe_dispute_id", "topup__requester__email", "topup__charge_id"]
    list_select_related = ["topup__requester"]

    @admin.display(description="top-up")
    def topup_link(self, dispute: Dispute) -> str:
        return _link(dispute.topup)

    @admin.display(description="requester")
    def requester(self, dispute: Dispute) -> str:
        return str(dispute.topup.requester)


@admin.register(Bonus)
class BonusAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "requester",
        "worker",
        "amount_minor",
        "fee_minor",
        "currency",
        "created_at",
        "entry_link",
    ]
    list_filter = ["currency"]
    search_fields = ["requester__email", "worker__email", "client_token"]
    list_select_related = ["requester", "worker", "entry"]

    @admin.display(description="entry")
    def entry_link(self, bonus: Bonus) -> str:
        return _link(bonus.entry)


@admin.register(ConnectedAccount)
class ConnectedAccountAdmin(ReadOnlyAdmin):
    list_display = [
        "stripe_account_id",
        "worker",
        "payouts_enabled",
        "details_submitted",
        "transfers_active",
        "last_payout_failure",
        "updated_at",
    ]
    list_filter = ["payouts_enabled", "transfers_active"]
    search_fields = ["worker__email", "stripe_account_id"]


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    list_display = ["event_id", "type", "status", "attempts", "received_at", "processed_at"]
    list_filter = ["status", "type"]
    search_fields = ["event_id", "error"]
    actions = ["replay"]

    @admin.action(description="Replay (process again; handlers are idempotent)")
    def replay(self, request: HttpRequest, queryset: QuerySet[StripeEvent]) -> None:
        results = [webhooks.event_process(event_id=e.pk, force=True) for e in queryset]
        failed = [e.event_id for e in results if e.status != "processed"]
        if failed:
            self.message_user(request, f"Still failing: {', '.join(failed)}", messages.ERROR)
        else:
            self.message_user(request, f"Replayed {len(results)} event(s).")


@admin.register(ReconciliationReport)
class ReconciliationReportAdmin(ReadOnlyAdmin):
    list_display = ["id", "period_start", "period_end", "ok", "created_at", "difference_count"]
    list_filter = ["ok"]

    @admin.display(description="differences")
    def difference_count(self, report: ReconciliationReport) -> int:
        return len(report.differences)
