"""The create form's live preview: the worker's page for a sample item, rendered by the very
templates (and, in the browser, the same JS tools) as the real task page."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from tasks import schema

from .. import annotation, display, gallery
from ..forms import FORM_QUESTION_TYPES, parse_choices, parse_question_json, question_from_fields
from .common import requester_required


def _preview_question(post: Any) -> dict[str, Any]:
    """The question the form describes so far, validated like a new bundle's (raises
    InvalidQuestion or ValidationError with what is wrong)."""
    qtype = post.get("question_type", "single_choice")
    if qtype not in FORM_QUESTION_TYPES:
        raise schema.InvalidQuestion("Pick a question type.")
    rating_max = post.get("rating_max", "").strip()
    data = {
        "question_type": qtype,
        "prompt": post.get("prompt", "").strip()[:500],
        "choices": parse_choices(post.get("choices", "")),
        "rating_max": int(rating_max) if rating_max.isdigit() else 5,
        "question_json": parse_question_json(post.get("question_json", "")),
    }
    return schema.question_validate(question_from_fields(data))


@require_POST
@requester_required
def task_preview(request: HttpRequest) -> HttpResponse:
    """htmx fragment: the worker's page for the question being written."""
    context: dict[str, Any] = {}
    try:
        question = _preview_question(request.POST)
    except schema.InvalidQuestion as exc:
        context["problem"] = exc.detail
    except forms.ValidationError as exc:
        context["problem"] = " ".join(exc.messages)
    else:
        payload = gallery.sample_payload(
            slug=request.POST.get("template"), question_type=question["type"]
        )
        context.update(
            {
                "question": question,
                "options": display.question_options(question),
                "fields": display.task_fields(question, None, payload),
            }
        )
        if annotation.is_annotation(question):
            context["tool"] = annotation.tool_config(question, payload)
    return render(request, "web/console/_task_preview.html", context)
