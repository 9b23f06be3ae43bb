"""What the pages show of payloads, money and questions (pure functions, no database)."""

from __future__ import annotations

from tasks.web.display import money, payload_fields, question_options


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
    assert kinds == {
        "photo": "image",
        "page": "text",
        "script": "text",
        "html": "text",
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
