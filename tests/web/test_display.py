"""What the pages show of payloads, money and questions (pure functions, no database)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from marketplace.web.display import payload_fields, question_options
from marketplace.web.money import AmountField, currency_choices, money


def test_image_urls_become_images_and_everything_else_stays_text():
    fields = payload_fields(
        {
            "photo": "https://cdn.example.com/cat.JPG?size=large",
            "page": "https://example.com/cat.html",
            "script": "javascript:alert(1).png",
            "html": "<img src=x onerror=alert(1)>",
            "meta": {"tags": ["a", "b"]},
        }
    )
    kinds = {f["key"]: f["kind"] for f in fields}
    assert str(fields[3]["value"]) == '<img src="x">'  # sanitised: the handler is gone
    assert kinds == {
        "photo": "image",
        "page": "text",
        "script": "text",
        "html": "html",
        "meta": "json",
    }


def test_money_is_exact_integer_formatting():
    assert money(5, "usd") == "$0.05"
    assert money(123456, "eur") == "€1,234.56"
    assert money(-36, "gbp") == "-£0.36"
    assert money(7, "chf") == "0.07 CHF"


def test_rating_options_get_digit_keys():
    options = question_options({"type": "rating", "min": 1, "max": 5})
    assert [(o["value"], o["key"]) for o in options][:2] == [("1", "1"), ("2", "2")]


def test_html_snippets_in_payloads_are_sanitised_not_escaped():
    from marketplace.web.display import payload_fields

    fields = payload_fields(
        {
            "html": '<p onclick="x()">Hi <strong>there</strong><script>alert(1)</script></p>',
            "t": "a < b",
        }  # fmt: skip
    )
    snippet = fields[0]
    assert snippet["kind"] == "html"
    assert str(snippet["value"]) == "<p>Hi <strong>there</strong></p>"
    assert fields[1] == {"key": "t", "kind": "text", "value": "a < b"}


def test_the_amount_field_cleans_major_units_to_integer_minor_units():
    field = AmountField(min_value=Decimal("0.01"), max_value=Decimal("1000"))
    assert field.clean("12.50") == 1250
    assert field.clean("0.05") == 5
    assert field.clean("1000") == 100_000
    for bad in ("1.234", "0", "1000.01", "ten", ""):
        with pytest.raises(ValidationError):
            field.clean(bad)
    assert AmountField(min_value=Decimal(1), max_value=Decimal(9), required=False).clean("") is None


def test_currency_choices_come_from_the_one_symbol_table():
    assert currency_choices() == [("usd", "USD ($)"), ("eur", "EUR (€)"), ("gbp", "GBP (£)")]
    assert currency_choices(with_symbol=False) == [("usd", "USD"), ("eur", "EUR"), ("gbp", "GBP")]
