"""Text spans for NER trainers: spaCy-style JSONL and CoNLL-style JSONL (tokens and BIO tags).

`spacy`: one line per labelled item, `{"text", "spans": [{"start", "end", "label",
"confidence"}], "entities": [[start, end, label], ...], "meta": {...}, "judgments": [...]}`.
Offsets are Python string indices, `end` exclusive, as in our answers (and as spaCy's
`Doc.char_span` takes them). `spans` holds every span; `entities` the ones that can be a
`Doc.ents` at once (no overlaps: longer first, then earlier, when the question allows overlap).

`conll`: one line per labelled item, `{"id", "tokens", "ner_tags", "token_offsets", ...}` as
the CoNLL-2003 datasets lay it out (tags as IOB2 strings). Tokens are runs of word characters
and single other characters; a token is inside an entity when its first character is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from tasks.models import Bundle

from .common import dumps, judgments_of, payload_text, result_rows, shapes

_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def _labelled(bundle: Bundle) -> Iterator[tuple[dict[str, Any], str, list[dict[str, Any]]]]:
    field = str(bundle.question.get("text_field", "text"))
    for row in result_rows(bundle):
        found = shapes(row["label"], "spans")
        text = payload_text(row, field)
        if found is not None and text is not None:
            yield row, text, found


def _meta(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"item_id": row["item_id"], "external_id": row["external_id"],
            "is_gold": row["is_gold"], "confidence": row["confidence"],
            "method": row["method"]}  # fmt: skip


def entities(spans: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    """Non-overlapping spans, longest then earliest first, in text order."""
    chosen: list[tuple[int, int, str]] = []
    for span in sorted(spans, key=lambda s: (-(int(s["end"]) - int(s["start"])), int(s["start"]))):
        start, end = int(span["start"]), int(span["end"])
        if all(end <= s or start >= e for s, e, _ in chosen):
            chosen.append((start, end, str(span["label"])))
    return [list(e) for e in sorted(chosen)]


def spacy(bundle: Bundle, base_url: str = "") -> Iterator[str]:
    for row, text, found in _labelled(bundle):
        spans = []
        for span in sorted(found, key=lambda s: (int(s["start"]), int(s["end"]))):
            entry = {"start": int(span["start"]), "end": int(span["end"]), "label": span["label"]}
            if span.get("confidence") is not None:
                entry["confidence"] = span["confidence"]
            elif row["method"] == "gold":
                entry["confidence"] = 1.0
            spans.append(entry)
        line = {"text": text, "spans": spans, "entities": entities(found), "meta": _meta(row),
                "judgments": judgments_of(row)}  # fmt: skip
        yield dumps(line) + "\n"


def bio_tags(text: str, spans: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[str], list]:
    """(tokens, IOB2 tags, [start, end] per token) of a text and its spans."""
    tokens, offsets, tags = [], [], []
    chosen = entities(spans)
    for match in _TOKEN.finditer(text):
        start = match.start()
        tokens.append(match.group())
        offsets.append([start, match.end()])
        tag = "O"
        for s, e, label in chosen:
            if s <= start < e:
                inside = any(o[0] >= s and o[0] < start for o in offsets[:-1])
                tag = f"{'I' if inside else 'B'}-{label}"
                break
        tags.append(tag)
    return tokens, tags, offsets


def conll(bundle: Bundle, base_url: str = "") -> Iterator[str]:
    for row, text, found in _labelled(bundle):
        tokens, tags, offsets = bio_tags(text, found)
        line = {"id": row["external_id"] or str(row["item_id"]), "tokens": tokens,
                "ner_tags": tags, "token_offsets": offsets, "meta": _meta(row)}  # fmt: skip
        yield dumps(line) + "\n"
