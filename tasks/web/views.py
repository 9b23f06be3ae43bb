"""Pages of the worker workspace and the requester console.

Thin by design: each view parses a form, calls one service or selector, and renders. htmx
requests (the task panel, the progress bar) get a fragment; everything else gets a full page,
so every action also works without JavaScript."""

from __future__ import annotations

import uuid
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import WorkerQualification
from marketplace.errors import DomainError, Forbidden
from payments import payouts
from payments import services as payments
from payments import stripe_gateway as gateway
from payments.fees import fee_for, fee_percent
from payments.ledger import InsufficientFunds
from payments.models import Bonus, ConnectedAccount, Payout
from payments.selectors import worker_earnings
from tasks import selectors, services
from tasks.models import Assignment, AssignmentStatus, Bundle, BundleStatus
from tasks.quality import services as quality
from tasks.quality.selectors import bundle_worker_report
from tasks.schema import InvalidAnswer

from . import charts, display
from .forms import (
    BUNDLE_ERROR_FIELDS,
    PAYOUT_ERROR_FIELDS,
    BundleCreateForm,
    ItemUploadForm,
    PayoutRequestForm,
    ReviewForm,
    WorkerBlockForm,
    answer_from_post,
)
from .markdown import render_markdown

PROGRESS_POLL_SECONDS = 2


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _role_required(role: str):
    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not getattr(request.user, f"is_{role}"):
                context = {"role": role}
                return render(request, "tasks/need_role.html", context, status=403)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


worker_required = _role_required("worker")
requester_required = _role_required("requester")


# ---------------------------------------------------------------------------------------------
# Worker workspace


@require_GET
@worker_required
def work_list(request: HttpRequest) -> HttpResponse:
    bundles = selectors.bundles_for_worker(request.user)
    medians = display.median_seconds_by_bundle([b.pk for b in bundles])
    approval = display.requester_approval_rates(b.requester_id for b in bundles)
    rows = []
    for bundle in bundles:
        median = medians.get(bundle.pk)
        hourly = display.hourly_minor(bundle, median)
        rows.append(
            {
                "bundle": bundle,
                "reward": display.money(bundle.reward_minor, bundle.currency),
                "tasks_left": bundle.tasks_left,
                "median": display.duration(median) if median else "",
                "hourly": display.money(hourly, bundle.currency) if hourly is not None else "",
                "time_limit": display.duration(bundle.time_limit_seconds),
                "requester_approval": (
                    f"{approval[bundle.requester_id]}%" if bundle.requester_id in approval else ""
                ),
            }
        )
    return render(request, "tasks/work/list.html", {"rows": rows})


def _task_context(bundle: Bundle, assignment: Assignment | None) -> dict[str, Any]:
    question = bundle.question
    context: dict[str, Any] = {
        "bundle": bundle,
        "question": question,
        "options": display.question_options(question),
        "reward": display.money(bundle.reward_minor, bundle.currency),
    }
    if assignment is not None:
        context["assignment"] = assignment
        context["fields"] = display.payload_fields(assignment.item.payload)
        context["deadline_iso"] = assignment.deadline.isoformat()
    context["instructions_html"] = render_markdown(bundle.instructions)
    return context


def _claim_next(bundle: Bundle, worker: Any) -> dict[str, Any]:
    """Claim the worker's next task here; the panel state says what happened."""
    try:
        assignment = services.assignment_claim(bundle=bundle, worker=worker)
    except services.NoTasksAvailable as exc:
        return {"state": "empty", "reason": exc.detail}
    except Forbidden as exc:
        return {"state": "blocked", "code": exc.code, "reason": exc.detail}
    return {"state": "task", "assignment": assignment}


