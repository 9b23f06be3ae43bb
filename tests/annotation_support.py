"""Test support for the annotation UI (issue 12), shared by tests/web and tests/e2e.

PRE-MERGE PATCH: on this branch `tasks.schema` still refuses the annotation question types
(another engineer's module adds them). `accept_annotation_types` lets those questions and their
answers through, for the tests that use it only, so the pages can be exercised end to end:
annotation answers pass as posted (the real type modules validate them after the merge) and
every other type is validated as before. After the merge, delete this patch and its uses.

`scene_png` draws a test image with Pillow whose content (and so the right boxes) is known."""

from __future__ import annotations

import io
from typing import Any

ANNOTATION_TYPES = (
    "image_classification",
    "bounding_box",
    "polygon",
    "text_spans",
    "transcription",
    "pairwise",
)


def accept_annotation_types(monkeypatch) -> None:
    import tasks.ingest
    import tasks.services
    import tasks.work.loop
    import tasks.work.submit
    from tasks import schema

    real_question, real_answer = schema.question_validate, schema.answer_validate

    def question_validate(raw: Any) -> dict[str, Any]:
        if isinstance(raw, dict) and raw.get("type") in ANNOTATION_TYPES:
            return dict(raw)
        return real_question(raw)

    def answer_validate(question: dict[str, Any], answer: Any, **context: Any) -> Any:
        if question.get("type") in ANNOTATION_TYPES:
            return answer
        return real_answer(question, answer, **context)

    for module in (schema, tasks.services, tasks.ingest):
        monkeypatch.setattr(module, "question_validate", question_validate)
    for module in (schema, tasks.work.submit, tasks.work.loop):
        monkeypatch.setattr(module, "answer_validate", answer_validate, raising=False)


#: What the test scene holds, in image pixels (x, y, w, h): a car and a person.
SCENE_SIZE = (640, 400)
SCENE_OBJECTS = {"car": (80, 220, 200, 110), "person": (420, 120, 70, 200)}


def scene_png(size: tuple[int, int] = SCENE_SIZE) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, (200, 220, 235))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 300, size[0], size[1]), fill=(120, 120, 120))  # road
    x, y, w, h = SCENE_OBJECTS["car"]
    draw.rectangle((x, y, x + w, y + h), fill=(200, 40, 40))
    x, y, w, h = SCENE_OBJECTS["person"]
    draw.ellipse((x + 15, y, x + w - 15, y + 40), fill=(60, 60, 160))
    draw.rectangle((x, y + 40, x + w, y + h), fill=(60, 60, 160))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
