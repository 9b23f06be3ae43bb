"""Fair pay and due process pages (issue 15).

Workers: "Pay & appeals" (effective hourly pay per bundle, blocks on them, their appeals and
reports), appealing a rejection or a block, reporting a bundle. Requesters: "Appeals & blocks"
(appeals to answer, reports on their bundles, their blocks and block list), and the answer to
a pilot below the pay floor on the bundle page (`templatetags/fairness.py` draws that part).
Each view parses a form, calls one service and redirects; a refusal is a message."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from marketplace.errors import DomainError
from tasks.fairness import appeals, blocks, payfloor_actions, reports
from tasks.fairness.selectors import worker_pay_history
from tasks.models import Appeal, AppealStatus, Assignment, Bundle, ReportReason, WorkerBlock
from tasks.selectors import worker_public_id

from ..money import money
from .common import requester_required, signed_in_user, worker_required


class AppealForm(forms.Form):
    message = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=4000,
        label="Why should this be reconsidered?",
    )


class ReportForm(forms.Form):
    reason = forms.ChoiceField(choices=ReportReason.choices, label="What is wrong?")
    message = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), max_length=4000, required=False,
        label="Details (optional)",
    )  # fmt: skip


class AnswerForm(forms.Form):
    decision = forms.ChoiceField(choices=[("overturn", "Overturn"), ("uphold", "Uphold")])
    reason = forms.CharField(max_length=4000, required=False)


class BlockListForm(forms.Form):
    worker_id = forms.CharField(max_length=64, label="Worker (pseudonym, w_…)")
    reason = forms.CharField(max_length=2000, label="Reason the worker reads")


def _refused(request: HttpRequest, exc: DomainError) -> None:
    messages.error(request, exc.detail)


# ---------------------------------------------------------------------------------------------
# Workers


@require_GET
@worker_required
def worker_fairness(request: HttpRequest) -> HttpResponse:
    worker = signed_in_user(request)
    pay = [
        {
            "row": row,
            "hourly": money(row.hourly_minor, row.currency) if row.hourly_minor else "",
            "floor": money(row.floor_hourly_minor, row.currency),
            "earned": money(row.rewards_minor + row.topups_minor, row.currency),
            "topups": money(row.topups_minor, row.currency) if row.topups_minor else "",
        }
        for row in worker_pay_history(worker)
    ]
    context = {
        "pay": pay,
        "blocks": blocks.worker_blocks(worker),
        "appeals": Appeal.objects.filter(worker=worker).select_related(
            "assignment__bundle", "block__bundle"
        ),
        "reports": reports.reports_for(worker).filter(worker=worker),
        "open_block_appeals": set(
            Appeal.objects.filter(
                worker=worker, status=AppealStatus.OPEN, block__isnull=False
            ).values_list("block_id", flat=True)
        ),
    }
    return render(request, "web/fairness/worker.html", context)


@require_http_methods(["GET", "POST"])
@worker_required
def appeal_rejection(request: HttpRequest, assignment_id: int) -> HttpResponse:
    worker = signed_in_user(request)
    assignment = get_object_or_404(
        Assignment.objects.select_related("bundle"), pk=assignment_id, worker=worker
    )
    form = AppealForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            appeals.appeal_rejection(
                worker=worker, assignment_id=assignment.pk, message=form.cleaned_data["message"]
            )
        except DomainError as exc:
            _refused(request, exc)
        else:
            messages.success(request, "Appeal sent. The requester has 7 days to answer.")
            return redirect("web:worker-fairness")
    context = {"assignment": assignment, "form": form}
    return render(request, "web/fairness/appeal.html", context, status=400 if form.errors else 200)


@require_POST
@worker_required
def appeal_block(request: HttpRequest, block_id: int) -> HttpResponse:
    form = AppealForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why in a message.")
        return redirect("web:worker-fairness")
    try:
        appeals.appeal_block(
            worker=signed_in_user(request), block_id=block_id,
            message=form.cleaned_data["message"],
        )  # fmt: skip
    except DomainError as exc:
        _refused(request, exc)
    else:
        messages.success(request, "Appeal sent.")
    return redirect("web:worker-fairness")


@require_http_methods(["GET", "POST"])
@worker_required
def report_bundle(request: HttpRequest, bundle_id: int) -> HttpResponse:
    bundle = get_object_or_404(Bundle.objects.exclude(status="draft"), pk=bundle_id)
    form = ReportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            reports.bundle_report(
                worker=signed_in_user(request), bundle_id=bundle.pk,
                reason=form.cleaned_data["reason"], message=form.cleaned_data["message"],
            )  # fmt: skip
        except DomainError as exc:
            _refused(request, exc)
        else:
            messages.success(request, "Thank you: the requester and the platform's admins see it.")
            return redirect("web:worker-fairness")
    return render(request, "web/fairness/report.html", {"bundle": bundle, "form": form})


# ---------------------------------------------------------------------------------------------
# Requesters


@require_GET
@requester_required
def requester_fairness(request: HttpRequest) -> HttpResponse:
    requester = signed_in_user(request)
    to_answer = appeals.appeals_to_answer(requester).filter(requester=requester)
    rows = [
        {"appeal": appeal, "worker": worker_public_id(requester.pk, appeal.worker_id)}
        for appeal in to_answer.order_by("-status", "answer_due_at")
    ]
    made = WorkerBlock.objects.filter(requester=requester).select_related("bundle")
    context = {
        "appeals": rows,
        "reports": [
            {"report": r, "worker": worker_public_id(requester.pk, r.worker_id)}
            for r in reports.reports_for(requester).filter(bundle__requester=requester)[:200]
        ],
        "blocks": [
            {"block": b, "worker": worker_public_id(requester.pk, b.worker_id)}
            for b in made.order_by(F("lifted_at").asc(nulls_first=True), "-created_at")[:200]
        ],
        "block_form": BlockListForm(),
    }
    return render(request, "web/fairness/requester.html", context)


@require_POST
@requester_required
def appeal_answer(request: HttpRequest, appeal_id: int) -> HttpResponse:
    form = AnswerForm(request.POST)
    if form.is_valid():
        try:
            appeals.appeal_answer(
                appeal_id=appeal_id, by=signed_in_user(request),
                overturn=form.cleaned_data["decision"] == "overturn",
                reason=form.cleaned_data["reason"],
            )  # fmt: skip
        except DomainError as exc:
            _refused(request, exc)
        else:
            messages.success(request, "Appeal answered; the worker is told.")
    return redirect("web:requester-fairness")


@require_POST
@requester_required
def block_list_add(request: HttpRequest) -> HttpResponse:
    form = BlockListForm(request.POST)
    if form.is_valid():
        requester = signed_in_user(request)
        try:
            worker = blocks.requester_worker(requester, form.cleaned_data["worker_id"])
            blocks.block_across_requester(
                requester=requester, worker=worker, reason=form.cleaned_data["reason"]
            )
        except DomainError as exc:
            _refused(request, exc)
        else:
            messages.success(request, "Blocked from all your bundles.")
    return redirect("web:requester-fairness")


@require_POST
@requester_required
def block_lift(request: HttpRequest, block_id: int) -> HttpResponse:
    try:
        blocks.block_lift(
            block_id=block_id, by=signed_in_user(request), reason=request.POST.get("reason", "")
        )
    except DomainError as exc:
        _refused(request, exc)
    else:
        messages.success(request, "Block lifted.")
    return redirect("web:requester-fairness")


@require_POST
@requester_required
def bundle_pay_floor(request: HttpRequest, bundle_id: int) -> HttpResponse:
    requester = signed_in_user(request)
    try:
        if request.POST.get("action") == "raise_reward":
            reward = int(request.POST.get("reward", "0") or 0)
            payfloor_actions.payfloor_raise_reward(
                requester=requester, bundle_id=bundle_id, reward_minor=reward
            )
        else:
            payfloor_actions.payfloor_confirm_topup(requester=requester, bundle_id=bundle_id)
    except (DomainError, ValueError) as exc:
        messages.error(request, getattr(exc, "detail", "Give the reward in cents."))
    else:
        messages.success(request, "The bundle pays the floor now and is live again.")
    return redirect("web:bundle-detail", bundle_id=bundle_id)
