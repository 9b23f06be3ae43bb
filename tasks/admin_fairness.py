"""Admin for fair pay and due process (issue 15): open appeals, blocks and platform bans,
workers' reports, top-ups to the floor, and the requesters whose rejection and appeal-loss
rates are high. Thin: every change goes through `tasks.fairness`. Registered by `tasks.admin`.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import (
    Count,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, NullIf
from django.http import HttpRequest

from accounts.models import User
from marketplace.errors import DomainError

from .fairness import appeals, blocks
from .models import (
    Appeal,
    AppealKind,
    AppealStatus,
    Assignment,
    AssignmentStatus,
    BundleReport,
    FloorTopUp,
    RequesterStanding,
    WorkerBlock,
)


@admin.register(Appeal)
class AppealAdmin(admin.ModelAdmin):
    """Appeals, open ones first; admins answer platform-ban appeals (and may settle others)."""

    list_display = [
        "id", "kind", "status", "worker", "requester", "created_at", "answer_due_at",
        "overturned_on_timeout",
    ]  # fmt: skip
    list_filter = ["status", "kind", "overturned_on_timeout"]
    search_fields = ["worker__email", "requester__email", "message", "answer"]
    readonly_fields = [f.name for f in Appeal._meta.fields]
    list_select_related = ["worker", "requester"]
    ordering = ["-status", "answer_due_at"]
    actions = ["overturn"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # workers appeal

    @admin.action(description="Overturn selected open appeals (pay the answer / lift the block)")
    def overturn(self, request: HttpRequest, queryset: QuerySet[Appeal]) -> None:
        done = 0
        for appeal_id in queryset.filter(status=AppealStatus.OPEN).values_list("pk", flat=True):
            try:
                appeals.appeal_answer(appeal_id=appeal_id, by=request.user, overturn=True)
                done += 1
            except DomainError as exc:
                messages.warning(request, f"appeal {appeal_id}: {exc.detail}")
        messages.info(request, f"{done} appeal(s) overturned.")


class ActiveFilter(admin.SimpleListFilter):
    title = "active"
    parameter_name = "active"

    def lookups(self, request, model_admin):
        return [("yes", "Active"), ("no", "Lifted")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(lifted_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(lifted_at__isnull=False)
        return queryset


@admin.register(WorkerBlock)
class WorkerBlockAdmin(admin.ModelAdmin):
    """Every block ever made, with its lifting. Adding one here is a platform ban."""

    list_display = ["worker", "scope", "requester", "bundle", "reason", "created_at", "lifted_at"]
    list_filter = ["scope", ActiveFilter]
    search_fields = ["worker__email", "requester__email", "reason"]
    list_select_related = ["worker", "requester", "bundle"]
    actions = ["lift"]
    raw_id_fields = ["worker"]

    def get_fields(self, request, obj=None):
        return ["worker", "reason"] if obj is None else [f.name for f in WorkerBlock._meta.fields]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else [f.name for f in WorkerBlock._meta.fields]

    def save_model(self, request, obj, form, change):
        if change:
            return
        ban = blocks.platform_ban(admin=request.user, worker=obj.worker, reason=obj.reason)
        obj.pk = ban.pk

    def has_delete_permission(self, request, obj=None):
        return False  # the history stays

    @admin.action(description="Lift selected blocks")
    def lift(self, request: HttpRequest, queryset: QuerySet[WorkerBlock]) -> None:
        done = 0
        for block_id in queryset.filter(lifted_at__isnull=True).values_list("pk", flat=True):
            try:
                blocks.block_lift(block_id=block_id, by=request.user, reason="lifted by an admin")
                done += 1
            except DomainError as exc:
                messages.warning(request, f"block {block_id}: {exc.detail}")
        messages.info(request, f"{done} block(s) lifted.")


@admin.register(BundleReport)
class BundleReportAdmin(admin.ModelAdmin):
    list_display = ["created_at", "bundle", "reason", "worker", "message"]
    list_filter = ["reason"]
    search_fields = ["bundle__title", "message", "worker__email"]
    readonly_fields = [f.name for f in BundleReport._meta.fields]
    list_select_related = ["bundle", "worker"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(FloorTopUp)
class FloorTopUpAdmin(admin.ModelAdmin):
    list_display = [
        "bundle", "worker", "approved", "seconds", "earned_minor", "floor_minor", "paid_minor",
        "unpaid_minor", "currency",
    ]  # fmt: skip
    list_filter = ["currency"]
    readonly_fields = [f.name for f in FloorTopUp._meta.fields]
    list_select_related = ["bundle", "worker"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


def _count(queryset: QuerySet, key: str) -> Coalesce:
    """A correlated COUNT per requester (no joins multiplying each other)."""
    counted = queryset.values(key).annotate(n=Count("id")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


class RateFilter(admin.SimpleListFilter):
    field = ""

    def lookups(self, request, model_admin):
        return [("10", "10% or more"), ("25", "25% or more"), ("50", "50% or more")]

    def queryset(self, request, queryset):
        if self.value() in {"10", "25", "50"}:
            return queryset.filter(**{f"{self.field}__gte": int(self.value())})
        return queryset


class RejectionRateFilter(RateFilter):
    title = "rejection rate"
    parameter_name = "rejection"
    field = "rejection_percent"


class AppealLossFilter(RateFilter):
    title = "appeals lost"
    parameter_name = "appeals_lost"
    field = "appeal_loss_percent"


@admin.register(RequesterStanding)
class RequesterStandingAdmin(admin.ModelAdmin):
    """Requesters by how often they reject and how often their rejections are overturned."""

    list_display = [
        "email", "reviewed", "rejected", "rejection_percent", "appeals_decided",
        "appeals_lost", "appeal_loss_percent",
    ]  # fmt: skip
    list_filter = [RejectionRateFilter, AppealLossFilter]
    search_fields = ["email"]
    fields = ["email"]
    readonly_fields = ["email"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        work = Assignment.objects.filter(bundle__requester=OuterRef("pk"))
        reviewed = work.filter(status__in=(AssignmentStatus.APPROVED, AssignmentStatus.REJECTED))
        decided = Appeal.objects.filter(requester=OuterRef("pk"), kind=AppealKind.REJECTION)
        decided = decided.exclude(status=AppealStatus.OPEN)
        rows = super().get_queryset(request)  # requesters only: the proxy's manager
        rows = rows.annotate(
            reviewed=_count(reviewed, "bundle__requester"),
            rejected=_count(work.filter(status=AssignmentStatus.REJECTED), "bundle__requester"),
            appeals_decided=_count(decided, "requester"),
            appeals_lost=_count(decided.filter(status=AppealStatus.OVERTURNED), "requester"),
        )
        return rows.annotate(
            rejection_percent=Coalesce(
                100 * NullIf("rejected", 0) / NullIf("reviewed", 0), Value(0)
            ),
            appeal_loss_percent=Coalesce(
                100 * NullIf("appeals_lost", 0) / NullIf("appeals_decided", 0), Value(0)
            ),
        )

    @admin.display(ordering="reviewed")
    def reviewed(self, obj):
        return obj.reviewed

    @admin.display(ordering="rejected")
    def rejected(self, obj):
        return obj.rejected

    @admin.display(ordering="rejection_percent", description="rejection %")
    def rejection_percent(self, obj):
        return obj.rejection_percent

    @admin.display(ordering="appeals_decided")
    def appeals_decided(self, obj):
        return obj.appeals_decided

    @admin.display(ordering="appeals_lost")
    def appeals_lost(self, obj):
        return obj.appeals_lost

    @admin.display(ordering="appeal_loss_percent", description="appeals lost %")
    def appeal_loss_percent(self, obj):
        return obj.appeal_loss_percent

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request, obj=None):
        return False
