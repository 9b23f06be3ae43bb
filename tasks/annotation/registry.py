"""Every annotation question type by its `type`, by explicit imports (no discovery, no
plug-in magic: what is registered is what this file says). Each type's module adds its line."""

from __future__ import annotations

from .base import AnnotationType

TYPES: dict[str, AnnotationType] = {}
