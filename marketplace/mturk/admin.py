"""Admin for the MTurk API's rows: keys are read-only (the secret is never shown, only
revoked), HITs and types link to their bundle and item."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from .models import HIT, AccessKey, HITType, QualificationRequest, QualificationType, WorkerBlock


@admin.register(AccessKey)
class AccessKeyAdmin(admin.ModelAdmin):
    list_display = ("access_key_id", "requester", "label", "created_at", "last_used_at",
                    "revoked_at")  # fmt: skip
    list_filter = ("revoked_at",)
    search_fields = ("access_key_id", "requester__email", "label")
    readonly_fields = ("requester", "access_key_id", "secret_shown", "label", "created_at",
                       "last_used_at", "revoked_at")  # fmt: skip
    exclude = ("secret_encrypted",)
    actions = ("revoke",)

    @admin.display(description="secret")
    def secret_shown(self, obj: AccessKey) -> str:
        return "(encrypted; shown once when made, never again)"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # made by the console or `manage.py create_access_key` (shows the secret)

    @admin.action(description="Revoke the selected keys now")
    def revoke(self, request: HttpRequest, queryset: QuerySet[AccessKey]) -> None:
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} key(s).", messages.SUCCESS)


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(HITType)
class HITTypeAdmin(ReadOnly):
    list_display = ("hit_type_id", "title", "requester", "reward", "bundle", "created_at")
    search_fields = ("hit_type_id", "title", "requester__email")


@admin.register(HIT)
class HITAdmin(ReadOnly):
    list_display = ("hit_id", "hit_type", "requester", "max_assignments", "expires_at",
                    "disposed_at")  # fmt: skip
    search_fields = ("hit_id", "requester__email", "requester_annotation")
    list_select_related = ("hit_type", "requester")


@admin.register(QualificationType)
class QualificationTypeAdmin(ReadOnly):
    list_display = ("qualification_type_id", "name", "requester", "status", "auto_granted")
    search_fields = ("qualification_type_id", "name", "requester__email")


@admin.register(QualificationRequest)
class QualificationRequestAdmin(ReadOnly):
    list_display = ("request_id", "qualification_type", "worker", "status", "submitted_at")


@admin.register(WorkerBlock)
class WorkerBlockAdmin(ReadOnly):
    list_display = ("requester", "worker", "reason", "created_at")