def _render_panel(
    request: HttpRequest, bundle: Bundle, panel: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    context = {**_task_context(bundle, panel.get("assignment")), **panel}
    if _is_htmx(request):
        # htmx swaps only 2xx responses by default; errors are shown inside the panel.
        return render(request, "tasks/work/_panel.html", context)
    return render(request, "tasks/work/task.html", context, status=status)


@require_GET
@worker_required
def work_bundle(request: HttpRequest, bundle_id: int) -> HttpResponse:
    try:
        bundle = services.bundle_for_claim(bundle_id=bundle_id, worker=request.user)
    except DomainError:
        return render(request, "tasks/work/unavailable.html", status=404)
    standing = services.worker_standing(worker=request.user, bundle=bundle)
    panel: dict[str, Any]
    if not standing.allowed:
        panel = {"state": "blocked", "code": standing.code, "reason": standing.reason}
    elif standing.held_assignment_id is not None:
        held = get_object_or_404(
            selectors.assignments_of_worker(request.user), pk=standing.held_assignment_id
        )
        panel = {"state": "task", "assignment": held}
    elif bundle.status != BundleStatus.PUBLISHED:
        panel = {"state": "empty", "reason": f"This bundle is {bundle.get_status_display()}."}
    else:
        panel = {"state": "start"}
    return _render_panel(request, bundle, panel)


@require_POST
@worker_required
def work_next(request: HttpRequest, bundle_id: int) -> HttpResponse:
    try:
        bundle = services.bundle_for_claim(bundle_id=bundle_id, worker=request.user)
    except DomainError:
        return render(request, "tasks/work/unavailable.html", status=404)
    panel = _claim_next(bundle, request.user)
    if _is_htmx(request):
        return _render_panel(request, bundle, panel)
    return redirect("web:work-bundle", bundle_id=bundle.pk)


def _after_answer(
    request: HttpRequest, bundle: Bundle, feedback: dict[str, str] | None
) -> HttpResponse:
    """Show what happened to the last task, then the next one (or why there is none)."""
    panel = _claim_next(bundle, request.user)
    if _is_htmx(request):
        return _render_panel(request, bundle, {**panel, "feedback": feedback})
    if feedback:
        level = messages.SUCCESS if feedback["kind"] == "ok" else messages.WARNING
        messages.add_message(request, level, feedback["text"])
    return redirect("web:work-bundle", bundle_id=bundle.pk)


@require_POST
@worker_required
def work_submit(request: HttpRequest, assignment_id: int) -> HttpResponse:
    assignment = get_object_or_404(selectors.assignments_of_worker(request.user), pk=assignment_id)
    bundle = assignment.bundle
    try:
        answer = answer_from_post(bundle.question, request.POST)
        submitted = services.assignment_submit(
            assignment_id=assignment.pk, worker=request.user, answer=answer
        )
    except InvalidAnswer as exc:
        panel = {"state": "task", "assignment": assignment, "error": exc.detail}
        return _render_panel(request, bundle, panel, status=400)
    except DomainError as exc:  # expired, returned meanwhile, submitted twice
        return _after_answer(request, bundle, {"kind": "warn", "text": exc.detail})
    feedback = {"kind": "ok", "text": "Answer saved."}
    if bundle.gold_feedback and submitted.is_gold:
        # Correct or incorrect only: the gold answer itself never leaves the server.
        if submitted.gold_correct:
            feedback = {"kind": "ok", "text": "Answer saved. Quality check: correct."}
        else:
            feedback = {"kind": "warn", "text": "Answer saved. Quality check: incorrect."}
    return _after_answer(request, bundle, feedback)


@require_POST
@worker_required
def work_skip(request: HttpRequest, assignment_id: int) -> HttpResponse:
    assignment = get_object_or_404(selectors.assignments_of_worker(request.user), pk=assignment_id)
    try:
        services.assignment_return(assignment_id=assignment.pk, worker=request.user)
    except DomainError as exc:
        return _after_answer(request, assignment.bundle, {"kind": "warn", "text": exc.detail})
    return _after_answer(request, assignment.bundle, {"kind": "ok", "text": "Task skipped."})


def _earnings_context(worker: Any, request: HttpRequest) -> dict[str, Any]:
    earnings_rows = worker_earnings(worker_id=worker.pk)
    balances = [
        {
            "currency": row["currency"].upper(),
            "available": display.money(row["available"], row["currency"]),
            "in_flight": display.money(row["in_flight"], row["currency"]),
            "paid_out": display.money(row["paid_out"], row["currency"]),
        }
        for row in earnings_rows
    ]
    history = selectors.assignments_of_worker(worker).exclude(status=AssignmentStatus.CLAIMED)
    page = Paginator(history, 50).get_page(request.GET.get("page"))
    rows = [
        {
            "assignment": a,
            "reward": display.money(a.bundle.reward_minor, a.bundle.currency),
            "answer": display.answer_text(a.bundle.question, a.answer),
        }
        for a in page
    ]
    bonuses = [
        {"bonus": b, "amount": display.money(b.amount_minor, b.currency)}
        for b in Bonus.objects.filter(worker=worker).order_by("-created_at")[:50]
    ]
    payout_rows = [
        {"payout": p, "amount": display.money(p.amount_minor, p.currency)}
        for p in Payout.objects.filter(worker=worker).order_by("-id")[:50]
    ]
    stripe_on = gateway.is_configured()
    account = ConnectedAccount.objects.filter(worker=worker).first() if stripe_on else None
    currency = earnings_rows[0]["currency"] if earnings_rows else "usd"
    return {
        "balances": balances,
        "rows": rows,
        "page": page,
        "bonuses": bonuses,
        "payouts": payout_rows,
        "stripe_on": stripe_on,
        "payout_account": account,
        "payout_ready": (account is not None and account.ready) if stripe_on else True,
        "payout_minimum": display.money(payouts.payout_minimum(), currency),
        "payout_form": PayoutRequestForm(
            initial={"currency": currency, "request_key": uuid.uuid4().hex}
        ),
    }


@require_GET
@worker_required
def earnings(request: HttpRequest) -> HttpResponse:
    return render(request, "tasks/work/earnings.html", _earnings_context(request.user, request))


@require_POST
@worker_required
def payout_request(request: HttpRequest) -> HttpResponse:
    """Request a payout (Stripe transfer, or the manual bank-transfer batch without Stripe)."""
    form = PayoutRequestForm(request.POST)
    if form.is_valid():
        currency = form.cleaned_data["currency"]
        try:
            payout = payouts.payout_request(
                worker=request.user,
                currency=currency,
                amount_minor=int(form.cleaned_data["amount"] * 100),  # 2-decimal currencies
                request_key=f"web-{request.user.pk}-{form.cleaned_data['request_key']}",
            )
        except DomainError as exc:
            detail = exc.detail
            if exc.code in ("payout_below_minimum", "insufficient_funds"):
                minimum = display.money(exc.extra.get("minimum_minor"), currency)
                available = display.money(exc.extra.get("available_minor"), currency)
                detail = (
                    f"Enter between {minimum} (the minimum) and {available} (your available "
                    "balance)."
                )
            form.add_error(PAYOUT_ERROR_FIELDS.get(exc.code), detail)
        else:
            amount = display.money(payout.amount_minor, payout.currency)
            how = "by Stripe" if payout.method == "stripe" else "in the next bank-transfer batch"
            messages.success(request, f"Payout of {amount} requested; it is paid {how}.")
            return redirect("web:earnings")
    context = {**_earnings_context(request.user, request), "payout_form": form}
    return render(request, "tasks/work/earnings.html", context, status=400)


@require_POST
@worker_required
def payout_setup(request: HttpRequest) -> HttpResponse:
    """Send the worker to Stripe's onboarding for their payout account (a fresh link)."""
    try:
        url = payouts.payout_account_onboard(worker=request.user)
    except DomainError as exc:
        messages.error(request, exc.detail)
        return redirect("web:earnings")
    return redirect(url)


@require_GET
@worker_required
def worker_profile(request: HttpRequest) -> HttpResponse:
    """The worker's own standing: account status, review record, qualifications, payouts."""
    profile = request.user.worker_profile
    grants = (
        WorkerQualification.objects.filter(worker=request.user)
        .select_related("qualification")
        .order_by("qualification__name", "qualification_id")
    )
    qualifications = [
        {
            "name": g.qualification.name,
            "description": g.qualification.description,
            "value": g.value,
            "source": "Platform" if g.qualification.owner_id is None else "Requester",
        }
        for g in grants
    ]
    account = ConnectedAccount.objects.filter(worker=request.user).first()
    context = {
        "profile": profile,
        "reviewed": profile.approved_count + profile.rejected_count,
        "qualifications": qualifications,
        "payout_account": account,
        "stripe_on": gateway.is_configured(),
    }
    return render(request, "tasks/work/profile.html", context)


# ---------------------------------------------------------------------------------------------
# Requester console


def _own_bundle(request: HttpRequest, bundle_id: int) -> Bundle:
    return get_object_or_404(selectors.bundles_of_requester(request.user), pk=bundle_id)


@require_GET
@requester_required
def bundle_list(request: HttpRequest) -> HttpResponse:
    bundles = list(selectors.bundles_of_requester(request.user)[:200])
    rows = [
        {
            "bundle": b,
            "reward": display.money(b.reward_minor, b.currency),
            "progress": selectors.bundle_progress(b),
        }
        for b in bundles
    ]
    return render(request, "tasks/console/list.html", {"rows": rows})


@require_http_methods(["GET", "POST"])
@requester_required
def bundle_create(request: HttpRequest) -> HttpResponse:
    form = BundleCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            bundle = services.bundle_create(requester=request.user, data=form.service_data())
        except DomainError as exc:
            form.add_error(BUNDLE_ERROR_FIELDS.get(exc.code), exc.detail)
        else:
            messages.success(request, "Bundle created as a draft. Upload items, then publish.")
            return redirect("web:bundle-detail", bundle_id=bundle.pk)
    context = {
        "form": form,
        "fee_percent": fee_percent(),
        "instructions_html": render_markdown(request.POST.get("instructions", "")),
    }
    return render(request, "tasks/console/create.html", context, status=400 if form.errors else 200)


def _progress_context(bundle: Bundle) -> dict[str, Any]:
    progress = selectors.bundle_progress(bundle)
    total, done = progress["items_total"], progress["items_complete"]
    return {
        "bundle": bundle,
        "progress": progress,
        "percent": (done * 100 // total) if total else 0,
        "polling": bundle.status in (BundleStatus.PUBLISHED, BundleStatus.PAUSED),
        "poll_seconds": PROGRESS_POLL_SECONDS,
    }


def _detail_context(bundle: Bundle, **extra: Any) -> dict[str, Any]:
    context = _progress_context(bundle)
    currency = bundle.currency
    per_judgment = bundle.reward_minor + fee_for(bundle.reward_minor)
    real, gold = services.judgments_to_reserve(bundle, context["progress"]["items_total"])
    context.update(
        {
            "reward": display.money(bundle.reward_minor, currency),
            "fee": display.money(fee_for(bundle.reward_minor), currency),
            "fee_percent": fee_percent(),
            "per_judgment": display.money(per_judgment, currency),
            "judgments": real + gold,
            "gold_judgments": gold,
            "total_cost": display.money((real + gold) * per_judgment, currency),
            "available": display.money(
                payments.requester_available(requester_id=bundle.requester_id, currency=currency),
                currency,
            ),
            "escrow": display.money(
                payments.escrow_balance(bundle_id=bundle.pk, currency=currency), currency
            ),
            "can_upload": bundle.status
            in (BundleStatus.DRAFT, BundleStatus.PUBLISHED, BundleStatus.PAUSED),
            "preview": [
                {"item": item, "fields": display.payload_fields(item.payload)}
                for item in bundle.items.order_by("id")[:5]
            ],
            "downloads": [
                (fmt.upper(), reverse("bundle-results", args=[bundle.pk]) + f"?format={fmt}")
                for fmt in ("csv", "jsonl", "json")
            ],
            "upload_form": ItemUploadForm(),
            "instructions_html": render_markdown(bundle.instructions),
        }
    )
    context.update(_quality_context(bundle, extra.pop("block_forms", None)))
    context.update(extra)
    return context


# A bundle page lists this many workers (most active first); the API pages through all of them.
WORKERS_SHOWN = 200


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _worker_rows(
    bundle: Bundle, block_forms: dict[str, WorkerBlockForm] | None = None
) -> list[dict[str, Any]]:
    """The bundle's workers with their quality (`bundle_worker_report`), shown by the id this
    requester sees, each with its own block form (bound when that block just failed)."""
    block_forms = block_forms or {}
    rows = []
    for report in bundle_worker_report(bundle)[:WORKERS_SHOWN]:
        public_id = selectors.worker_public_id(bundle.requester_id, report["worker_id"])
        low, high = report["gold_accuracy_low"], report["gold_accuracy_high"]
        rows.append(
            {
                **report,
                "public_id": public_id,
                "gold_text": _percent(report["gold_accuracy"]),
                "gold_interval": f"{_percent(low)}–{_percent(high)}" if low is not None else "",
                "agreement_text": _percent(report["consensus_agreement"]),
                "median_text": display.duration(report["median_seconds"]),
                "block_form": block_forms.get(public_id) or WorkerBlockForm(prefix=public_id),
            }
        )
    return rows


def _quality_context(
    bundle: Bundle, block_forms: dict[str, WorkerBlockForm] | None = None
) -> dict[str, Any]:
    workers = _worker_rows(bundle, block_forms)
    return {
        "workers": workers,
        "workers_shown": WORKERS_SHOWN,
        "label_chart": charts.label_chart(bundle),
        "accuracy_chart": charts.accuracy_chart(workers),
    }


def _worker_of_bundle(bundle: Bundle, public_id: str) -> int:
    """The worker behind a public id, among the bundle's workers; 404 for anyone else."""
    for worker_id in selectors.bundle_worker_stats(bundle).values_list("worker_id", flat=True):
        if selectors.worker_public_id(bundle.requester_id, worker_id) == public_id:
            return worker_id
    raise Http404("No such worker in this bundle.")


@require_POST
@requester_required
def worker_block(request: HttpRequest, bundle_id: int, public_id: str) -> HttpResponse:
    bundle = _own_bundle(request, bundle_id)
    worker_id = _worker_of_bundle(bundle, public_id)
    form = WorkerBlockForm(request.POST, prefix=public_id)
    if form.is_valid():
        try:
            quality.worker_block(
                worker_id=worker_id,
                bundle_id=bundle.pk,
                reason=form.cleaned_data["reason"],
                by=request.user,
            )
        except DomainError as exc:
            form.add_error("reason", exc.detail)
        else:
            messages.success(request, f"Blocked worker {public_id} from this bundle.")
            return redirect(reverse("web:bundle-detail", args=[bundle.pk]) + "#workers")
    context = _detail_context(bundle, block_forms={public_id: form})
    return render(request, "tasks/console/detail.html", context, status=400)


@require_POST
@requester_required
def worker_unblock(request: HttpRequest, bundle_id: int, public_id: str) -> HttpResponse:
    bundle = _own_bundle(request, bundle_id)
    worker_id = _worker_of_bundle(bundle, public_id)
    try:
        quality.worker_unblock(worker_id=worker_id, bundle_id=bundle.pk, by=request.user)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Unblocked worker {public_id}.")
    return redirect(reverse("web:bundle-detail", args=[bundle.pk]) + "#workers")


@require_POST
@requester_required
def instructions_preview(request: HttpRequest) -> HttpResponse:
    """The create form's instructions as workers will see them (htmx fragment)."""
    text = request.POST.get("instructions", "")[:20_000]
    return render(
        request, "tasks/console/_instructions_preview.html", {"html": render_markdown(text)}
    )


@require_GET
@requester_required
def bundle_detail(request: HttpRequest, bundle_id: int) -> HttpResponse:
    bundle = _own_bundle(request, bundle_id)
    return render(request, "tasks/console/detail.html", _detail_context(bundle))


@require_GET
@requester_required
def bundle_progress(request: HttpRequest, bundle_id: int) -> HttpResponse:
    bundle = _own_bundle(request, bundle_id)
    return render(request, "tasks/console/_progress.html", _progress_context(bundle))


@require_POST
@requester_required
def bundle_upload(request: HttpRequest, bundle_id: int) -> HttpResponse:
    bundle = _own_bundle(request, bundle_id)
    form = ItemUploadForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            summary = services.bundle_add_items(
                bundle=bundle,
                by=request.user,
                source=upload,
                content_type=upload.content_type,
                filename=upload.name,
            )
        except DomainError as exc:
            # Upload errors name the row (and line) at fault: "Row 17 (line 18): ...".
            form.add_error("file", exc.detail)
        else:
            gold = f" ({summary.gold} gold)" if summary.gold else ""
            messages.success(request, f"Uploaded {summary.created} items{gold}.")
            return redirect("web:bundle-detail", bundle_id=bundle.pk)
    context = _detail_context(bundle, upload_form=form)
    return render(request, "tasks/console/detail.html", context, status=400)


@require_POST
@requester_required
def bundle_publish(request: HttpRequest, bundle_id: int) -> HttpResponse:
    bundle = _own_bundle(request, bundle_id)
    try:
        services.bundle_publish(bundle=bundle, by=request.user)
    except InsufficientFunds as exc:
        missing = display.money(exc.extra.get("missing_minor"), bundle.currency)
        error = f"Not enough funds to publish: {missing} missing. Top up your balance and retry."
        context = _detail_context(bundle, publish_error=error)
        return render(request, "tasks/console/detail.html", context, status=402)
    except DomainError as exc:
        context = _detail_context(bundle, publish_error=exc.detail)
        return render(request, "tasks/console/detail.html", context, status=409)
    messages.success(request, "Published: workers can now find this bundle.")
    return redirect("web:bundle-detail", bundle_id=bundle.pk)


@require_POST
@requester_required
def bundle_state(request: HttpRequest, bundle_id: int, action: str) -> HttpResponse:
    """Pause, resume or cancel."""
    bundle = _own_bundle(request, bundle_id)
    service = {
        "pause": services.bundle_pause,
        "resume": services.bundle_resume,
        "cancel": services.bundle_cancel,
    }[action]
    try:
        service(bundle=bundle, by=request.user)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Bundle {bundle.title!r}: {action} done.")
    return redirect("web:bundle-detail", bundle_id=bundle.pk)


REVIEW_PAGE = 200


@require_http_methods(["GET", "POST"])
@requester_required
def bundle_review(request: HttpRequest, bundle_id: int) -> HttpResponse:
    bundle = _own_bundle(request, bundle_id)
    pending = (
        selectors.assignments_of_requester(request.user)
        .filter(bundle=bundle, status=AssignmentStatus.SUBMITTED)
        .order_by("submitted_at", "id")
    )
    pending_ids = list(pending.values_list("id", flat=True))
    form = ReviewForm(request.POST or None, assignment_ids=pending_ids)
    if request.method == "POST" and form.is_valid():
        approve = form.cleaned_data["action"] == "approve"
        summary = services.assignments_review(
            requester=request.user,
            assignment_ids=form.cleaned_data["ids"],
            approve=approve,
            reason=form.cleaned_data.get("reason", ""),
        )
        if summary.done:
            verb = "Approved" if approve else "Rejected"
            messages.success(request, f"{verb} {len(summary.done)} answer(s).")
        for assignment_id, error in summary.errors.items():
            messages.error(request, f"Answer #{assignment_id}: {error['detail']}")
        return redirect("web:bundle-review", bundle_id=bundle.pk)
    selected = {int(v) for v in request.POST.getlist("ids") if v.isdigit()}
    rows = [
        {
            "assignment": a,
            "checked": a.pk in selected,
            "fields": display.payload_fields(a.item.payload),
            "answer": display.answer_text(bundle.question, a.answer),
            "worker": selectors.worker_public_id(bundle.requester_id, a.worker_id),
            "seconds": display.duration(a.seconds_spent),
        }
        for a in pending[:REVIEW_PAGE]
    ]
    context = {"bundle": bundle, "rows": rows, "form": form, "total": len(pending_ids)}
    return render(request, "tasks/console/review.html", context, status=400 if form.errors else 200)
