"""Every annotation question type by its `type`, by explicit imports (no discovery, no
plug-in magic: what is registered is what this file says)."""

from __future__ import annotations

from . import image_classification, transcription
from .base import AnnotationType

TYPES: dict[str, AnnotationType] = {
    image_classification.TYPE.name: image_classification.TYPE,
    transcription.TYPE.name: transcription.TYPE,
}
