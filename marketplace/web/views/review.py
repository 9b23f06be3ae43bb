"""The review queue: filters (worker, gold failed, disagreement with the label, confidence),
keyset pages (`tasks.review_queue`), answers grouped by item with the aggregate, review of
the selected answers, and bulk approve or reject of everything a filter matched after a
confirmation page that shows the count and the money."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from tasks import review, review_queue, selectors
from tasks.models import Assignment, Bundle

from .. import annotation, display
from ..forms import ReviewForm
from ..money import money
from ..overlays import review_overlays
from ..review_forms import BulkReviewForm, ReviewFilterForm
from .common import requester_required, signed_in_user

# One bulk action reviews at most this many answers in one request (each in its own
# transaction); the page says how many are left, and the same action continues.
BULK_LIMIT = 2000
FILTER_FIELDS = ("worker", "gold", "disagree", "max_confidence", "group")


def _own_bundle(request: HttpRequest, bundle_id: int) -> Bundle:
    user = signed_in_user(request)
    return get_object_or_404(selectors.bundles_of_requester(user), pk=bundle_id)


def _filter_query(request: HttpRequest) -> str:
    """The filter part of the current query string (kept across pages and actions)."""
    source = request.GET if request.method == "GET" else request.POST
    kept = [(k, v) for k in FILTER_FIELDS for v in source.getlist(k) if v]
    return urlencode(kept)


@require_http_methods(["GET", "POST"])
@requester_required
def bundle_review(request: HttpRequest, bundle_id: int) -> HttpResponse:
    bundle = _own_bundle(request, bundle_id)
    if request.method == "POST" and "bulk" in request.POST:
        return _bulk(request, bundle)
    source = request.GET if request.method == "GET" else request.POST
    filters = ReviewFilterForm({k: source.get(k) for k in FILTER_FIELDS if source.get(k)})
    form = None
    if request.method == "POST":
        posted = [int(v) for v in request.POST.getlist("ids") if v.isdigit()][:1000]
        pending = review_queue.pending_matching(bundle, review_queue.ReviewFilter())
        valid_ids = list(pending.filter(pk__in=posted).values_list("id", flat=True))
        form = ReviewForm(request.POST, assignment_ids=valid_ids)
        if form.is_valid():
            approve = form.cleaned_data["action"] == "approve"
            summary = review.assignments_review(
                requester=signed_in_user(request),
                assignment_ids=form.cleaned_data["ids"],
                approve=approve,
                reason=form.cleaned_data.get("reason", ""),
            )
            if summary.done:
                verb = "Approved" if approve else "Rejected"
                messages.success(request, f"{verb} {len(summary.done)} answer(s).")
            for assignment_id, error in summary.errors.items():
                messages.error(request, f"Answer #{assignment_id}: {error['detail']}")
            return _back_to_queue(bundle, _filter_query(request))
    context = _queue_context(request, bundle, filters, form or ReviewForm(assignment_ids=[]))
    status = 400 if form is not None and form.errors else 200
    return render(request, "web/console/review.html", context, status=status)


def _back_to_queue(bundle: Bundle, query: str) -> HttpResponse:
    url = reverse("web:bundle-review", args=[bundle.pk])
    return redirect(f"{url}?{query}" if query else url)


def _queue_context(
    request: HttpRequest, bundle: Bundle, filters: ReviewFilterForm, form: ReviewForm
) -> dict[str, Any]:
    criteria = filters.criteria()
    by_item = filters.is_valid() and filters.cleaned_data.get("group") == "item"
    page = review_queue.review_page(
        bundle, criteria, cursor=request.GET.get("after"), by_item=by_item
    )
    selected = {int(v) for v in request.POST.getlist("ids") if v.isdigit()}
    overlays = review_overlays(bundle, page.rows)  # annotation shapes over the image or text
    disagreeing = review_queue.disagreeing_ids([a.pk for a in page.rows])
    rows = [_row(bundle, a, a.pk in selected, a.pk in disagreeing, overlays) for a in page.rows]
    query = _filter_query(request)
    return {
        "bundle": bundle,
        "rows": rows,
        "groups": _groups(bundle, rows, page.results) if by_item else [],
        "by_item": by_item,
        "form": form,
        "filters": filters,
        "filtered": filters.active(),
        "total": page.total,
        "as_of": timezone.now().isoformat(),
        "filter_query": query,
        "next_url": _page_url(query, page.next_cursor) if page.next_cursor else "",
        "first_url": _page_url(query, None) if request.GET.get("after") else "",
        "annotating": annotation.is_annotation(bundle.question),
    }


def _page_url(filter_query: str, cursor: str | None) -> str:
    """The queue's URL (relative) with its filters and, for a later page, the keyset cursor."""
    parts = [p for p in (filter_query, urlencode({"after": cursor}) if cursor else "") if p]
    return "?" + "&".join(parts)


