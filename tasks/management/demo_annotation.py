"""`make run`'s annotation bundles: object detection on generated street scenes (uploaded as a
zip of PNGs and a JSONL naming them) and named entities in sentences, each worked to the end by
the three demo workers with realistic noise, reviewed, and aggregated through the normal path
(approval completes the bundle; the whole-bundle aggregation runs on commit).

Gold: a quarter of the items carry their known truth.
"""

from __future__ import annotations

import io
import json
import random
import zipfile
from collections.abc import Callable
from typing import Any

from accounts.models import User
from marketplace.errors import DomainError
from payments.services import balance_credit
from tasks import review, services, work
from tasks.models import Bundle

from .demo_scenes import (
    BOX_LABELS,
    MIN_SIZE,
    SENTENCES,
    SPAN_LABELS,
    noisy_boxes,
    noisy_spans,
    scene,
    sentence_spans,
)

DETECTION_TITLE = "Demo (finished): cars, people and signs in street scenes"
NER_TITLE = "Demo (finished): people, organisations and places in sentences"
SCENES = 12
GOLD_EVERY = 4  # items 0, 4, 8, ... are gold
#: How careful each demo worker is (worker1, worker2, worker3).
SKILLS = (0.95, 0.85, 0.7)


def _labels(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"value": value, "label": label} for value, label in pairs]


def load_annotation_demo(*, requester: User, workers: list[User]) -> list[str]:
    """Create, work, review and finish the demo annotation bundles; returns lines to print."""
    balance_credit(requester=requester, amount_minor=20_000, currency="usd",
                   reference="demo-annotation-funding", by=None)  # fmt: skip
    lines = []
    for qtype, title, build in (
        ("bounding_box", DETECTION_TITLE, _detection),
        ("text_spans", NER_TITLE, _ner),
    ):
        bundle = build(requester, workers)
        formats = "coco" if qtype == "bounding_box" else "spacy"
        export = f"/api/v1/bundles/{bundle.pk}/results/?format={formats}"
        lines.append(f"  demo bundle #{bundle.pk} ({bundle.status}): {title}; export at {export}")
    return lines


def _detection(requester: User, workers: list[User]) -> Bundle:
    rng = random.Random(2027)
    scenes = [scene(f"scene-{n:02d}", rng) for n in range(1, SCENES + 1)]
    bundle = _bundle(requester, DETECTION_TITLE, {
        "type": "bounding_box", "image_field": "image", "labels": _labels(BOX_LABELS),
        "min_size": MIN_SIZE, "allow_empty": True,
        "prompt": "Draw a box around every car, person and traffic sign.",
    }, "Draw a tight box around **every** car, person and traffic sign; label each one. "
       "Nothing to mark? Submit no boxes.")  # fmt: skip
    lines = []
    for n, drawn in enumerate(scenes):
        item: dict[str, Any] = {"external_id": drawn.name,
                                "payload": {"image": f"images/{drawn.name}.png"}}  # fmt: skip
        if n % GOLD_EVERY == 0:
            item["gold"] = {"boxes": drawn.boxes}
        lines.append(json.dumps(item))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("items.jsonl", "\n".join(lines) + "\n")
        for drawn in scenes:
            zipped.writestr(f"images/{drawn.name}.png", drawn.png)
    services.bundle_add_items(bundle=bundle, by=requester,
                              source=io.BytesIO(archive.getvalue()),
                              content_type="application/zip", filename="scenes.zip")  # fmt: skip
    truth = {f"images/{s.name}.png": s.boxes for s in scenes}

    def answer(payload: dict[str, Any], skill: float) -> Any:
        return noisy_boxes(truth[payload["image"]], skill, rng)

    return _work(bundle, requester, workers, answer)


def _ner(requester: User, workers: list[User]) -> Bundle:
    rng = random.Random(2028)
    bundle = _bundle(requester, NER_TITLE, {
        "type": "text_spans", "text_field": "text", "labels": _labels(SPAN_LABELS),
        "allow_overlap": False, "prompt": "Mark every person, organisation and place.",
    }, "Select each name in the sentence and label it: **Person**, **Organisation** or "
       "**Place**. Mark whole names (\"Ada Lovelace\", not \"Ada\").")  # fmt: skip
    truth = {}
    lines = []
    for n, (text, entities) in enumerate(SENTENCES):
        spans = sentence_spans(text, entities)
        truth[text] = spans
        item: dict[str, Any] = {"external_id": f"s{n + 1:02d}", "payload": {"text": text}}
        if n % GOLD_EVERY == 0:
            item["gold"] = {"spans": spans}
        lines.append(json.dumps(item))
    source = io.BytesIO("\n".join(lines).encode())
    services.bundle_add_items(
        bundle=bundle, by=requester, source=source,
        content_type="application/x-ndjson", filename="ner.jsonl",
    )  # fmt: skip

    def answer(payload: dict[str, Any], skill: float) -> Any:
        return noisy_spans(payload["text"], truth[payload["text"]], skill, rng)

    return _work(bundle, requester, workers, answer)


def _bundle(requester: User, title: str, question: dict[str, Any], instructions: str) -> Bundle:
    return services.bundle_create(requester=requester, data={
        "title": title, "instructions": instructions, "question": question,
        "reward_minor": 8, "currency": "usd", "overlap": 3, "gold_rate": 0.2,
        "gold_feedback": True, "time_limit_seconds": 900,
    })  # fmt: skip


def _work(
    bundle: Bundle,
    requester: User,
    workers: list[User],
    answer: Callable[[dict[str, Any], float], Any],
) -> Bundle:
    """Publish, let the three demo workers take turns until nothing is left for them, approve
    everything (which completes the bundle) and hand back the finished bundle."""
    bundle = services.bundle_publish(bundle=bundle, by=requester)
    random.seed(2026)  # claims draw gold with the module's random: the same demo everywhere
    active = list(zip(workers, SKILLS, strict=True))
    while active:
        for worker, skill in list(active):
            try:
                task = work.assignment_claim(bundle=bundle, worker=worker)
            except DomainError:
                active.remove((worker, skill))
                continue
            done = work.submission_record(assignment_id=task.pk, worker=worker,
                                          answer=answer(task.item.payload, skill))  # fmt: skip
            if done.follow_up is not None:  # one transaction: no commit to wait for
                services.submission_follow_up(follow_up=done.follow_up)
    pending = bundle.assignments.filter(status="submitted").values_list("id", flat=True)
    review.assignments_review(requester=requester, assignment_ids=list(pending), approve=True)
    bundle.refresh_from_db()
    return bundle
