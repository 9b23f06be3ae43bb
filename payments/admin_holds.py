"""Admin for what an admin decides about a worker's money: holds (hold, release, write off,
each through `payments.payouts` and recorded as an audit row) and workers' bank details for
manual payouts (shown masked; the plain text only goes into the batch CSV).

Registered by `payments.admin`, which imports this module.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from accounts.models import User
from marketplace.errors import DomainError

from . import payouts
from .models import HoldAction, PayoutDetails, WorkerHold, WorkerHoldEvent


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


ACTIONS = {
    HoldAction.HOLD: payouts.worker_hold,
    HoldAction.RELEASE: payouts.worker_hold_release,
    HoldAction.WRITE_OFF: payouts.worker_hold_write_off,
}


class HoldForm(forms.Form):
    email = forms.EmailField(help_text="The worker's login email.")
    action = forms.ChoiceField(
        choices=[(a.value, a.label) for a in ACTIONS], initial=HoldAction.HOLD
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="Why (kept in the audit trail and on the ledger entry).",
    )


@admin.register(WorkerHold)
class WorkerHoldAdmin(_ReadOnly):
    list_display = ["worker", "active", "reason", "updated_at"]
    list_filter = ["active"]
    search_fields = ["worker__email", "reason"]
    list_select_related = ["worker"]
    change_list_template = "admin/payments/workerhold/change_list.html"

    def get_urls(self) -> list[Any]:
        extra = [
            path(
                "act/",
                self.admin_site.admin_view(self.act_view),
                name="payments_workerhold_act",
            )
        ]
        return extra + super().get_urls()

    def act_view(self, request: HttpRequest) -> HttpResponse:
        """Hold, release or write off: one service call, one audit row per currency moved."""
        user = request.user
        if not isinstance(user, User) or not user.is_staff:
            raise PermissionDenied
        if not user.has_perm("payments.view_workerhold"):
            raise PermissionDenied
        form = HoldForm(request.POST or None, initial={"email": request.GET.get("email", "")})
        if request.method == "POST" and form.is_valid():
            worker = User.objects.filter(email__iexact=form.cleaned_data["email"]).first()
            if worker is None or not getattr(worker, "is_worker", False):
                form.add_error("email", "No worker with this email.")
            else:
                act = ACTIONS[HoldAction(form.cleaned_data["action"])]
                try:
                    events = act(worker=worker, reason=form.cleaned_data["reason"], by=user)
                except DomainError as exc:
                    form.add_error(None, f"{exc.code}: {exc.detail}")
                else:
                    moved = ", ".join(
                        f"{e.amount_minor} {e.currency}" for e in events if e.amount_minor
                    )
                    self.message_user(request, f"Done ({moved or 'nothing moved'}).")
                    return HttpResponseRedirect(
                        reverse("admin:payments_workerholdevent_changelist")
                        + f"?worker__id__exact={worker.pk}"
                    )
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "title": "Hold, release or write off a worker's money",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/payments/hold.html", context)


@admin.register(WorkerHoldEvent)
class WorkerHoldEventAdmin(_ReadOnly):
    """The audit trail: who held, released or wrote off what, when and why."""

    list_display = [
        "created_at",
        "worker",
        "action",
        "amount_minor",
        "currency",
        "created_by",
        "reason",
        "entry",
    ]
    list_filter = ["action", "currency"]
    search_fields = ["worker__email", "reason"]
    list_select_related = ["worker", "created_by", "entry"]
    date_hierarchy = "created_at"


@admin.register(PayoutDetails)
class PayoutDetailsAdmin(_ReadOnly):
    """Which account a worker gave, masked; the full details go only into the batch CSV."""

    list_display = ["worker", "masked_account", "updated_at"]
    search_fields = ["worker__email"]
    list_select_related = ["worker"]
    fields = ("worker", "masked_account", "updated_at")
    readonly_fields = fields
