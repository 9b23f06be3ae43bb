"""The money pages: the requester's balance (statement, top-up, what they owe after a card
refund or dispute, and test funds in development) and the worker's earnings (balances,
history, payout request and payout-account setup).

Thin views over `payments.services`, `payments.payouts` and `payments.selectors`; amounts are
formatted, typed and tabulated by `marketplace.web.money`, one way for both pages."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import User
from marketplace.errors import DomainError
from payments import payouts, selectors, services
from payments import stripe_gateway as gateway
from payments.models import AccountKind, Bonus, ConnectedAccount, Payout
from tasks import selectors as task_selectors
from tasks.models import AssignmentStatus

from .. import display
from ..forms import (
    PAYOUT_ERROR_FIELDS,
    PayoutDetailsForm,
    PayoutRequestForm,
    TestFundsForm,
    TopUpForm,
)
from ..money import money, statement_table
from .common import requester_required, signed_in_user, worker_required

# ---------------------------------------------------------------------------------------------
# Requester: balance


@login_required
@require_http_methods(["GET", "POST"])
@requester_required
def balance(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    form = TopUpForm(request.POST or None, initial={"client_token": uuid.uuid4().hex})
    if request.method == "POST" and form.is_valid():
        try:
            topup = services.topup_create(
                requester=user,
                amount_minor=form.cleaned_data["amount"],
                currency=form.cleaned_data["currency"],
                client_token=form.cleaned_data["client_token"],
            )
        except DomainError as exc:
            form.add_error("amount", exc.detail)
        else:
            return redirect(topup.checkout_url)
    context = {**_balance_context(user, request), "form": form}
    return render(request, "web/money/balance.html", context, status=400 if form.errors else 200)


def _balance_context(user: User, request: HttpRequest) -> dict[str, Any]:
    """Balances (with what is owed and why), the statement, whether card top-ups are on, and
    the test-funds form (development only)."""
    rows = selectors.requester_balances(requester_id=user.pk)
    balances = [
        {
            "currency": row["currency"].upper(),
            "amount": money(row["available"], row["currency"]),
            "debt": money(row["debt_minor"], row["currency"]),
            "owes": bool(row["debt_minor"]),
            "reason": row["in_debt_reason"],
        }
        for row in rows
    ]
    test_funds = services.balance_test_funds_enabled()
    return {
        "balances": balances,
        "in_debt": any(b["owes"] for b in balances),
        "statement": statement_table(
            user_id=user.pk,
            kinds=[AccountKind.REQUESTER_AVAILABLE, AccountKind.REQUESTER_DEBT],
            page_number=request.GET.get("page"),
        ),
        # The API's statement serves session auth too: one CSV, one code path.
        "statement_csv_url": reverse("balance") + "?format=csv",
        "stripe_on": gateway.is_configured(),
        "test_funds_form": (
            TestFundsForm(initial={"client_token": uuid.uuid4().hex}) if test_funds else None
        ),
    }


@login_required
@require_POST
@requester_required
def balance_test_funds(request: HttpRequest) -> HttpResponse:
    """Add test money (development only; the service refuses it anywhere else)."""
    if not services.balance_test_funds_enabled():
        raise Http404("Test funds exist only in development.")
    user = signed_in_user(request)
    form = TestFundsForm(request.POST)
    if form.is_valid():
        currency = form.cleaned_data["currency"]
        try:
            services.balance_add_test_funds(
                requester=user,
                amount_minor=form.cleaned_data["amount"],
                currency=currency,
                client_token=form.cleaned_data["client_token"],
            )
        except DomainError as exc:
            form.add_error("amount", exc.detail)
        else:
            amount = money(form.cleaned_data["amount"], currency)
            messages.success(request, f"Added {amount} of test money (not real money).")
            return redirect("money:balance")
    context = {
        **_balance_context(user, request),
        "form": TopUpForm(initial={"client_token": uuid.uuid4().hex}),
        "test_funds_form": form,
    }
    return render(request, "web/money/balance.html", context, status=400)


# ---------------------------------------------------------------------------------------------
# Worker: earnings and payouts


def _earnings_context(worker: User, request: HttpRequest) -> dict[str, Any]:
    earnings_rows = selectors.worker_earnings(worker_id=worker.pk)
    balances = [
        {
            "currency": row["currency"].upper(),
            "available": money(row["available"], row["currency"]),
            "in_flight": money(row["in_flight"], row["currency"]),
            "held": money(row["held"], row["currency"]) if row["held"] else "",
            "paid_out": money(row["paid_out"], row["currency"]),
        }
        for row in earnings_rows
    ]
    history = task_selectors.assignments_of_worker(worker).exclude(status=AssignmentStatus.CLAIMED)
    page = Paginator(history, 50).get_page(request.GET.get("page"))
    rows = [
        {
            "assignment": a,
            "reward": money(a.bundle.reward_minor, a.bundle.currency),
            "answer": display.answer_text(a.bundle.question, a.answer),
        }
        for a in page
    ]
    bonuses = [
        {"bonus": b, "amount": money(b.amount_minor, b.currency)}
        for b in Bonus.objects.filter(worker=worker).order_by("-created_at")[:50]
    ]
    payout_rows = [
        {"payout": p, "amount": money(p.amount_minor, p.currency)}
        for p in Payout.objects.filter(worker=worker).order_by("-id")[:50]
    ]
    stripe_on = gateway.is_configured()
    account = ConnectedAccount.objects.filter(worker=worker).first() if stripe_on else None
    currency = earnings_rows[0]["currency"] if earnings_rows else "usd"
    # Why no payout can go now (an admin's hold; Stripe paused or lost the account), unless
    # the account was simply never set up: the setup note above the form says that already.
    pause_reason = payouts.payout_pause_reason(worker_id=worker.pk, stripe=stripe_on)
    first_setup = stripe_on and (account is None or not account.set_up)
    shown_reason = pause_reason if payouts.worker_on_hold(worker_id=worker.pk) else ""
    if not first_setup:
        shown_reason = pause_reason
    return {
        "balances": balances,
        "any_held": any(b["held"] for b in balances),
        "rows": rows,
        "page": page,
        "bonuses": bonuses,
        "payouts": payout_rows,
        "stripe_on": stripe_on,
        "payout_account": account,
        "account_ready": account is not None and account.ready,
        "payout_ready": not pause_reason,
        "pause_reason": shown_reason,
        "payout_minimum": money(payouts.payout_minimum(), currency),
        "payout_form": PayoutRequestForm(
            initial={"currency": currency, "request_key": uuid.uuid4().hex}
        ),
        # Manual payouts: the bank details the batch CSV carries (encrypted; shown masked).
        "bank_details": None if stripe_on else payouts.payout_details_get(worker_id=worker.pk),
        "details_form": None if stripe_on else PayoutDetailsForm(),
    }


@require_GET
@worker_required
def earnings(request: HttpRequest) -> HttpResponse:
    context = _earnings_context(signed_in_user(request), request)
    return render(request, "web/work/earnings.html", context)


@require_POST
@worker_required
def payout_request(request: HttpRequest) -> HttpResponse:
    """Request a payout (Stripe transfer, or the manual bank-transfer batch without Stripe)."""
    worker = signed_in_user(request)
    form = PayoutRequestForm(request.POST)
    if form.is_valid():
        currency = form.cleaned_data["currency"]
        try:
            payout = payouts.payout_request(
                worker=worker,
                currency=currency,
                amount_minor=form.cleaned_data["amount"],
                request_key=f"web-{worker.pk}-{form.cleaned_data['request_key']}",
            )
        except DomainError as exc:
            detail = exc.detail
            if exc.code in ("payout_below_minimum", "insufficient_funds"):
                minimum = money(exc.extra.get("minimum_minor"), currency)
                available = money(exc.extra.get("available_minor"), currency)
                detail = (
                    f"Enter between {minimum} (the minimum) and {available} (your available "
                    "balance)."
                )
            form.add_error(PAYOUT_ERROR_FIELDS.get(exc.code), detail)
        else:
            amount = money(payout.amount_minor, payout.currency)
            how = "by Stripe" if payout.method == "stripe" else "in the next bank-transfer batch"
            messages.success(request, f"Payout of {amount} requested; it is paid {how}.")
            return redirect("web:earnings")
    context = {**_earnings_context(worker, request), "payout_form": form}
    return render(request, "web/work/earnings.html", context, status=400)


@require_POST
@worker_required
def payout_setup(request: HttpRequest) -> HttpResponse:
    """Send the worker to Stripe's onboarding for their payout account (a fresh link)."""
    try:
        url = payouts.payout_account_onboard(worker=signed_in_user(request))
    except DomainError as exc:
        messages.error(request, exc.detail)
        return redirect("web:earnings")
    return redirect(url)


@require_POST
@worker_required
def payout_details(request: HttpRequest) -> HttpResponse:
    """Store the worker's bank details for manual payouts (encrypted; the page shows them
    masked)."""
    worker = signed_in_user(request)
    form = PayoutDetailsForm(request.POST)
    if form.is_valid():
        try:
            payouts.payout_details_set(worker=worker, **form.cleaned_data)
        except DomainError as exc:
            form.add_error(exc.extra.get("field"), exc.detail)
        else:
            messages.success(request, "Your bank details are saved.")
            return redirect(reverse("web:earnings") + "#payout-details")
    context = {**_earnings_context(worker, request), "details_form": form}
    return render(request, "web/work/earnings.html", context, status=400)
