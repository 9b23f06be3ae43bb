"""The requester console: bundles, uploads, publishing, quality (the review queue: review.py)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from marketplace.errors import DomainError
from payments import services as payments
from payments.fees import FeeTerms, fee_terms
from payments.ledger import InsufficientFunds
from tasks import exports, payfloor, selectors, services
from tasks.assist.selectors import assist_report
from tasks.models import Bundle, BundleStatus
from tasks.quality import blocking
from tasks.quality.block_preview import worker_block_preview as block_worker_preview
from tasks.quality.rules_engine import ACTION_LABELS
from tasks.quality.selectors import bundle_worker_report

from .. import annotation, charts, display, gallery, quality
from ..forms import BundleCreateForm, ItemUploadForm, WorkerBlockForm
from ..markdown import render_markdown
from ..money import money
from ..quality_form import rule_editor_options
from .common import PROGRESS_POLL_SECONDS, requester_required
from .training import training_context

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
            "reward": money(b.reward_minor, b.currency),
            "progress": selectors.bundle_progress(b),
        }
        for b in bundles
    ]
    return render(request, "web/console/list.html", {"rows": rows})


@require_http_methods(["GET", "POST"])
@requester_required
def bundle_create(request: HttpRequest) -> HttpResponse:
    form = BundleCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            bundle = services.bundle_create(requester=request.user, data=form.service_data())
        except DomainError as exc:
            form.add_error(form.error_field(exc.code), exc.detail)
        else:
            messages.success(request, "Bundle created as a draft. Upload items, then publish.")
            return redirect("web:bundle-detail", bundle_id=bundle.pk)
    terms = fee_terms()
    context = {
        "form": form,
        "fee_percent": terms.percent,
        "fee_minimum_minor": terms.minimum_minor,
        "fee_minimum": money(terms.minimum_minor, request.POST.get("currency") or "usd"),
        "fee_estimate": _fee_estimate(form, terms),
        "instructions_html": render_markdown(request.POST.get("instructions", "")),
        "templates": gallery.templates(),
        "chosen_template": request.POST.get("template", ""),
        "rule_options": rule_editor_options(),
    }
    return render(request, "web/console/create.html", context, status=400 if form.errors else 200)


def _fee_estimate(form: BundleCreateForm, terms: FeeTerms) -> str:
    """What one answer costs at the typed (or initial) reward, with the fee actually charged
    (the minimum and the rounding make it more than the percent on small rewards). The same
    sentence console.js writes as the reward is typed; this one is there without JavaScript."""
    field = form["reward"]
    try:
        reward = form.fields["reward"].clean(field.value())
        overlap = int(form["overlap"].value() or 0)
    except (ValidationError, TypeError, ValueError):
        return ""
    if not reward or overlap <= 0:
        return ""
    currency = str(form["currency"].value() or "usd")
    fee = terms.fee_for(reward)
    each = reward + fee
    rate = terms.effective_percent(reward)
    return (
        f"Each answer costs {money(each, currency)} ({money(reward, currency)} reward + "
        f"{money(fee, currency)} fee = {rate:g}% of the reward); each item with overlap "
        f"{overlap} costs {money(each * overlap, currency)}, so 100 items cost "
        f"{money(each * overlap * 100, currency)}."
    )


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
    # The terms this bundle is charged at: frozen at publish, today's settings for a draft.
    fee = selectors.bundle_fees([bundle])[bundle.pk]
    per_judgment = fee["cost_per_judgment"]
    real, gold = services.judgments_to_reserve(bundle, context["progress"]["items_total"])
    context.update(
        {
            "training": training_context(bundle),
            "reward": money(bundle.reward_minor, currency),
            "fee": money(fee["per_judgment"], currency),
            "fee_percent": fee["percent"],
            "fee_minimum": money(fee["minimum"], currency),
            "fee_effective": fee["effective_percent"],
            "fee_frozen": fee["frozen"],
            "per_judgment": money(per_judgment, currency),
            "judgments": real + gold,
            "gold_judgments": gold,
            "total_cost": money(
                (real + gold) * per_judgment + payfloor.margin_cost(bundle, real + gold), currency
            ),
            "floor_margin": money(payfloor.margin_cost(bundle, real + gold), currency),
            "available": money(
                payments.requester_available(requester_id=bundle.requester_id, currency=currency),
                currency,
            ),
            "escrow": money(
                payments.escrow_balance(bundle_id=bundle.pk, currency=currency), currency
            ),
            "can_upload": bundle.status
            in (BundleStatus.DRAFT, BundleStatus.PUBLISHED, BundleStatus.PAUSED),
            "preview": [
                {
                    "item": item,
                    "fields": display.item_fields(item.pk, item.payload),
                    "gold_text": _gold_text(bundle.question, item),
                }
                for item in bundle.items.order_by("id")[:5]
            ],
            "downloads": [
                (
                    EXPORT_LABELS.get(fmt, fmt.upper()),
                    reverse("bundle-results", args=[bundle.pk]) + f"?format={fmt}",
                )
                for fmt in exports.formats_for(bundle.question)
            ],  # fmt: skip
            "upload_form": ItemUploadForm(),
            "instructions_html": render_markdown(bundle.instructions),
        }
    )
    context.update(_quality_context(bundle, extra.pop("block_forms", None)))
    context.update(_assist_context(bundle))
    context.update(extra)
    return context


def _gold_text(question: dict[str, Any], item: Any) -> Any:
    """An item's gold as the bundle page shows it: annotation shapes summarised ("2 boxes:
    Car, Person"), not a Python dict; plain answers as stored."""
    if not item.is_gold:
        return None
    if annotation.is_annotation(question):
        return display.answer_text(question, item.gold)
    return item.gold


