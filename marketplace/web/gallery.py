"""The template gallery of /bundles/new/: ready question schemas for the work AI teams buy,
each with instructions and a sample item, so the live preview shows the worker's real page.

A template only fills the create form (the requester edits anything before creating the
draft); the question it fills is validated like any other. Sample images are static files."""

from __future__ import annotations

from typing import Any

from django.templatetags.static import static

STREET = ("img/samples/street.png", 640, 400)
LINE = ("img/samples/line.png", 480, 80)


def _image(sample: tuple[str, int, int], field: str = "image") -> dict[str, Any]:
    path, width, height = sample
    return {field: static(path), f"{field}_width": width, f"{field}_height": height}


def templates() -> list[dict[str, Any]]:
    """The gallery, in the order shown. `question` is what the create form submits."""
    return [
        {
            "slug": "sentiment",
            "name": "Sentiment",
            "what": "Positive or negative, one key press",
            "title": "Is this review positive?",
            "instructions": "Read the review. Pick **Positive** if the customer is happy, "
            "**Negative** otherwise.",
            "question": {
                "type": "single_choice",
                "prompt": "How does the customer feel?",
                "choices": [
                    {"value": "pos", "label": "Positive"},
                    {"value": "neg", "label": "Negative"},
                ],
            },
            "sample": {"text": "Arrived quickly and works perfectly. Would buy again."},
        },
        {
            "slug": "image-classification",
            "name": "Image classification",
            "what": "One label per image, zoomable",
            "title": "What kind of scene is this?",
            "instructions": "Look at the whole image (zoom with + and −). Pick the one label "
            "that fits best.",
            "question": {
                "type": "image_classification",
                "image_field": "image",
                "prompt": "What kind of scene is this?",
                "choices": [
                    {"value": "street", "label": "Street"},
                    {"value": "indoor", "label": "Indoor"},
                    {"value": "nature", "label": "Nature"},
                ],
                "multiple": False,
            },
            "sample": _image(STREET),
        },
        {
            "slug": "object-detection",
            "name": "Object detection",
            "what": "Boxes around cars and people",
            "title": "Draw a box around every car and person",
            "instructions": "Draw a tight box around **every** car and person, including "
            "partly hidden ones. Pick the label first (keys 1–3). If there is nothing to mark, "
            "tick *Nothing to mark*.",
            "question": {
                "type": "bounding_box",
                "image_field": "image",
                "labels": [
                    {"value": "car", "label": "Car"},
                    {"value": "person", "label": "Person"},
                    {"value": "bicycle", "label": "Bicycle"},
                ],
                "min_size": 4,
                "allow_empty": True,
            },
            "sample": _image(STREET),
        },
        {
            "slug": "segmentation",
            "name": "Segmentation",
            "what": "Polygons around road and lanes",
            "title": "Outline the road and the cars",
            "instructions": "Click around the outline of each region; close the polygon on "
            "its first point (or press Enter). Drag a point to fix it.",
            "question": {
                "type": "polygon",
                "image_field": "image",
                "labels": [
                    {"value": "road", "label": "Road"},
                    {"value": "lane", "label": "Lane marking"},
                    {"value": "car", "label": "Car"},
                ],
            },
            "sample": _image(STREET),
        },
        {
            "slug": "ner",
            "name": "Named entities (NER)",
            "what": "Mark people, organisations, places",
            "title": "Mark the names in each sentence",
            "instructions": "Select each name (mouse, finger or Shift+arrows) and press its "
            "label key: **1** person, **2** organisation, **3** place, **4** other. Leave out "
            "titles such as *Mr* or *Dr*.",
            "question": {
                "type": "text_spans",
                "text_field": "text",
                "labels": [
                    {"value": "PER", "label": "Person"},
                    {"value": "ORG", "label": "Organisation"},
                    {"value": "LOC", "label": "Place"},
                    {"value": "MISC", "label": "Other"},
                ],
                "allow_overlap": False,
            },
            "sample": {
                "text": "Ada Lovelace wrote to Charles Babbage from London about the "
                "Analytical Engine."
            },
        },
        {
            "slug": "transcription",
            "name": "Transcription",
            "what": "Type the text of an image or recording",
            "title": "Type the line of text",
            "instructions": "Type the text exactly as written, including punctuation. Case "
            "and extra spaces do not matter.",
            "question": {
                "type": "transcription",
                "media_field": "image",
                "normalize": ["case", "whitespace"],
            },
            "sample": _image(LINE),
        },
        {
            "slug": "response-preference",
            "name": "Response preference",
            "what": "Which answer is better? (RLHF pairs)",
            "title": "Which answer is more helpful?",
            "instructions": "Read the question and both answers. Pick the one that is more "
            "helpful, correct and harmless (keys 1/← and 2/→), or a tie (3 or T). Say why in "
            "a sentence.",
            "question": {
                "type": "pairwise",
                "left_field": "a",
                "right_field": "b",
                "allow_tie": True,
                "reason": "optional",
            },
            "sample": {
                "question": "How do I boil an egg?",
                "a": "Put the egg in boiling water for 7 minutes, then cool it in cold water.",
                "b": "Eggs are a good source of protein.",
                "a_id": "model-a",
                "b_id": "model-b",
            },
        },
    ]


def sample_payload(*, slug: str | None, question_type: str) -> dict[str, Any]:
    """The sample item of the chosen template, else of the first template of that type (the
    sentiment review for the plain choice, text, number and rating questions)."""
    gallery = templates()
    for entry in gallery:
        if entry["slug"] == slug and entry["question"]["type"] == question_type:
            return entry["sample"]
    for entry in gallery:
        if entry["question"]["type"] == question_type:
            return entry["sample"]
    return gallery[0]["sample"]
