"""MTurk HITs on the task page: bundles whose question is `{"type": "form"}` and whose items
carry their own Question XML (`mturk_question`).

- HTMLQuestion: the requester's HTML in a sandboxed frame of its own URL (no
  allow-same-origin: an opaque origin that reads no cookie and calls no API as the worker),
  with a small bridge script that sends the form's fields to this page by postMessage, and a
  shim for crowd-html-elements forms (`<crowd-form>` and friends) in place of Amazon's loader.
- ExternalQuestion: the requester's URL in a frame with MTurk's parameters; it submits to
  `turkSubmitTo + "/mturk/externalSubmit"` (marketplace.mturk.worker).
- QuestionForm: a normal form on this page, its fields named `f:<QuestionIdentifier>`.

Before accepting, a worker sees a preview of one of the bundle's tasks, with MTurk's
`ASSIGNMENT_ID_NOT_AVAILABLE` as its assignment id and submitting disabled.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from django.http import HttpRequest, QueryDict
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import escape

from marketplace.mturk.errors import MTurkRequestError
from marketplace.mturk.questions import ContentBlock, ParsedQuestion, parse_question
from marketplace.mturk.worker import (
    FrameParams,
    frame_params,
    preview_params,
    url_with_params,
)
from tasks.annotation.form import QUESTION_KEY
from tasks.models import Assignment, Item
from tasks.schema import InvalidAnswer, answer_validate
from tasks.selectors import worker_public_id

from .markdown import sanitise_html

#: The sandbox of an HTMLQuestion frame: scripts and forms run, the origin stays opaque.
HTML_SANDBOX = "allow-scripts allow-forms allow-popups allow-modals"
#: An external page keeps its own origin (its cookies, its storage): it is not ours anyway.
EXTERNAL_SANDBOX = "allow-scripts allow-forms allow-popups allow-modals allow-same-origin"
_CROWD_LOADER = re.compile(
    r"<script\b[^>]*\bsrc\s*=\s*['\"][^'\"]*crowd-html-elements\.js[^'\"]*['\"][^>]*>\s*</script\s*>",
    re.IGNORECASE,
)
_HEAD = re.compile(r"<head\b[^>]*>", re.IGNORECASE)
_DOCTYPE = re.compile(r"^\s*<!doctype[^>]*>", re.IGNORECASE)


def is_hit_bundle(question: Any) -> bool:
    return isinstance(question, dict) and question.get("type") == "form"


def parsed_question(payload: Any) -> ParsedQuestion | None:
    """The item's Question, or None when it has none (or it no longer parses)."""
    xml = payload.get(QUESTION_KEY) if isinstance(payload, dict) else None
    if not isinstance(xml, str):
        return None
    try:
        return parse_question(xml)
    except MTurkRequestError:
        return None


def site_origin(request: HttpRequest) -> str:
    return f"{request.scheme}://{request.get_host()}"


def _frame_height(parsed: ParsedQuestion) -> str:
    return f"{parsed.frame_height}px" if parsed.frame_height else "80vh"


def _content(blocks: tuple[ContentBlock, ...]) -> list[dict[str, Any]]:
    """QuestionForm content for the template: requester XHTML only after sanitising."""
    shown = []
    for block in blocks:
        entry: dict[str, Any] = {"kind": block.kind, "text": block.text, "items": block.items}
        if block.kind == "formatted":
            entry["html"] = sanitise_html(block.text)
        elif block.kind == "binary":
            entry.update(url=block.url, alt=block.alt, media=block.mime.split("/")[0] or "image")
        shown.append(entry)
    return shown


def _form_questions(parsed: ParsedQuestion) -> list[dict[str, Any]]:
    rows = []
    for q in parsed.questions:
        control = "text"
        if q.answer_type == "Selection":
            control = "checkbox" if q.multiple else "radio"
            if q.style in ("dropdown", "combobox") and not q.multiple:
                control = "select"
        elif q.lines > 1:
            control = "textarea"
        rows.append(
            {
                "q": q,
                "name": f"f:{q.identifier}",
                "control": control,
                "content": _content(q.content),
                "rows": min(q.lines, 20),
            }
        )
    return rows


