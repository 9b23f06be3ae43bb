"""The worker workspace: find work, the task page, profile (earnings and payouts: money.py)."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.models import WorkerQualification
from marketplace.errors import DomainError, Forbidden
from payments import stripe_gateway as gateway
from payments.models import ConnectedAccount
from tasks import selectors, services, work
from tasks.assist.selectors import assignment_prelabel
from tasks.models import Assignment, Bundle, BundleStatus
from tasks.schema import InvalidAnswer

from .. import annotation, display
from ..forms import answer_from_post
from ..markdown import render_markdown
from ..money import money
from .common import _is_htmx, worker_required

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
                "reward": money(bundle.reward_minor, bundle.currency),
                "tasks_left": bundle.tasks_left,
                "median": display.duration(median) if median else "",
                "hourly": money(hourly, bundle.currency) if hourly is not None else "",
                "time_limit": display.duration(bundle.time_limit_seconds),
                "requester_approval": (
                    f"{approval[bundle.requester_id]}%" if bundle.requester_id in approval else ""
                ),
            }
        )
    return render(request, "web/work/list.html", {"rows": rows})


def _task_context(bundle: Bundle, assignment: Assignment | None) -> dict[str, Any]:
    question = bundle.question
    context: dict[str, Any] = {
        "bundle": bundle,
        "question": question,
        "options": display.question_options(question),
        "annotating": annotation.is_annotation(question),
        "reward": money(bundle.reward_minor, bundle.currency),
    }
    if assignment is not None:
        payload = assignment.item.payload
        context["assignment"] = assignment
        context["fields"] = display.task_fields(question, assignment.item_id, payload)
        if annotation.is_annotation(question):
            context["tool"] = annotation.tool_config(
                question, display.tool_payload(assignment.item_id, payload)
            )
        context["deadline_iso"] = assignment.deadline.isoformat()
        context["prelabel"] = prelabel_display(question, assignment_prelabel(assignment))
    context["instructions_html"] = render_markdown(bundle.instructions)
    return context


def prelabel_display(question: dict[str, Any], prelabel: dict[str, Any] | None) -> Any:
    """The model's suggestion as the worker reads it: the choice's label (not its value) and
    the confidence in percent; None without one."""
    if prelabel is None:
        return None
    names = {c["value"]: c.get("label", c["value"]) for c in question.get("choices", [])}
    shown = names.get(prelabel["label"], prelabel["label"])
    return {"label": shown, "percent": round(100 * prelabel["confidence"])}


def _claim_next(bundle: Bundle, worker: Any) -> dict[str, Any]:
    """Claim the worker's next task here; the panel state says what happened."""
    try:
        assignment = work.assignment_claim(bundle=bundle, worker=worker)
    except (work.NoTasksAvailable, Forbidden) as exc:
        return _no_task_panel(exc)
    return {"state": "task", "assignment": assignment}


def _no_task_panel(exc: DomainError) -> dict[str, Any]:
    if isinstance(exc, Forbidden):
        return {"state": "blocked", "code": exc.code, "reason": exc.detail}
    return {"state": "empty", "reason": exc.detail}


def _render_panel(
    request: HttpRequest, bundle: Bundle, panel: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    context = {**_task_context(bundle, panel.get("assignment")), **panel}
    if "tool" in context and panel.get("posted") is not None:
        # A refused answer comes back drawn as it was, so the worker fixes it, not redoes it.
        context["tool"] = {**context["tool"], "initial": panel["posted"]}
    if _is_htmx(request):
        # htmx swaps only 2xx responses by default; errors are shown inside the panel.
        return render(request, "web/work/_panel.html", context)
    return render(request, "web/work/task.html", context, status=status)


@require_GET
@worker_required
def work_bundle(request: HttpRequest, bundle_id: int) -> HttpResponse:
    try:
        bundle = services.bundle_for_claim(bundle_id=bundle_id, worker=request.user)
    except DomainError:
        return render(request, "web/work/unavailable.html", status=404)
    standing = work.worker_standing(worker=request.user, bundle=bundle)
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
        return render(request, "web/work/unavailable.html", status=404)
    panel = _claim_next(bundle, request.user)
    if _is_htmx(request):
        return _render_panel(request, bundle, panel)
    return redirect("web:work-bundle", bundle_id=bundle.pk)


def _after_answer(
    request: HttpRequest,
    bundle: Bundle,
    feedback: dict[str, str] | None,
    panel: dict[str, Any] | None = None,
) -> HttpResponse:
    """Show what happened to the last task, then the next one (or why there is none)."""
    panel = panel or _claim_next(bundle, request.user)
    if _is_htmx(request):
        return _render_panel(request, bundle, {**panel, "feedback": feedback})
    if feedback:
        level = messages.SUCCESS if feedback["kind"] == "ok" else messages.WARNING
        text = feedback["text"]
        if feedback.get("expected"):
            text += f" Expected answer: {feedback['expected'][:500]}"
        messages.add_message(request, level, text)
    return redirect("web:work-bundle", bundle_id=bundle.pk)


@require_POST
@worker_required
def work_submit(request: HttpRequest, assignment_id: int) -> HttpResponse:
    assignment = get_object_or_404(selectors.assignments_of_worker(request.user), pk=assignment_id)
    bundle = assignment.bundle
    try:
        answer = answer_from_post(bundle.question, request.POST, payload=assignment.item.payload)
        # The answer and the next task in one go (one statement when nothing stands between).
        result = services.assignment_submit_and_claim_next(
            assignment_id=assignment.pk, worker=request.user, answer=answer, bundle=bundle
        )
    except InvalidAnswer as exc:
        panel = {"state": "task", "assignment": assignment, "error": exc.detail}
        if annotation.is_annotation(bundle.question):
            panel["posted"] = annotation.posted_shapes(bundle.question, request.POST)
        return _render_panel(request, bundle, panel, status=400)
    except DomainError as exc:  # expired, returned meanwhile, submitted twice
        return _after_answer(request, bundle, {"kind": "warn", "text": exc.detail})
    submitted = result.submitted
    feedback: dict[str, Any] = {"kind": "ok", "text": "Answer saved."}
    gold = selectors.gold_feedback_for(submitted, bundle)
    if gold is not None:
        # Correct or incorrect; the gold answer itself leaves the server only on annotation
        # bundles that show it (gold_feedback_expected), and only now, after the answer.
        if gold.correct:
            feedback = {"kind": "ok", "text": "Answer saved. Quality check: correct."}
        else:
            feedback = {"kind": "warn", "text": "Answer saved. Quality check: incorrect."}
        if gold.shows_expected:
            feedback["expected"] = json.dumps(gold.expected, ensure_ascii=False)
            feedback["score"] = gold.score
    if result.next is not None:
        panel = {"state": "task", "assignment": result.next}
    else:
        panel = _no_task_panel(result.no_next)
    return _after_answer(request, bundle, feedback, panel)


@require_POST
@worker_required
def work_skip(request: HttpRequest, assignment_id: int) -> HttpResponse:
    assignment = get_object_or_404(selectors.assignments_of_worker(request.user), pk=assignment_id)
    try:
        work.assignment_return(assignment_id=assignment.pk, worker=request.user)
    except DomainError as exc:
        return _after_answer(request, assignment.bundle, {"kind": "warn", "text": exc.detail})
    return _after_answer(request, assignment.bundle, {"kind": "ok", "text": "Task skipped."})


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
    return render(request, "web/work/profile.html", context)