def _assist_context(bundle: Bundle) -> dict[str, Any]:
    """The closed loop's section (bundles with `assist` only): the report, the learning curve
    as SVG points (x: labels, y: held-out accuracy) and the labels-per-dollar amounts."""
    if not bundle.assist:
        return {"assist": None}
    report = assist_report(bundle)
    points = [p for p in report["learning_curve"] if p["heldout_accuracy"] is not None]
    most = max([p["labels"] for p in points] + [1])
    curve = [
        {
            "x": round(30 + 280 * p["labels"] / most, 1),
            "y": round(120 - 110 * p["heldout_accuracy"], 1),
            "version": p["version"],
            "kind": p["kind"],
            "labels": p["labels"],
            "accuracy": f"{p['heldout_accuracy']:.3f}",
        }
        for p in points
    ]
    lpd = report["labels_per_dollar"]
    return {
        "assist": report,
        "curve": curve,
        "curve_points": " ".join(f"{p['x']},{p['y']}" for p in curve),
        "lpd_spent": money(lpd["spent"], bundle.currency),
        "lpd_fixed": money(lpd["fixed_overlap_cost"], bundle.currency),
    }


EXPORT_LABELS = {
    "labelstudio": "Label Studio", "coco": "COCO", "yolo": "YOLO (zip)",
    "voc": "Pascal VOC (zip)", "spacy": "spaCy", "conll": "CoNLL", "pairs": "Preference pairs",
    "ranking": "Ranking",
}  # fmt: skip

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
        "rule_events": [
            {
                "event": e,
                "public_id": selectors.worker_public_id(bundle.requester_id, e.worker_id),
                "label": ACTION_LABELS.get(e.action, e.action),
            }
            for e in bundle.rule_events.all()[:WORKERS_SHOWN]
        ],
        **quality.rings_and_calibration(bundle),
    }


def _worker_of_bundle(bundle: Bundle, public_id: str) -> int:
    """The worker behind a public id, among the bundle's workers; 404 for anyone else."""
    worker_id = selectors.bundle_worker_from_public_id(bundle, public_id)
    if worker_id is None:
        raise Http404("No such worker in this bundle.")
    return worker_id


