"""Every annotation question type by its `type`, by explicit imports (no discovery, no
plug-in magic: what is registered is what this file says)."""

from __future__ import annotations

from . import (
    bounding_box,
    form,
    image_classification,
    pairwise,
    polygon,
    text_spans,
    transcription,
)
from .base import AnnotationType

TYPES: dict[str, AnnotationType] = {
    image_classification.TYPE.name: image_classification.TYPE,
    bounding_box.TYPE.name: bounding_box.TYPE,
    polygon.TYPE.name: polygon.TYPE,
    text_spans.TYPE.name: text_spans.TYPE,
    transcription.TYPE.name: transcription.TYPE,
    pairwise.TYPE.name: pairwise.TYPE,
    form.TYPE.name: form.TYPE,
}
