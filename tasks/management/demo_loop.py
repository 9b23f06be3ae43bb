"""The closed-loop demo bundle of `load_demo` (issue 14): review sentiment with the built-in
"text" model, auto-accept with a 5% audit, and pre-labels shown to workers. A simulated crowd
works part of it, so the bundle page shows model versions on the learning curve, items the
model settled alone, and the labels-per-dollar report; the rest stays open, and the demo workers
see the model's suggestion on the task page."""

from __future__ import annotations

import io
import random

from accounts.models import User
from accounts.services import user_create
from marketplace.errors import DomainError
from tasks import services, work
from tasks.models import Bundle, ItemState
from tasks.tasks import assist_decide_task, assist_retrain_task

LOOP_TITLE = "Demo (closed loop): review sentiment with a model in the loop"
ITEMS = 160
#: Completed items the crowd stops at, leaving the rest for the demo workers.
CROWD_STOPS_AT = 100
POSITIVE = ["great", "love", "excellent", "perfect", "happy", "recommend", "sturdy", "fast"]
NEGATIVE = ["broke", "waste", "terrible", "refund", "awful", "flimsy", "late", "useless"]
FILLER = ["the", "it", "box", "product", "after", "week", "was", "really", "my", "order"]


def load_loop_demo(*, requester: User) -> list[str]:
    """Create, fund, publish and partly work the closed-loop bundle; lines for the command."""
    rng = random.Random(2029)
    bundle = services.bundle_create(
        requester=requester,
        data={
            "title": LOOP_TITLE,
            "instructions": "Is this review **Positive** or **Negative**? The model's "
            "suggestion is shown above the answer: check it, do not copy it.",
            "question": {
                "type": "single_choice",
                "choices": [
                    {"value": "pos", "label": "Positive"},
                    {"value": "neg", "label": "Negative"},
                ],
            },
            "reward_minor": 5,
            "currency": "usd",
            "min_overlap": 0,
            "max_overlap": 5,
            "target_confidence": 0.95,
            "assist": {
                "model": "text", "auto_accept": True, "audit_rate": 0.05,
                "show_prelabels": True, "retrain_every": 20,
            },
        },
    )  # fmt: skip
    truth: dict[str, str] = {}
    rows = ["external_id,text"]
    for n in range(ITEMS):
        label = rng.choice(["pos", "neg"])
        words = rng.sample(POSITIVE if label == "pos" else NEGATIVE, 3)
        if rng.random() < 0.3:  # a mixed review: one word of the other side
            words[2] = rng.choice(NEGATIVE if label == "pos" else POSITIVE)
        if rng.random() < 0.15:  # a terse review: one telling word, hard for the model
            words = words[:1]
        text = " ".join(rng.sample(words + rng.sample(FILLER, 6 - len(words)), 6))
        truth[f"l{n:03d}"] = label
        rows.append(f"l{n:03d},{text}")
    services.bundle_add_items(
        bundle=bundle, by=requester, source=io.BytesIO("\n".join(rows).encode()),
        content_type="text/csv", filename="loop.csv",
    )  # fmt: skip
    bundle = services.bundle_publish(bundle=bundle, by=requester)
    assist_decide_task(bundle.pk)  # what publishing schedules on commit (the demo is one)
    _crowd_works(bundle, truth, rng)
    done = bundle.items.filter(state=ItemState.COMPLETE, is_gold=False).count()
    return [
        f"  closed-loop demo bundle #{bundle.pk}: {done} of {ITEMS} labelled; learning curve "
        f"and labels per dollar on its page, pre-labels on its tasks"
    ]


def _crowd_works(bundle: Bundle, truth: dict[str, str], rng: random.Random) -> None:
    """Four careful workers and a sloppy one answer until CROWD_STOPS_AT items are complete.
    The whole demo is one transaction, so what commits would schedule (the quality follow-up,
    retraining and the decisions it triggers) is run here, in order."""
    crowd = [
        (user_create(email=f"loop{n}@crowdmarket.local", password=None, worker=True), skill)
        for n, skill in ((1, 0.95), (2, 0.9), (3, 0.9), (4, 0.9), (5, 0.65))
    ]
    active = list(crowd)
    items = bundle.items
    while active and items.filter(state=ItemState.COMPLETE).count() < CROWD_STOPS_AT:
        for worker, skill in list(active):
            try:
                task = work.assignment_claim(bundle=bundle, worker=worker)
            except DomainError:
                active.remove((worker, skill))
                continue
            right = truth[items.get(pk=task.item_id).external_id]
            wrong = "neg" if right == "pos" else "pos"
            answer = right if rng.random() < skill else wrong
            done = work.submission_record(assignment_id=task.pk, worker=worker, answer=answer)
            if done.follow_up is not None:
                services.submission_follow_up(follow_up=done.follow_up)
            assist_retrain_task(bundle.pk)  # trains only when due; cheap otherwise
