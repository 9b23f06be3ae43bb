"""Result exports, each produced as a stream of chunks (text, or bytes for zips).

Every question type: `csv`, `jsonl`, `json` (`tabular`) and `labelstudio`. Boxes and polygons:
`coco`, `yolo` (zip), `voc` (zip of XML). Text spans: `spacy` and `conll` (JSONL). Pairwise:
`pairs` (JSONL `chosen`/`rejected`) and `ranking`. Rows are the results rows with the DESIGN's
label shapes (per-shape `confidence`), every judgment kept where the format has room for it.
No export names a storage key; media are signed URLs or file names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from marketplace.errors import DomainError
from tasks.models import Bundle

from . import coco, detection, labelstudio, pairs, spans, tabular

#: format -> content type
FORMATS = {
    "csv": "text/csv",
    "jsonl": "application/x-ndjson",
    "json": "application/json",
    "labelstudio": "application/json",
    "coco": "application/json",
    "yolo": "application/zip",
    "voc": "application/zip",
    "spacy": "application/x-ndjson",
    "conll": "application/x-ndjson",
    "pairs": "application/x-ndjson",
    "ranking": "application/json",
}
#: format -> file name ending of the download
EXTENSIONS = {
    "csv": "csv", "jsonl": "jsonl", "json": "json", "labelstudio": "labelstudio.json",
    "coco": "coco.json", "yolo": "yolo.zip", "voc": "voc.zip", "spacy": "spacy.jsonl",
    "conll": "conll.jsonl", "pairs": "pairs.jsonl", "ranking": "ranking.json",
}  # fmt: skip
GENERAL = ("csv", "jsonl", "json", "labelstudio")
BY_TYPE = {
    "bounding_box": ("coco", "yolo", "voc"),
    "polygon": ("coco", "yolo", "voc"),
    "text_spans": ("spacy", "conll"),
    "pairwise": ("pairs", "ranking"),
}
_PRODUCERS: dict[str, Callable[[Bundle, str], Iterator[Any]]] = {
    "csv": tabular.csv_rows,
    "jsonl": tabular.jsonl,
    "json": tabular.json_array,
    "labelstudio": labelstudio.labelstudio,
    "coco": coco.coco,
    "yolo": detection.yolo,
    "voc": detection.voc,
    "spacy": spans.spacy,
    "conll": spans.conll,
    "pairs": pairs.pairs,
    "ranking": pairs.ranking,
}


def formats_for(question: Mapping[str, Any]) -> tuple[str, ...]:
    """The export formats that fit a bundle's question, general ones first."""
    return GENERAL + BY_TYPE.get(str(question.get("type")), ())


def bundle_results_export(
    bundle: Bundle, fmt: str, *, base_url: str = ""
) -> tuple[str, Iterator[Any]]:
    """(content type, chunks) of a bundle's results in `fmt`. Raises DomainError
    `invalid_format` for an unknown format or one that does not fit the question (COCO of a
    sentiment bundle). Media URLs are absolute when `base_url` (the site's root) is given."""
    allowed = formats_for(bundle.question)
    if fmt not in allowed:
        raise DomainError(
            f"format must be one of {', '.join(allowed)} for a {bundle.question.get('type')} "
            "question.",
            code="invalid_format",
        )
    content_type = FORMATS[fmt]
    if not content_type.endswith("zip"):
        content_type += "; charset=utf-8"
    return content_type, _PRODUCERS[fmt](bundle, base_url)
