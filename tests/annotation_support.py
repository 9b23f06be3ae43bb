"""Test support for the annotation UI (issue 12), shared by tests/web and tests/e2e.

`scene_png` draws a test image with Pillow whose content (and so the right boxes) is known."""

from __future__ import annotations

import io

ANNOTATION_TYPES = (
    "image_classification",
    "bounding_box",
    "polygon",
    "text_spans",
    "transcription",
    "pairwise",
)


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
