from django import forms
from django.contrib import admin, messages
from django.db.models import Case, Count, F, FloatField, Q, When
from django.db.models.functions import Cast
from django.urls import reverse
from django.utils.html import format_html

from marketplace.errors import DomainError

from . import review, services
from .exports.common import label_names
from .models import (
    Assignment,
    AssignmentStatus,
    Bundle,
    BundleEvent,
    Item,
    ItemResult,
    QualityRuleEvent,
    WorkerBundleStats,
)
from .quality import blocking, exams, machine_signals, rules_engine
from .quality.aggregation import wilson_interval
from .quality.selectors import worker_quality_summary
from .selectors import JUDGMENT_STATUSES


def _link(obj, label=None):
    if obj is None:
        return "-"
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, label or str(obj))


def label_text(question, value) -> str:
    """An answer or label as people read it (issue 15: the admin showed '"neg"'): a choice's
    label, several joined, a shape answer summarised ("3 boxes"), else the plain value."""
    if value is None:
        return "-"
    names = label_names(question or {})
    if isinstance(value, list):
        return ", ".join(names.get(str(v), str(v)) for v in value)
    if isinstance(value, dict):
        parts = [f"{len(v)} {k}" for k, v in value.items() if isinstance(v, list)]
        return ", ".join(parts) or ", ".join(f"{k}: {v}" for k, v in value.items())
    return names.get(str(value), str(value))


def _changelist(model, label, **filters):
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return format_html('<a href="{}?{}">{}</a>', url, query, label)


class BundleEventInline(admin.TabularInline):
    model = BundleEvent
    extra = 0
    can_delete = False
    readonly_fields = ["from_status", "to_status", "by", "note", "created_at"]

    def has_add_permission(self, request, obj=None):
        return False


class BundleAdminForm(forms.ModelForm):
    """The quality rules are checked by the one validator the API and the create form use
    (the admin builds the form's fields from the model)."""

    def clean_quality_rules(self):
        return self._checked(rules_engine.quality_rules_validate, "quality_rules")

    def clean_exam(self):
        return self._checked(exams.exam_validate, "exam")

    def clean_agent_canary(self):
        return self._checked(machine_signals.canary_validate, "agent_canary")

    def _checked(self, validate, name):
        try:
            return validate(self.cleaned_data[name])
        except DomainError as exc:
            raise forms.ValidationError(exc.detail) from exc


@admin.register(Bundle)
class BundleAdmin(admin.ModelAdmin):
    form = BundleAdminForm
    list_display = [
        "id",
        "title",
        "requester",
        "status",
        "reward_minor",
        "currency",
        "min_overlap",
        "max_overlap",
        "created_at",
        "related",
    ]
    list_filter = ["status", "currency", "created_at"]
    search_fields = ["title", "requester__email"]
    readonly_fields = [
        "status", "created_at", "updated_at", "published_at", "finished_at", "training_items",
    ]  # fmt: skip
    list_select_related = ["requester"]
    inlines = [BundleEventInline]
    actions = ["pause", "resume", "cancel"]
    date_hierarchy = "created_at"

    @admin.display(description="related")
    def related(self, bundle):
        return format_html(
            "{} · {} · {}",
            _changelist(Item, "items", bundle__id__exact=bundle.pk),
            _changelist(Assignment, "assignments", bundle__id__exact=bundle.pk),
            _changelist(WorkerBundleStats, "workers", bundle__id__exact=bundle.pk),
        )

    def _apply(self, request, queryset, service, verb):
        done = 0
        for bundle in queryset:
            try:
                service(bundle=bundle, by=request.user)
                done += 1
            except DomainError as exc:
                messages.warning(request, f"{bundle}: {exc.detail}")
        messages.info(request, f"{done} bundle(s) {verb}.")

    @admin.action(description="Pause selected bundles")
    def pause(self, request, queryset):
        self._apply(request, queryset, services.bundle_pause, "paused")

    @admin.action(description="Resume selected bundles")
    def resume(self, request, queryset):
        self._apply(request, queryset, services.bundle_resume, "resumed")

    @admin.action(description="Cancel selected bundles")
    def cancel(self, request, queryset):
        self._apply(request, queryset, services.bundle_cancel, "cancelled")


