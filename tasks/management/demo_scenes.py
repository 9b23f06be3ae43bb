"""Demo data with a known truth: street scenes drawn with Pillow, sentences with their entities,
and simulated workers who answer them with realistic noise.

Each object of a scene is drawn on its own transparent layer and its truth box is that layer's
bounding box (`Image.getbbox`), so the truth is exactly what was drawn. Workers jitter edges,
miss small objects, mix up labels now and then and sometimes add a box where there is nothing;
on text they cut or stretch an entity by a word, skip one or mislabel it. Everything is
deterministic for a given random generator, and every answer has the DESIGN's shape.
"""

from __future__ import annotations

import io
import random
import re
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw

WIDTH, HEIGHT = 320, 240
MIN_SIZE = 4
BOX_LABELS = [("car", "Car"), ("person", "Person"), ("sign", "Traffic sign")]
SPAN_LABELS = [("PER", "Person"), ("ORG", "Organisation"), ("LOC", "Place")]
_CAR_COLOURS = ["#c0392b", "#2e86c1", "#f1c40f", "#27ae60", "#8e44ad", "#34495e"]
_SHIRTS = ["#e67e22", "#16a085", "#d35400", "#7f8c8d", "#2c3e50"]


@dataclass(frozen=True)
class Scene:
    name: str
    png: bytes
    boxes: list[dict[str, Any]]  # the truth: {"label", "x", "y", "w", "h"}


def _background() -> Image.Image:
    image = Image.new("RGB", (WIDTH, HEIGHT), "#aed6f1")
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 150, WIDTH, HEIGHT], fill="#7b7d7d")  # road
    draw.rectangle([0, 140, WIDTH, 150], fill="#a9a9a9")  # pavement
    for x in range(0, WIDTH, 40):
        draw.rectangle([x, 192, x + 20, 196], fill="#fdfefe")  # lane markings
    return image


