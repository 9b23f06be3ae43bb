"""The worker workspace: find work, the task page, profile (earnings and payouts: money.py)."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import self_declared
from accounts.models import WorkerQualification
from marketplace.csp import HIT_PAGE_POLICY
from marketplace.errors import DomainError, Forbidden
from marketplace.mturk.worker import preview_item
from payments import stripe_gateway as gateway
from payments.models import ConnectedAccount
from tasks import selectors, services, work
from tasks.assist.selectors import assignment_prelabel
from tasks.find_work import offers_matching, work_offers
from tasks.models import Assignment, Bundle, BundleStatus
from tasks.quality.exams import exam_result
from tasks.quality.machine_signals import TEXT_TYPES
from tasks.quality.rules_engine import ACTION_LABELS
from tasks.schema import InvalidAnswer

from .. import annotation, display, find_work, hits
from ..forms import answer_from_post
from ..markdown import render_markdown
from ..money import money
from ..profile_forms import WorkerProfileForm
from .common import _is_htmx, signed_in_user, worker_required

# ---------------------------------------------------------------------------------------------
# Worker workspace


FIND_WORK_PAGE = 30


@require_GET
@worker_required
def work_list(request: HttpRequest) -> HttpResponse:
    """Bundles open to the worker: search, filters, sort (`find_work`), 30 to a page."""
    offers = work_offers(request.user)
    form = find_work.FindWorkForm(
        request.GET or None,
        requesters={o.bundle.requester_id: o.requester_name for o in offers},
        types=sorted({o.question_type for o in offers}),
    )
    criteria = find_work.criteria_from_form(form.cleaned_data if form.is_valid() else {})
    page = Paginator(offers_matching(offers, criteria), FIND_WORK_PAGE).get_page(
        request.GET.get("page")
    )
    rows = find_work.work_rows(list(page.object_list))
    context = {"form": form, "page": page, "rows": rows, "total": len(offers)}
    return render(request, "web/work/list.html", context)


@require_GET
@worker_required
def work_preview(request: HttpRequest, bundle_id: int) -> HttpResponse:
    """A bundle before accepting: instructions, pay, the requester, and the task page for one
    sample item that is never gold (nothing of a gold item or answer reaches the page)."""
    bundle = selectors.bundle_for_worker(request.user, bundle_id)
    if bundle is None:
        return render(request, "web/work/unavailable.html", status=404)
    bundle.tasks_left = selectors.tasks_left_for_worker(request.user, bundle)  # type: ignore[attr-defined]
    row = find_work.preview_row(bundle)
    sample = selectors.bundle_sample_item(bundle)
    context = {**_task_context(request, bundle, None), "row": row, "sample": sample}
    if sample is not None:
        context["fields"] = display.task_fields(bundle.question, sample.pk, sample.payload)
        if annotation.is_annotation(bundle.question):
            payload = display.tool_payload(sample.pk, sample.payload)
            context["tool"] = annotation.tool_config(bundle.question, payload)
        if hits.is_hit_bundle(bundle.question):  # a HIT previews as MTurk's preview does
            context["fields"] = []
            context["hit"] = hits.hit_view(request, sample, None)
    response = render(request, "web/work/preview.html", context)
    if hits.is_hit_bundle(bundle.question):
        response["Content-Security-Policy"] = HIT_PAGE_POLICY  # HITs come in frames
    return response


def _task_context(
    request: HttpRequest, bundle: Bundle, assignment: Assignment | None
) -> dict[str, Any]:
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
        # Text answers: the page reports pastes and typing time with the answer (signals), and
        # carries the bundle's hidden agent instruction, if any (not shown to people).
        context["records_signals"] = question["type"] in TEXT_TYPES
        context["agent_canary"] = bundle.agent_canary
        if hits.is_hit_bundle(question):  # the HIT shows its own content, not the raw XML
            context["fields"] = []
            context["hit"] = hits.hit_view(request, assignment.item, assignment)
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
    context = {**_task_context(request, bundle, panel.get("assignment")), **panel}
    if hits.is_hit_bundle(bundle.question) and panel["state"] == "start":
        item = preview_item(bundle.pk)  # MTurk's preview before accepting
        context["hit"] = hits.hit_view(request, item, None) if item is not None else None
    if bundle.exam:
        context["exam_result"] = exam_result(worker_id=request.user.pk, bundle=bundle)
    if "tool" in context and panel.get("posted") is not None:
        # A refused answer comes back drawn as it was, so the worker fixes it, not redoes it.
        context["tool"] = {**context["tool"], "initial": panel["posted"]}
    if _is_htmx(request):
        # htmx swaps only 2xx responses by default; errors are shown inside the panel.
        response = render(request, "web/work/_panel.html", context)
    else:
        response = render(request, "web/work/task.html", context, status=status)
    if hits.is_hit_bundle(bundle.question):
        response["Content-Security-Policy"] = HIT_PAGE_POLICY  # HITs come in frames
    return response


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
        if feedback.get("explanation"):
            text += f" Why: {feedback['explanation'][:2000]}"
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
        payload = assignment.item.payload
        if hits.is_hit_bundle(bundle.question):
            answer = hits.answer_from_post(bundle.question, request.POST, payload)
        else:
            answer = answer_from_post(bundle.question, request.POST, payload=payload)
        # The answer and the next task in one go (one statement when nothing stands between).
        result = services.assignment_submit_and_claim_next(
            assignment_id=assignment.pk,
            worker=request.user,
            answer=answer,
            bundle=bundle,
            signals=_posted_signals(request),
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
        if gold.explanation:
            feedback["explanation"] = gold.explanation
    if result.next is not None:
        panel = {"state": "task", "assignment": result.next}
    else:
        panel = _no_task_panel(result.no_next)
    return _after_answer(request, bundle, feedback, panel)


def _posted_signals(request: HttpRequest) -> Any:
    """The signals the page's script sent with a text answer (JSON), or None; the service
    checks them and drops what does not parse, so the answer itself never fails on them."""
    raw = request.POST.get("signals", "")
    if not raw or len(raw) > 2000:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


@require_POST
@worker_required
def work_skip(request: HttpRequest, assignment_id: int) -> HttpResponse:
    assignment = get_object_or_404(selectors.assignments_of_worker(request.user), pk=assignment_id)
    try:
        work.assignment_return(assignment_id=assignment.pk, worker=request.user)
    except DomainError as exc:
        return _after_answer(request, assignment.bundle, {"kind": "warn", "text": exc.detail})
    return _after_answer(request, assignment.bundle, {"kind": "ok", "text": "Task skipped."})


@require_http_methods(["GET", "POST"])
@worker_required
def worker_profile(request: HttpRequest) -> HttpResponse:
    """The worker's own standing (account status, review record, qualifications, payouts) and
    what they declare about themselves (country, self-declared qualifications)."""
    user = signed_in_user(request)
    profile = user.worker_profile
    declared = self_declared.declared_values(user)
    form = WorkerProfileForm(request.POST or None, initial={"country": profile.country, **declared})
    if request.method == "POST" and form.is_valid():
        try:
            self_declared.worker_declare(
                worker=user, country=form.cleaned_data["country"], values=form.declared()
            )
        except DomainError as exc:
            form.add_error(None, exc.detail)
        else:
            messages.success(request, "Profile saved.")
            return redirect("web:worker-profile")
    grants = (
        WorkerQualification.objects.filter(worker=user)
        .select_related("qualification")
        .order_by("qualification__name", "qualification_id")
    )
    qualifications = [
        {
            "name": g.qualification.name,
            "description": g.qualification.description,
            "value": g.value,
            "source": _grant_source(g),
        }
        for g in grants
    ]
    account = ConnectedAccount.objects.filter(worker=user).first()
    context = {
        "profile": profile,
        "reviewed": profile.approved_count + profile.rejected_count,
        "qualifications": qualifications,
        # Due process: every quality-rule action on their work, with its reason.
        "rule_events": [
            {"event": e, "label": ACTION_LABELS.get(e.action, e.action)}
            for e in selectors.rule_events_of_worker(request.user)[:50]
        ],
        "payout_account": account,
        "stripe_on": gateway.is_configured(),
        "form": form,
    }
    return render(request, "web/work/profile.html", context, status=400 if form.errors else 200)


def _grant_source(grant: WorkerQualification) -> str:
    if grant.qualification.owner_id is not None:
        return "Requester"
    return (
        "You (self-declared)"
        if grant.qualification.name in self_declared.SELF_DECLARED
        else "Platform"
    )
