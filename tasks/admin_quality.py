"""Admin for what the whole-bundle run finds about rings and confidence (imported by
`tasks.admin`): flagged rings with their evidence (dismissable), and each bundle's live
quality state (estimates, calibration, reliability diagram). Both are written by the engine."""

from __future__ import annotations

from django.contrib import admin, messages

from marketplace.errors import DomainError

from .models import BundleQuality, WorkerRing
from .quality.ring_records import ring_dismiss


@admin.register(WorkerRing)
class WorkerRingAdmin(admin.ModelAdmin):
    """Groups of workers agreeing far above what the rest of the crowd predicts."""

    list_display = [
        "created_at", "bundle", "size", "shared_items", "observed_agreement",
        "expected_agreement", "dismissed_at",
    ]  # fmt: skip
    list_filter = [("bundle", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["bundle__title"]
    readonly_fields = [f.name for f in WorkerRing._meta.fields]
    list_select_related = ["bundle"]
    actions = ["dismiss"]

    def has_add_permission(self, request):
        return False  # rows are written by the whole-bundle run

    @admin.display(description="members")
    def size(self, ring: WorkerRing) -> int:
        return len(ring.members)

    @admin.action(description="Dismiss selected rings (stop down-weighting their members)")
    def dismiss(self, request, queryset):
        done = 0
        for ring_id in queryset.filter(dismissed_at__isnull=True).values_list("pk", flat=True):
            try:
                ring_dismiss(ring_id=ring_id, by=request.user)
                done += 1
            except DomainError as exc:
                messages.warning(request, f"ring {ring_id}: {exc.detail}")
        messages.info(request, f"{done} ring(s) dismissed.")


@admin.register(BundleQuality)
class BundleQualityAdmin(admin.ModelAdmin):
    list_display = ["bundle", "estimated_at", "estimated_judgments", "labelled_at"]
    readonly_fields = [f.name for f in BundleQuality._meta.fields]
    list_select_related = ["bundle"]

    def has_add_permission(self, request):
        return False
