from __future__ import annotations

import uuid
from decimal import Decimal

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from marketplace.errors import DomainError
from payments import selectors, services
from payments import stripe_gateway as gateway
from payments.models import AccountKind

SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£"}


def money(amount_minor: int | None, currency: str) -> str:
    """Integer minor units as a price (5 usd -> "$0.05"); no floats on the way."""
    amount_minor = int(amount_minor or 0)
    sign = "-" if amount_minor < 0 else ""
    whole, cents = divmod(abs(amount_minor), 100)
    symbol = SYMBOLS.get(currency.lower())
    if symbol:
        return f"{sign}{symbol}{whole:,}.{cents:02d}"
    return f"{sign}{whole:,}.{cents:02d} {currency.upper()}"


class TopUpForm(forms.Form):
    amount = forms.DecimalField(
        min_value=Decimal("1.00"),
        max_value=Decimal("100000"),
        decimal_places=2,
        label="Amount",
        help_text="Paid by card on Stripe's page; credited when Stripe confirms the payment.",
    )
    currency = forms.ChoiceField(choices=[("usd", "USD"), ("eur", "EUR"), ("gbp", "GBP")])
    # One token per form shown: a double click or a retried POST is one top-up.
    client_token = forms.CharField(widget=forms.HiddenInput, max_length=100)


@login_required
@require_http_methods(["GET", "POST"])
def balance(request: HttpRequest) -> HttpResponse:
    if not request.user.is_requester:
        return render(request, "tasks/need_role.html", {"role": "requester"}, status=403)
    form = TopUpForm(request.POST or None, initial={"client_token": uuid.uuid4().hex})
    if request.method == "POST" and form.is_valid():
        try:
            topup = services.topup_create(
                requester=request.user,
                amount_minor=int(form.cleaned_data["amount"] * 100),  # 2-decimal currencies
                currency=form.cleaned_data["currency"],
                client_token=form.cleaned_data["client_token"],
            )
        except DomainError as exc:
            form.add_error("amount", exc.detail)
        else:
            return redirect(topup.checkout_url)
    balances = [
        {"currency": currency.upper(), "amount": money(amount, currency)}
        for currency, amount in selectors.user_balances(
            user_id=request.user.pk, kind=AccountKind.REQUESTER_AVAILABLE
        ).items()
    ]
    postings = selectors.statement(user_id=request.user.pk, kinds=[AccountKind.REQUESTER_AVAILABLE])
    page = Paginator(postings, 50).get_page(request.GET.get("page"))
    rows = [
        {"posting": p, "amount": money(p.amount_minor, p.currency), "credit": p.amount_minor > 0}
        for p in page
    ]
    context = {
        "balances": balances,
        "rows": rows,
        "page": page,
        "form": form,
        "stripe_on": gateway.is_configured(),
        # The API's statement serves session auth too: one CSV, one code path.
        "statement_csv_url": reverse("balance") + "?format=csv",
    }
    return render(request, "payments/balance.html", context, status=400 if form.errors else 200)
