"""Every annotation question type by its `type`, by explicit imports (no discovery, no
plug-in magic: what is registered is what this file says)."""

from __future__ import annotations

from . import bounding_box, pairwise, polygon, text_spans
from .base import AnnotationType

TYPES: dict[str, AnnotationType] = {
    bounding_box.TYPE.name: bounding_box.TYPE,
    polygon.TYPE.name: polygon.TYPE,
    text_spans.TYPE.name: text_spans.TYPE,
    pairwise.TYPE.name: pairwise.TYPE,
}