@require_POST
@requester_required
def worker_block(request: HttpRequest, bundle_id: int, public_id: str) -> HttpResponse:
    bundle = _own_bundle(request, bundle_id)
    worker_id = _worker_of_bundle(bundle, public_id)
    form = WorkerBlockForm(request.POST, prefix=public_id)
    if form.is_valid() and request.POST.get("confirm") != "yes":
        # Issue 15, bug 2: say what the block will do (items reopened, money reserved) and
        # block only when the requester confirms on that page.
        preview = block_worker_preview(worker_id=worker_id, bundle=bundle)
        context = {
            "bundle": bundle,
            "public_id": public_id,
            "form": form,
            "reason": form.cleaned_data["reason"],
            "preview": preview,
            "reserve": money(preview.reserve_minor, bundle.currency),
        }
        return render(request, "web/console/block_confirm.html", context)
    if form.is_valid():
        try:
            blocking.worker_block(
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
    return render(request, "web/console/detail.html", context, status=400)


@require_POST
@requester_required
def worker_unblock(request: HttpRequest, bundle_id: int, public_id: str) -> HttpResponse:
    bundle = _own_bundle(request, bundle_id)
    worker_id = _worker_of_bundle(bundle, public_id)
    try:
        blocking.worker_unblock(worker_id=worker_id, bundle_id=bundle.pk, by=request.user)
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
        request, "web/console/_instructions_preview.html", {"html": render_markdown(text)}
    )


@require_GET
@requester_required
def bundle_detail(request: HttpRequest, bundle_id: int) -> HttpResponse:
    bundle = _own_bundle(request, bundle_id)
    return render(request, "web/console/detail.html", _detail_context(bundle))


@require_GET
@requester_required
def bundle_progress(request: HttpRequest, bundle_id: int) -> HttpResponse:
    bundle = _own_bundle(request, bundle_id)
    return render(request, "web/console/_progress.html", _progress_context(bundle))


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
            # Upload errors name the row (and line) at fault: "Row 17 (line 18): ..."; an
            # upload with several bad rows or files lists each of them (issue 15, bug 6).
            for message in _upload_messages(exc):
                form.add_error("file", message)
        else:
            gold = f" ({summary.gold} gold)" if summary.gold else ""
            files = f" and {summary.media} media files" if summary.media else ""
            messages.success(request, f"Uploaded {summary.created} items{gold}{files}.")
            return redirect("web:bundle-detail", bundle_id=bundle.pk)
    context = _detail_context(bundle, upload_form=form)
    return render(request, "web/console/detail.html", context, status=400)


def _upload_messages(exc: DomainError) -> list[str]:
    """Every problem an upload error lists (`errors`: bad rows or bad media files), else its
    one detail."""
    listed = exc.extra.get("errors")
    if not isinstance(listed, list) or len(listed) < 2:
        return [exc.detail]
    messages_ = [f"{len(listed)} problems found; nothing was uploaded:"]
    for problem in listed:
        detail = str(problem.get("detail", ""))
        if "file" in problem:
            row = f"Row {problem['row']}: " if problem.get("row") is not None else ""
            detail = f"{row}{problem['file']}: {detail}"
        messages_.append(detail)
    return messages_


@require_POST
@requester_required
def bundle_publish(request: HttpRequest, bundle_id: int) -> HttpResponse:
    bundle = _own_bundle(request, bundle_id)
    try:
        services.bundle_publish(bundle=bundle, by=request.user)
    except InsufficientFunds as exc:
        missing = money(exc.extra.get("missing_minor"), bundle.currency)
        error = f"Not enough funds to publish: {missing} missing. Top up your balance and retry."
        context = _detail_context(bundle, publish_error=error, publish_needs_funds=True)
        return render(request, "web/console/detail.html", context, status=402)
    except DomainError as exc:
        context = _detail_context(bundle, publish_error=exc.detail)
        return render(request, "web/console/detail.html", context, status=409)
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