class JudgmentInline(admin.TabularInline):
    """The item's answers, as the export lists them (and claims in progress or ended)."""

    model = Assignment
    verbose_name = "judgment"
    verbose_name_plural = "judgments"
    fields = ["worker", "status", "answer_text", "is_gold", "gold_correct", "seconds_spent",
              "submitted_at"]  # fmt: skip
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("worker", "bundle").order_by("id")

    @admin.display(description="answer")
    def answer_text(self, assignment):
        return label_text(assignment.bundle.question, assignment.answer)


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "bundle_link",
        "external_id",
        "is_gold",
        "state",
        "slots_open",
        "judgments",
        "judgments_submitted",
        "confidence",
    ]
    list_filter = ["state", "is_gold", ("bundle", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["external_id", "bundle__title"]
    readonly_fields = ["bundle", "state", "slots_open", "judgments_submitted", "created_at",
                       "label", "confidence"]  # fmt: skip
    list_select_related = ["bundle", "result"]
    show_full_result_count = False
    inlines = [JudgmentInline]

    def get_queryset(self, request):
        # Judgments as the export counts them (submitted or approved, gold included), which
        # `judgments_submitted` (answers counted toward the label) is not.
        judged = Q(assignments__status__in=JUDGMENT_STATUSES)
        return super().get_queryset(request).annotate(judgments=Count("assignments", judged))

    @admin.display(description="judgments", ordering="judgments")
    def judgments(self, item):
        return item.judgments

    @admin.display(description="label")
    def label(self, item):
        result = getattr(item, "result", None)
        return "-" if result is None else label_text(item.bundle.question, result.label)

    @admin.display(description="bundle")
    def bundle_link(self, item):
        return _link(item.bundle)

    @admin.display(description="confidence", ordering="result__confidence")
    def confidence(self, item):
        result = getattr(item, "result", None)
        return None if result is None else result.confidence


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "bundle_link",
        "item_link",
        "worker",
        "status",
        "is_gold",
        "gold_correct",
        "submitted_at",
        "seconds_spent",
    ]
    list_filter = [
        "status",
        "is_gold",
        "gold_correct",
        "auto_approved",
        ("bundle", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["worker__email", "item__external_id", "bundle__title"]
    readonly_fields = [f.name for f in Assignment._meta.fields]
    list_select_related = ["bundle", "item", "worker"]
    actions = ["approve", "reject"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # history is never deleted

    @admin.display(description="bundle")
    def bundle_link(self, assignment):
        return _link(assignment.bundle)

    @admin.display(description="item")
    def item_link(self, assignment):
        return _link(assignment.item, f"item {assignment.item_id}")

    @admin.action(description="Approve selected (submitted) assignments")
    def approve(self, request, queryset):
        done = 0
        for assignment_id in queryset.filter(status=AssignmentStatus.SUBMITTED).values_list(
            "id", flat=True
        ):
            try:
                review.assignment_approve(assignment_id=assignment_id, by=request.user)
                done += 1
            except DomainError as exc:
                messages.warning(request, f"assignment {assignment_id}: {exc.detail}")
        messages.info(request, f"{done} assignment(s) approved.")

    @admin.action(description="Reject selected (submitted) assignments")
    def reject(self, request, queryset):
        done = 0
        reason = f"Rejected by platform staff ({request.user.email})."
        for assignment_id in queryset.filter(status=AssignmentStatus.SUBMITTED).values_list(
            "id", flat=True
        ):
            try:
                review.assignment_reject(
                    assignment_id=assignment_id, by=request.user, reason=reason
                )
                done += 1
            except DomainError as exc:
                messages.warning(request, f"assignment {assignment_id}: {exc.detail}")
        messages.info(request, f"{done} assignment(s) rejected.")


class ConfidenceBandFilter(admin.SimpleListFilter):
    """Items by aggregated confidence: the bands requesters review ("confidence < 0.8")."""

    title = "confidence"
    parameter_name = "confidence"
    BANDS = {
        "lt0.5": ("< 0.5", {"confidence__lt": 0.5}),
        "lt0.8": ("< 0.8", {"confidence__lt": 0.8}),
        "lt0.9": ("< 0.9", {"confidence__lt": 0.9}),
        "ge0.9": (">= 0.9", {"confidence__gte": 0.9}),
    }

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _) in self.BANDS.items()]

    def queryset(self, request, queryset):
        band = self.BANDS.get(self.value() or "")
        return queryset.filter(**band[1]) if band else queryset


@admin.register(ItemResult)
class ItemResultAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "item_link",
        "bundle_link",
        "label_text",
        "confidence",
        "method",
        "judgments",
        "updated_at",
    ]
    list_filter = [
        ConfidenceBandFilter,
        "method",
        ("item__bundle", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["item__external_id", "item__bundle__title"]
    readonly_fields = ["item", "label_text", "label", "confidence", "method", "judgments",
                       "updated_at"]  # fmt: skip
    list_select_related = ["item__bundle"]
    ordering = ["confidence", "id"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False  # written by the quality engine only

    @admin.display(description="label", ordering="label")
    def label_text(self, result):
        return label_text(result.item.bundle.question, result.label)

    @admin.display(description="item")
    def item_link(self, result):
        return _link(result.item, f"item {result.item_id} {result.item.external_id}".strip())

    @admin.display(description="bundle")
    def bundle_link(self, result):
        return _link(result.item.bundle)


# Gold accuracy in the database, so the column sorts and the filter below works (no gold: null).
_ACCURACY = Case(
    When(gold_seen=0, then=None),
    default=Cast(F("gold_correct"), FloatField()) / Cast(F("gold_seen"), FloatField()),
    output_field=FloatField(),
)


class GoldAccuracyFilter(admin.SimpleListFilter):
    title = "gold accuracy"
    parameter_name = "accuracy"
    BANDS = {
        "below50": ("below 50%", Q(gold_seen__gt=0, accuracy__lt=0.5)),
        "50to80": ("50% to 80%", Q(accuracy__gte=0.5, accuracy__lt=0.8)),
        "80up": ("80% or more", Q(accuracy__gte=0.8)),
        "none": ("no gold answered", Q(gold_seen=0)),
    }

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _) in self.BANDS.items()]

    def queryset(self, request, queryset):
        band = self.BANDS.get(self.value() or "")
        if band is None:
            return queryset
        return queryset.annotate(accuracy=_ACCURACY).filter(band[1])


@admin.register(WorkerBundleStats)
class WorkerBundleStatsAdmin(admin.ModelAdmin):
    list_display = [
        "worker",
        "bundle_link",
        "submitted",
        "approved",
        "rejected",
        "gold_seen",
        "gold_correct",
        "gold_accuracy",
        "blocked",
        "blocked_reason",
    ]
    list_filter = [
        "blocked",
        GoldAccuracyFilter,
        ("bundle", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["worker__email", "bundle__title", "blocked_reason"]
    readonly_fields = [
        "worker",
        "bundle",
        "submitted",
        "approved",
        "rejected",
        "gold_seen",
        "gold_correct",
        "blocked",
        "blocked_reason",
        "blocked_at",
        "quality_summary",
    ]
    actions = ["block", "unblock"]
    list_select_related = ["worker", "bundle"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False  # rows are made by the first submission

    @admin.display(description="bundle")
    def bundle_link(self, stats):
        return _link(stats.bundle)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(accuracy=_ACCURACY)

    @admin.display(description="gold accuracy (95% interval)", ordering="accuracy")
    def gold_accuracy(self, stats):
        if not stats.gold_seen:
            return "-"
        low, high = wilson_interval(stats.gold_correct, stats.gold_seen)
        return f"{stats.gold_correct / stats.gold_seen:.0%} ({low:.0%}-{high:.0%})"

    @admin.display(description="across all bundles")
    def quality_summary(self, stats):
        row = worker_quality_summary([stats.worker_id])[stats.worker_id]
        return format_html(
            "{} bundles ({} blocked) · {} answers · gold {} · approval {} · median {} s",
            row["bundles"],
            row["bundles_blocked"],
            row["submitted"],
            "-" if row["gold_accuracy"] is None else f"{row['gold_accuracy']:.0%}",
            "-" if row["approval_rate"] is None else f"{row['approval_rate']:.0%}",
            "-" if row["median_seconds"] is None else row["median_seconds"],
        )

    @admin.action(description="Block selected workers in their bundle (with its consequences)")
    def block(self, request, queryset):
        reason = f"Blocked by platform staff ({request.user.email})."
        done = 0
        for worker_id, bundle_id in queryset.filter(blocked=False).values_list(
            "worker_id", "bundle_id"
        ):
            try:
                blocking.worker_block(
                    worker_id=worker_id, bundle_id=bundle_id, reason=reason, by=request.user
                )
                done += 1
            except DomainError as exc:
                messages.warning(request, f"worker {worker_id}, bundle {bundle_id}: {exc.detail}")
        messages.info(request, f"{done} worker(s) blocked.")

    @admin.action(description="Unblock selected workers in their bundle")
    def unblock(self, request, queryset):
        done = 0
        for worker_id, bundle_id in queryset.filter(blocked=True).values_list(
            "worker_id", "bundle_id"
        ):
            blocking.worker_unblock(worker_id=worker_id, bundle_id=bundle_id, by=request.user)
            done += 1
        messages.info(request, f"{done} worker(s) unblocked.")


@admin.register(QualityRuleEvent)
class QualityRuleEventAdmin(admin.ModelAdmin):
    """The history of the bundles' quality rules: what fired, on what figures; reversible."""

    list_display = ["created_at", "bundle", "worker", "action", "reason", "reversed_at"]
    list_filter = ["action", ("bundle", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["worker__email", "bundle__title", "reason"]
    readonly_fields = [f.name for f in QualityRuleEvent._meta.fields]
    list_select_related = ["worker", "bundle"]
    actions = ["reverse"]

    def has_add_permission(self, request):
        return False  # rows are written by the rules

    @admin.action(description="Reverse selected rule actions (lift their blocks)")
    def reverse(self, request, queryset):
        done = 0
        for event_id in queryset.filter(reversed_at__isnull=True).values_list("pk", flat=True):
            try:
                rules_engine.rule_event_reverse(event_id=event_id, by=request.user)
                done += 1
            except DomainError as exc:
                messages.warning(request, f"event {event_id}: {exc.detail}")
        messages.info(request, f"{done} action(s) reversed.")


# Registered in their own modules: due process (issue 15), message threads, rings and calibration.
from . import admin_fairness, admin_messages, admin_quality  # noqa: E402, F401
