from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.urls import reverse
from django.utils.html import format_html

from . import services
from .models import (
    Qualification,
    RequesterProfile,
    User,
    WorkerProfile,
    WorkerQualification,
    WorkerStatus,
)


class RequesterProfileInline(admin.StackedInline):
    model = RequesterProfile
    extra = 0
    can_delete = False


class WorkerProfileInline(admin.StackedInline):
    model = WorkerProfile
    extra = 0
    can_delete = False
    readonly_fields = ["approved_count", "rejected_count", "status_changed_at"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "is_requester", "is_worker", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_active", "worker_profile__status"]
    search_fields = ["email", "first_name", "last_name"]
    inlines = [RequesterProfileInline, WorkerProfileInline]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)

    @admin.display(boolean=True)
    def is_requester(self, user):
        return user.is_requester

    @admin.display(boolean=True)
    def is_worker(self, user):
        return user.is_worker


def _set_status(modeladmin, request, queryset, status, verb):
    reason = f"{verb} by {request.user.email} in admin"
    for profile in queryset.select_related("user"):
        services.worker_set_status(
            worker=profile.user, status=status, reason=reason, by=request.user
        )
    messages.success(request, f"{queryset.count()} worker(s) {verb}.")


@admin.register(WorkerProfile)
class WorkerProfileAdmin(admin.ModelAdmin):
    list_display = [
        "user",
        "country",
        "status",
        "approval_rate",
        "approved_count",
        "rejected_count",
        "assignments_link",
    ]
    list_filter = ["status", "country"]
    search_fields = ["user__email", "status_reason"]
    readonly_fields = ["approved_count", "rejected_count", "status_changed_at", "created_at"]
    actions = ["suspend", "ban", "reinstate"]
    list_select_related = ["user"]

    @admin.display(description="assignments")
    def assignments_link(self, profile):
        url = reverse("admin:tasks_assignment_changelist") + f"?worker__id__exact={profile.user_id}"
        return format_html('<a href="{}">assignments</a>', url)

    @admin.action(description="Suspend selected workers")
    def suspend(self, request, queryset):
        _set_status(self, request, queryset, WorkerStatus.SUSPENDED, "suspended")

    @admin.action(description="Ban selected workers")
    def ban(self, request, queryset):
        _set_status(self, request, queryset, WorkerStatus.BANNED, "banned")

    @admin.action(description="Reinstate selected workers")
    def reinstate(self, request, queryset):
        _set_status(self, request, queryset, WorkerStatus.ACTIVE, "reinstated")


@admin.register(RequesterProfile)
class RequesterProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "organization", "created_at", "bundles_link"]
    search_fields = ["user__email", "organization"]

    @admin.display(description="bundles")
    def bundles_link(self, profile):
        url = reverse("admin:tasks_bundle_changelist") + f"?requester__id__exact={profile.user_id}"
        return format_html('<a href="{}">bundles</a>', url)


class GrantInline(admin.TabularInline):
    model = WorkerQualification
    extra = 0
    autocomplete_fields = ["worker"]
    readonly_fields = ["granted_by", "updated_at"]


@admin.register(Qualification)
class QualificationAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "is_system", "created_at"]
    list_filter = ["is_system"]
    search_fields = ["name", "owner__email"]
    inlines = [GrantInline]


@admin.register(WorkerQualification)
class WorkerQualificationAdmin(admin.ModelAdmin):
    list_display = ["worker", "qualification", "value", "granted_by", "updated_at"]
    list_filter = ["qualification__is_system"]
    search_fields = ["worker__email", "qualification__name"]
    autocomplete_fields = ["worker", "qualification"]