def _car(draw: ImageDraw.ImageDraw, x: int, y: int, rng: random.Random) -> None:
    length = rng.randint(56, 90)
    height = length * 2 // 5
    colour = rng.choice(_CAR_COLOURS)
    draw.rounded_rectangle([x, y + height // 3, x + length, y + height], 6, fill=colour)
    draw.rounded_rectangle([x + length // 5, y, x + length * 4 // 5, y + height // 2], 5,
                           fill=colour)  # fmt: skip
    draw.rectangle([x + length // 4, y + 4, x + length * 3 // 4, y + height // 3], fill="#d6eaf8")
    wheel = max(height // 3, 6)
    for cx in (x + length // 5, x + length * 4 // 5):
        draw.ellipse([cx - wheel // 2, y + height - wheel // 2, cx + wheel // 2,
                      y + height + wheel // 2], fill="#17202a")  # fmt: skip


def _person(draw: ImageDraw.ImageDraw, x: int, y: int, rng: random.Random) -> None:
    tall = rng.randint(34, 52)
    head = tall // 5
    draw.ellipse([x + 2, y, x + 2 + head, y + head], fill="#f5cba7")
    draw.rectangle([x, y + head, x + head + 4, y + tall * 3 // 5], fill=rng.choice(_SHIRTS))
    draw.rectangle([x + 1, y + tall * 3 // 5, x + head + 3, y + tall], fill="#1b2631")


def _sign(draw: ImageDraw.ImageDraw, x: int, y: int, rng: random.Random) -> None:
    size = rng.randint(16, 26)
    draw.rectangle([x + size // 2 - 1, y + size, x + size // 2 + 1, y + size * 3], fill="#566573")
    if rng.random() < 0.5:
        draw.polygon([(x, y + size), (x + size, y + size), (x + size // 2, y)], fill="#e74c3c")
    else:
        draw.ellipse([x, y, x + size, y + size], fill="#2874a6")


_DRAW = {"car": _car, "person": _person, "sign": _sign}
# Where each kind stands: (x range, y range) of its top-left corner.
_PLACES = {"car": ((5, 220), (150, 175)), "person": ((5, 290), (100, 140)),
           "sign": ((5, 295), (60, 100))}  # fmt: skip


def _overlaps(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return not (a["x"] + a["w"] + 3 <= b["x"] or b["x"] + b["w"] + 3 <= a["x"]
                or a["y"] + a["h"] + 3 <= b["y"] or b["y"] + b["h"] + 3 <= a["y"])  # fmt: skip


def scene(name: str, rng: random.Random) -> Scene:
    """One street scene with one to four objects that do not touch, and its truth boxes."""
    image = _background()
    boxes: list[dict[str, Any]] = []
    wanted = rng.choices(list(_DRAW), weights=[3, 2, 1], k=rng.randint(1, 4))
    for label in wanted:
        for _ in range(20):  # a few tries to find a free spot
            layer = Image.new("RGBA", (WIDTH, HEIGHT), (0, 0, 0, 0))
            (x_low, x_high), (y_low, y_high) = _PLACES[label]
            _DRAW[label](ImageDraw.Draw(layer), rng.randint(x_low, x_high),
                         rng.randint(y_low, y_high), rng)  # fmt: skip
            left, top, right, bottom = layer.getbbox() or (0, 0, 0, 0)
            box = {"label": label, "x": left, "y": top, "w": right - left, "h": bottom - top}
            inside = right <= WIDTH and bottom <= HEIGHT and box["w"] >= MIN_SIZE
            if inside and not any(_overlaps(box, other) for other in boxes):
                image.paste(layer, (0, 0), layer)
                boxes.append(box)
                break
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return Scene(name=name, png=buffer.getvalue(), boxes=sorted(boxes, key=lambda b: b["x"]))


def noisy_boxes(truth: list[dict[str, Any]], skill: float, rng: random.Random) -> dict:
    """A worker's `bounding_box` answer: each true box jittered (more for a weaker worker),
    sometimes missed (small ones more often) or mislabelled, and now and then an extra box."""
    sloppiness = 1 - skill
    boxes = []
    for box in truth:
        small = box["w"] * box["h"] < 900
        if rng.random() < sloppiness * (0.9 if small else 0.4):
            continue
        spread = 1.0 + 12 * sloppiness
        left = box["x"] + rng.gauss(0, spread)
        top = box["y"] + rng.gauss(0, spread)
        right = box["x"] + box["w"] + rng.gauss(0, spread)
        bottom = box["y"] + box["h"] + rng.gauss(0, spread)
        label = box["label"]
        if rng.random() < sloppiness * 0.3:
            label = rng.choice([v for v, _ in BOX_LABELS if v != label])
        boxes.append(_clamped(label, left, top, right, bottom))
    if rng.random() < sloppiness * 0.5:
        x, y = rng.uniform(0, WIDTH - 40), rng.uniform(0, HEIGHT - 40)
        boxes.append(_clamped(rng.choice(BOX_LABELS)[0], x, y, x + rng.uniform(12, 40),
                              y + rng.uniform(12, 40)))  # fmt: skip
    return {"boxes": boxes}


def _clamped(label: str, left: float, top: float, right: float, bottom: float) -> dict:
    x = min(max(round(left), 0), WIDTH - MIN_SIZE)
    y = min(max(round(top), 0), HEIGHT - MIN_SIZE)
    w = min(max(round(right) - x, MIN_SIZE), WIDTH - x)
    h = min(max(round(bottom) - y, MIN_SIZE), HEIGHT - y)
    return {"label": label, "x": x, "y": y, "w": w, "h": h}


SENTENCES = [
    ("Ada Lovelace wrote the first program in London.",
     [("Ada Lovelace", "PER"), ("London", "LOC")]),
    ("Grace Hopper joined the Navy and later worked at Remington Rand.",
     [("Grace Hopper", "PER"), ("Navy", "ORG"), ("Remington Rand", "ORG")]),
    ("The Red Cross opened a clinic in Nairobi last spring.",
     [("Red Cross", "ORG"), ("Nairobi", "LOC")]),
    ("Marie Curie taught at the University of Paris.",
     [("Marie Curie", "PER"), ("University of Paris", "ORG")]),
    ("Alan Turing ran along the Thames near Teddington.",
     [("Alan Turing", "PER"), ("Thames", "LOC"), ("Teddington", "LOC")]),
    ("Toyota built a new plant outside Lisbon.",
     [("Toyota", "ORG"), ("Lisbon", "LOC")]),
    ("Katherine Johnson checked the orbit for NASA.",
     [("Katherine Johnson", "PER"), ("NASA", "ORG")]),
    ("Oxfam and UNICEF sent water to Port-au-Prince.",
     [("Oxfam", "ORG"), ("UNICEF", "ORG"), ("Port-au-Prince", "LOC")]),
    ("Nikola Tesla moved from Smiljan to New York.",
     [("Nikola Tesla", "PER"), ("Smiljan", "LOC"), ("New York", "LOC")]),
    ("Wangari Maathai founded the Green Belt Movement in Kenya.",
     [("Wangari Maathai", "PER"), ("Green Belt Movement", "ORG"), ("Kenya", "LOC")]),
    ("The Louvre lent two paintings to the Prado in Madrid.",
     [("Louvre", "ORG"), ("Prado", "ORG"), ("Madrid", "LOC")]),
    ("Srinivasa Ramanujan wrote to G. H. Hardy from Madras.",
     [("Srinivasa Ramanujan", "PER"), ("G. H. Hardy", "PER"), ("Madras", "LOC")]),
]  # fmt: skip


def sentence_spans(text: str, entities: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The truth spans of a sentence: character offsets of each entity, `end` exclusive."""
    spans, start = [], 0
    for phrase, label in entities:
        found = text.index(phrase, start)
        spans.append({"start": found, "end": found + len(phrase), "label": label})
        start = found + len(phrase)
    return spans


def noisy_spans(text: str, truth: list[dict[str, Any]], skill: float, rng: random.Random) -> dict:
    """A worker's `text_spans` answer: entities sometimes missed, mislabelled, cut short or
    stretched by a word; never overlapping (the demo question does not allow it)."""
    sloppiness = 1 - skill
    words = [(m.start(), m.end()) for m in re.finditer(r"[\w.-]+", text)]
    spans: list[dict[str, Any]] = []
    for span in truth:
        if rng.random() < sloppiness * 0.4:
            continue
        start, end, label = span["start"], span["end"], span["label"]
        if rng.random() < sloppiness * 0.5:
            inner = [w for w in words if start <= w[0] and w[1] <= end]
            after = [w for w in words if w[0] > end]
            if len(inner) > 1 and rng.random() < 0.5:
                end = inner[-2][1]  # one word short
            elif after:
                end = after[0][1]  # one word too far
        if rng.random() < sloppiness * 0.3:
            label = rng.choice([v for v, _ in SPAN_LABELS if v != label])
        end = min(end, len(text))
        if all(end <= s["start"] or start >= s["end"] for s in spans):
            spans.append({"start": start, "end": end, "label": label})
    return {"spans": sorted(spans, key=lambda s: s["start"])}
