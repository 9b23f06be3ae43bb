"""Server-rendered bar charts for the requester's bundle page: plain numbers laid out here,
drawn as SVG by `web/console/_bar_chart.html` (autoescaped, no JavaScript, no library).

Each chart is a dict with `title`, `desc` (read by screen readers), `bars` (geometry and the
text beside each bar) and `rows` (the same data for the table shown under the chart)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.db.models import Count

from tasks.models import Bundle, ItemResult

from . import annotation, display

# Geometry in SVG user units; the SVG scales to the page width (viewBox), so 375 px works.
WIDTH = 640
LABEL_WIDTH = 170
VALUE_WIDTH = 90
BAR_HEIGHT = 22
GAP = 8
TOP = 8
# A generous width of one character of the labels (15px text): the label column grows to fit
# its longest label, so "w_0123456789ab (blocked)" is never clipped at the left edge.
CHAR_WIDTH = 9
# A chart with more bars than this is unreadable; the rest are summed into "Other".
MAX_BARS = 15
MAX_WORKER_BARS = 30


def _label_width(bars: list[dict[str, Any]]) -> int:
    """The label column: LABEL_WIDTH, or wider when a label (as the template truncates it, at
    24 characters) needs more room."""
    longest = max((min(len(str(bar["label"])), LABEL_CHARS) for bar in bars), default=0)
    return max(LABEL_WIDTH, longest * CHAR_WIDTH + 8)


# The template truncates a label to this many characters (`truncatechars:24`).
LABEL_CHARS = 24


def _bar_geometry(
    bars: list[dict[str, Any]], max_value: float, label_width: int = LABEL_WIDTH
) -> list[dict[str, Any]]:
    span = WIDTH - label_width - VALUE_WIDTH
    for n, bar in enumerate(bars):
        y = TOP + n * (BAR_HEIGHT + GAP)
        fraction = (bar["value"] / max_value) if max_value else 0.0
        bar.update(
            {
                "x": label_width,
                "y": y,
                "text_y": y + BAR_HEIGHT * 0.7,
                "width": round(span * fraction, 1),
                "value_x": label_width + round(span * fraction, 1) + 6,
                "height": BAR_HEIGHT,
            }
        )
        low, high = bar.get("low"), bar.get("high")
        if low is not None and high is not None:
            bar["whisker"] = {
                "x1": label_width + round(span * low, 1),
                "x2": label_width + round(span * high, 1),
                "y": y + BAR_HEIGHT / 2,
                "y1": y + 4,
                "y2": y + BAR_HEIGHT - 4,
            }
    return bars


def _chart(title: str, desc: str, bars: list[dict[str, Any]], max_value: float) -> dict[str, Any]:
    label_width = _label_width(bars)
    bars = _bar_geometry(bars, max_value, label_width)
    height = TOP * 2 + max(len(bars), 1) * (BAR_HEIGHT + GAP)
    return {
        "title": title,
        "desc": desc,
        "bars": bars,
        "width": WIDTH,
        "height": height,
        "label_x": label_width - 8,
    }


def label_counts(bundle: Bundle) -> list[tuple[str, int]]:
    """How many items got each aggregated label (ItemResult.label), as the labels a person
    reads. Choice questions list every choice in schema order (zeros included); a multiple-choice
    label counts once per chosen option, a shape answer once per shape label it has; other
    types are ordered by count. Grouped in the database, so a large bundle costs one query of
    distinct labels."""
    question = bundle.question
    grouped = (
        ItemResult.objects.filter(item__bundle=bundle, label__isnull=False)
        .values("label")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts: Counter[str] = Counter()
    for row in grouped:
        label = row["label"]
        for text in _label_texts(question, label):
            counts[text] += row["n"]
    if question.get("type") in ("single_choice", "multiple_choice"):
        ordered = [c["label"] for c in question.get("choices", [])]
        known = [(label, counts.pop(label, 0)) for label in ordered]
        return known + counts.most_common()
    if question.get("type") == "rating":
        scale = [str(v) for v in range(question["min"], question["max"] + 1)]
        known = [(label, counts.pop(label, 0)) for label in scale]
        return known + counts.most_common()
    return counts.most_common()


def _label_texts(question: dict[str, Any], label: Any) -> list[str]:
    """What one aggregated label counts as: each chosen option; for shape types (boxes,
    polygons, spans) each shape label the item has, once, whatever the shapes' order (a
    whole answer such as "2 boxes: Car, Person" would split one label into many bars), and
    "no boxes" for an item with none."""
    if question.get("type") in annotation.SHAPE_KEYS:
        found = list(dict.fromkeys(annotation.shape_labels(question, label)))
        return found or [display.answer_text(question, label)]
    values = label if isinstance(label, list) else [label]
    return [display.answer_text(question, value) for value in values]


def label_chart(bundle: Bundle) -> dict[str, Any] | None:
    pairs = label_counts(bundle)
    if not any(n for _, n in pairs):
        return None
    if len(pairs) > MAX_BARS:
        rest = sum(n for _, n in pairs[MAX_BARS - 1 :])
        pairs = [*pairs[: MAX_BARS - 1], ("Other", rest)]
    total = sum(n for _, n in pairs)
    bars = []
    rows = []
    for label, n in pairs:
        share = f"{n * 100 / total:.0f}%" if total else "0%"
        bars.append({"label": label, "value": n, "value_text": f"{n} ({share})"})
        rows.append({"label": label, "value": n, "share": share})
    summary = ", ".join(f"{label}: {n}" for label, n in pairs)
    chart = _chart(
        "Label distribution",
        f"Items per aggregated label, {total} labels in all. {summary}.",
        bars,
        max(n for _, n in pairs),
    )
    chart["rows"] = rows
    return chart


def accuracy_chart(workers: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Gold accuracy per worker with its 95% interval as a whisker; `workers` are rows of the
    bundle page (report fields plus `public_id`). Workers without gold answers are left out."""
    graded = [w for w in workers if w.get("gold_accuracy") is not None]
    if not graded:
        return None
    graded = sorted(graded, key=lambda w: (w["gold_accuracy"], w["public_id"]))[:MAX_WORKER_BARS]
    bars = []
    rows = []
    for w in graded:
        pct = f"{w['gold_accuracy'] * 100:.0f}%"
        interval = (
            f"{w['gold_accuracy_low'] * 100:.0f}–{w['gold_accuracy_high'] * 100:.0f}%"
            if w.get("gold_accuracy_low") is not None
            else ""
        )
        bars.append(
            {
                "label": w["public_id"] + (" (blocked)" if w["blocked"] else ""),
                "value": w["gold_accuracy"],
                "low": w.get("gold_accuracy_low"),
                "high": w.get("gold_accuracy_high"),
                "value_text": pct,
                "blocked": w["blocked"],
            }
        )
        rows.append(
            {
                "label": w["public_id"],
                "value": f"{w['gold_correct']} of {w['gold_seen']}",
                "share": pct,
                "interval": interval,
            }
        )
    chart = _chart(
        "Worker gold accuracy",
        f"Share of gold checks answered correctly by each of {len(graded)} workers, lowest "
        "first, with the 95% interval as a line.",
        bars,
        1.0,
    )
    chart["rows"] = rows
    return chart


def reliability_chart(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The reliability diagram as bars: per confidence bin with gold replays in it, the share
    that was right (the bar) next to the bin's mean confidence (in the text and the table). A
    calibrated bundle's bars match their confidence."""
    filled = [r for r in rows if r.get("n")]
    if not filled:
        return None
    bars, table = [], []
    for r in filled:
        label = f"{r['low'] * 100:.0f}–{r['high'] * 100:.0f}% confident"
        bars.append(
            {
                "label": label,
                "value": r["accuracy"],
                "value_text": f"{r['accuracy'] * 100:.0f}% right",
            }
        )
        table.append(
            {
                "label": label,
                "value": f"{r['n']} replays",
                "share": f"{r['confidence'] * 100:.1f}% stated, {r['accuracy'] * 100:.1f}% right",
            }
        )
    chart = _chart(
        "Confidence calibration",
        "For each confidence band, the share of held-out gold replays whose label was right. "
        "A calibrated confidence means what it says: bars match their band.",
        bars,
        1.0,
    )
    chart["rows"] = table
    return chart