def _row(
    bundle: Bundle, a: Assignment, checked: bool, disagrees: bool, overlays: dict
) -> dict[str, Any]:
    return {
        "assignment": a,
        "checked": checked,
        "disagrees": disagrees,
        "fields": display.item_fields(a.item_id, a.item.payload),
        "answer": display.answer_text(bundle.question, a.answer),
        "worker": selectors.worker_public_id(bundle.requester_id, a.worker_id),
        "seconds": display.duration(a.seconds_spent),
        "overlay": overlays.get(a.pk),
    }


def _groups(bundle: Bundle, rows: list[dict[str, Any]], results: dict) -> list[dict[str, Any]]:
    """Consecutive rows of one item under that item's aggregate (label, confidence, how many
    judgments it rests on)."""
    groups: list[dict[str, Any]] = []
    for row in rows:
        item_id = row["assignment"].item_id
        if not groups or groups[-1]["item_id"] != item_id:
            result = results.get(item_id)
            groups.append(
                {
                    "item_id": item_id,
                    "fields": row["fields"],
                    "label": display.answer_text(bundle.question, result.label)
                    if result is not None and result.label is not None
                    else "",
                    "confidence": f"{result.confidence * 100:.0f}%"
                    if result is not None and result.confidence is not None
                    else "—",
                    "judgments": result.judgments if result is not None else 0,
                    "rows": [],
                }
            )
        groups[-1]["rows"].append(row)
    return groups


def _bulk(request: HttpRequest, bundle: Bundle) -> HttpResponse:
    """Approve or reject everything the filter matched: first a page with the count and the
    money, then (confirmed) the reviews, up to `BULK_LIMIT` at a time."""
    filters = ReviewFilterForm(
        {k: request.POST.get(k) for k in FILTER_FIELDS if request.POST.get(k)}
    )
    form = BulkReviewForm(request.POST)
    query = _filter_query(request)
    if not form.is_valid() and "reason" not in form.errors:
        messages.error(request, "That bulk action was incomplete; nothing was reviewed.")
        return _back_to_queue(bundle, query)
    data = form.cleaned_data
    criteria = filters.criteria().pinned(data.get("as_of"))
    approve = data.get("bulk") == "approve"
    if data.get("confirm") != "yes" or form.errors:
        summary = review_queue.matching_summary(bundle, criteria)
        fee = selectors.bundle_fees([bundle])[bundle.pk]
        context = {
            "bundle": bundle,
            "form": form,
            "approve": approve,
            "summary": summary,
            "rewards": money(summary["rewards_minor"], bundle.currency),
            "cost": money(summary["count"] * fee["cost_per_judgment"], bundle.currency),
            "filter_fields": [
                (k, request.POST.get(k)) for k in FILTER_FIELDS if request.POST.get(k)
            ],
            "filter_query": query,
            "filtered": filters.active(),
            "limit": BULK_LIMIT,
        }
        status = 400 if form.errors else 200
        return render(request, "web/console/review_bulk_confirm.html", context, status=status)
    ids = review_queue.matching_ids(bundle, criteria, limit=BULK_LIMIT)
    summary = review.assignments_review(
        requester=signed_in_user(request),
        assignment_ids=ids,
        approve=approve,
        reason=data.get("reason") or "",
    )
    verb = "Approved" if approve else "Rejected"
    messages.success(request, f"{verb} {len(summary.done)} answer(s) matching the filter.")
    if summary.errors:
        messages.error(request, f"{len(summary.errors)} answer(s) could not be reviewed.")
    left = review_queue.matching_summary(bundle, criteria)["count"]
    if left:
        messages.info(request, f"{left} matching answer(s) left: run the same action again.")
    return _back_to_queue(bundle, query)
