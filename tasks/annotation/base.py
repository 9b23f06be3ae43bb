"""The contract every annotation type implements (see DESIGN.md, "Annotation answers").

Coordinates are in the image's own pixels, origin top-left; character offsets are Python string
indices into the payload's text, `end` exclusive; labels are the `value`s of the question's
`labels`. Gold has the answer's shape. An aggregated label has the answer's shape too, each
shape carrying its own `confidence`; the item keeps one overall confidence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

#: Reserved payload key written at ingest for uploaded media: {field: {"key": storage key,
#: "width": px, "height": px, "content_type": ...}}. Never shown to workers as is (the web and
#: API layers replace media fields by access-checked URLs) and never a payload column in exports.
MEDIA_KEY = "_media"


@dataclass(frozen=True)
class ItemContext:
    """What validation and aggregation may know about one item beyond the answer."""

    payload: Mapping[str, Any]
    #: (width, height) of the image the question's `image_field`/`media_field` names, when known
    #: (uploaded media, or `<field>_width`/`<field>_height` numbers in the payload); None when
    #: the image is only a URL of unknown size (then only non-negative coordinates are checked).
    image_size: tuple[int, int] | None = None
    #: The text the question's `text_field` names (text_spans); None for other types.
    text: str | None = None


@dataclass(frozen=True)
class Aggregate:
    """One item's aggregated label (the answer's shape, with per-shape `confidence` where the
    type has shapes) and the item's overall confidence in [0, 1]."""

    label: Any
    confidence: float
    method: str
    #: Per-judgment agreement with this label in [0, 1], in the order of the answers given:
    #: what worker skill from agreement and review views use.
    agreement: Sequence[float] = field(default_factory=tuple)


class AnnotationType(Protocol):
    """One question type. All functions are pure and deterministic."""

    #: The question `type` this module handles.
    name: str

    def question(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Canonical question (defaults filled in) or raise tasks.schema.InvalidQuestion."""
        ...

    def context(self, question: Mapping[str, Any], payload: Mapping[str, Any]) -> ItemContext:
        """The ItemContext of one item's payload for this question."""
        ...

    def answer(self, question: Mapping[str, Any], raw: Any, context: ItemContext) -> Any:
        """Normalised answer or raise tasks.schema.InvalidAnswer (its message names the bad
        part, e.g. "boxes[2] lies outside the 640x480 image"). Also used for gold."""
        ...

    def gold_score(self, question: Mapping[str, Any], answer: Any, gold: Any) -> float:
        """How well an answer matches gold, in [0, 1] (boxes/polygons: F1 at the question's
        IoU threshold, default 0.5; spans: span-level F1; transcription: 1 - normalised edit
        distance; choices and pairwise: 1.0 or 0.0)."""
        ...

    def gold_passes(self, question: Mapping[str, Any], score: float) -> bool:
        """Whether a gold score counts as correct (the gold rule counts passes)."""
        ...

    def aggregate(
        self,
        question: Mapping[str, Any],
        answers: Sequence[Any],
        weights: Sequence[float],
        context: ItemContext,
    ) -> Aggregate:
        """Combine one item's normalised answers, each weighted by its worker's skill in
        (0, 1], into an Aggregate. Must handle one answer, ties and empty answers."""
        ...
