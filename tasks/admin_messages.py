"""Admin for message threads: staff read any thread to settle a dispute (read-only: the
record of what each side wrote is not edited after the fact)."""

from __future__ import annotations

from django.contrib import admin

from .models import Message, MessageThread


class MessageInline(admin.TabularInline):
    model = Message
    fields = ["created_at", "from_requester", "author", "body"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(MessageThread)
class MessageThreadAdmin(admin.ModelAdmin):
    list_display = [
        "id", "bundle", "worker", "last_message_at", "requester_unread", "worker_unread",
    ]  # fmt: skip
    list_filter = [("bundle", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["worker__email", "bundle__title", "bundle__requester__email"]
    list_select_related = ["bundle", "worker"]
    readonly_fields = [f.name for f in MessageThread._meta.fields]
    inlines = [MessageInline]
    date_hierarchy = "last_message_at"

    def has_add_permission(self, request):
        return False  # threads start from the product, by a side of them

    def has_delete_permission(self, request, obj=None):
        return False