def hit_view(
    request: HttpRequest, item: Item, assignment: Assignment | None
) -> dict[str, Any] | None:
    """What the task panel shows for one HIT (a task, or a preview when `assignment` is None)."""
    parsed = parsed_question(item.payload)
    if parsed is None:
        return None
    params: FrameParams
    if assignment is not None:
        worker_id = worker_public_id(assignment.bundle.requester_id, assignment.worker_id)
        params = frame_params(assignment, worker_id=worker_id, base_url=site_origin(request))
    else:
        params = preview_params(item)
    view: dict[str, Any] = {
        "kind": parsed.kind,
        "preview": params.preview,
        "height": _frame_height(parsed),
    }
    if parsed.kind == "HTMLQuestion":
        if assignment is not None:
            base = reverse("web:hit-frame", args=[assignment.pk])
        else:
            base = reverse("web:hit-preview-frame", args=[item.bundle_id])
        view.update(frame_url=url_with_params(base, params), sandbox=HTML_SANDBOX)
    elif parsed.kind == "ExternalQuestion":
        # allow-same-origin keeps the requester's page in its own origin; a URL on our own
        # host would instead share ours (and could script this page), so it never gets it.
        ours = urlsplit(parsed.external_url).netloc.lower() == request.get_host().lower()
        view.update(
            frame_url=url_with_params(parsed.external_url, params),
            sandbox=HTML_SANDBOX if ours else EXTERNAL_SANDBOX,
        )
    else:
        view.update(overview=_content(parsed.overview), questions=_form_questions(parsed))
    return view


def frame_document(html: str, *, request: HttpRequest, preview: bool) -> str:
    """The HTMLQuestion as its frame serves it: Amazon's crowd-html-elements loader replaced
    by our shim, the bridge script first in <head> (before the requester's own scripts)."""
    crowd = bool(_CROWD_LOADER.search(html)) or "<crowd-" in html.lower()
    html = _CROWD_LOADER.sub("", html)
    origin = site_origin(request)
    tags = (
        f'<script src="{escape(origin + static("js/hit-bridge.js"))}" '
        f'data-parent-origin="{escape(origin)}" data-preview="{int(preview)}"></script>'
    )
    if crowd:
        tags += f'<script src="{escape(origin + static("js/crowd-shim.js"))}"></script>'
    head = _HEAD.search(html)
    if head is not None:
        return html[: head.end()] + tags + html[head.end() :]
    doctype = _DOCTYPE.search(html)
    if doctype is not None:
        return html[: doctype.end()] + tags + html[doctype.end() :]
    return tags + html


def frame_policy(request: HttpRequest) -> str:
    """The frame's own CSP: sandboxed even when opened on its own, the requester's scripts and
    styles allowed (as MTurk allowed them), framed only by our pages, no form navigation (the
    bridge carries the answer)."""
    origin = site_origin(request)
    return "; ".join(
        [
            f"sandbox {HTML_SANDBOX}",
            f"default-src {origin} https: data: blob:",
            f"script-src {origin} https: 'unsafe-inline' 'unsafe-eval'",
            f"style-src {origin} https: 'unsafe-inline'",
            "img-src * data: blob:",
            "media-src * data: blob:",
            "connect-src https:",
            "form-action 'none'",
            "base-uri 'none'",
            "frame-ancestors 'self'",
        ]
    )


def answer_from_post(question: dict[str, Any], post: QueryDict, payload: Any) -> Any:
    """A HIT's answer from the task form: the frame's fields as JSON (`answer_json`, set by
    the bridge), or a QuestionForm's `f:<id>` fields (lists for multi-select questions)."""
    raw = post.get("answer_json")
    if raw:
        try:
            answer = json.loads(raw)
        except ValueError:
            raise InvalidAnswer("The task's form sent something that is not JSON.") from None
        return answer_validate(question, answer, payload=payload)
    parsed = parsed_question(payload)
    answer = {}
    for q in parsed.questions if parsed is not None else ():
        values = [v for v in post.getlist(f"f:{q.identifier}") if v != ""]
        if q.multiple:
            answer[q.identifier] = values
        elif values:
            answer[q.identifier] = values[0]
    return answer_validate(question, answer, payload=payload)
