"""Demo data: a bundle whose crowd hides a planted ring (issue 13). Four of twelve workers
collude: they answer the gold questions right and, elsewhere, two of them at a time take the
same item and copy one random answer. The whole-bundle run flags them as a ring, with the
evidence on the bundle page (`/bundles/<id>/`, "Possible rings") and in the API
(`/api/v1/bundles/<id>/quality/`), and counts them as about one voter."""

from __future__ import annotations

import io
import random

from accounts.models import User
from accounts.services import user_create
from marketplace.errors import DomainError
from tasks import services, work
from tasks.escrow import escrow_settle
from tasks.lifecycle import bundle_complete_if_done
from tasks.models import Bundle
from tasks.quality.bundle_aggregation import bundle_aggregate

RING_TITLE = "Demo: topic of a headline, a planted ring flagged"
TOPICS = ["sport", "politics", "science", "culture"]


def load_ring_demo(*, requester: User, seed: int = 2026) -> Bundle:
    rng = random.Random(seed)
    random.seed(seed)  # the claim path mixes in gold with the module's random
    bundle = services.bundle_create(
        requester=requester,
        data={
            "title": RING_TITLE,
            "instructions": "Which topic is this headline about?",
            "question": {"type": "single_choice", "choices": TOPICS},
            "reward_minor": 3,
            "overlap": 3,
            "gold_rate": 0.15,
        },
    )
    rows = ["external_id,text,gold"]
    truth: dict[str, str] = {}
    for n in range(100):
        topic = TOPICS[n % 4]
        text = f"Headline {n:03d} about {topic}"
        rows.append(f"h{n:03d},{text},{topic if n >= 90 else ''}")
        truth[text] = topic
    services.bundle_add_items(
        bundle=bundle, by=requester, source=io.BytesIO("\n".join(rows).encode()),
        content_type="text/csv", filename="ring.csv",
    )  # fmt: skip
    bundle = services.bundle_publish(bundle=bundle, by=requester)
    honest = [
        user_create(email=f"honest{n}@crowdmarket.local", password=None, worker=True)
        for n in range(1, 9)
    ]
    ring = [
        user_create(email=f"ring{n}@crowdmarket.local", password=None, worker=True)
        for n in range(1, 5)
    ]
    shared: dict[int, str] = {}
    idle = 0
    while idle < 30:
        group = rng.sample(ring, 2) if rng.random() < 0.35 else [rng.choice(honest)]
        worked = False
        for worker in group:
            try:
                task = work.assignment_claim(bundle=bundle, worker=worker)
            except DomainError:
                continue
            worked = True
            right = truth[task.item.payload["text"]]
            if worker in ring:
                answer = (
                    right if task.is_gold else shared.setdefault(task.item_id, rng.choice(TOPICS))
                )
            elif rng.random() < 0.85:
                answer = right
            else:
                answer = rng.choice([t for t in TOPICS if t != right])
            done = work.submission_record(assignment_id=task.pk, worker=worker, answer=answer)
            if done.follow_up is not None:
                services.submission_follow_up(follow_up=done.follow_up)
        idle = 0 if worked else idle + 1
    # What the live update runs after the last answer: all items complete, the bundle is
    # completed (its answers wait for review), its escrow settled, and the whole-bundle run.
    bundle_complete_if_done(bundle_id=bundle.pk)
    escrow_settle(bundle_id=bundle.pk)
    bundle_aggregate(bundle_id=bundle.pk)
    bundle.refresh_from_db()
    return bundle
