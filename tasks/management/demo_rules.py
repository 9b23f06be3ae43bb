"""`make run`'s quality-rules bundle: a sentiment bundle with the speed rule (block a worker
when more than half of their answers take under 30% of the bundle's median time), worked to
the end by three careful workers at 15 to 45 s a task and a spammer clicking "pos" at about a
second a task. The speed rule blocks the spammer after five answers; their unreviewed work is
rejected and re-queued, the history row on the bundle page shows the figures, and the requester
can reverse it there. The careful workers' work is approved, which completes the bundle.

Time is simulated: each claim is dated back by the seconds the worker "took" before the answer
is recorded through the normal submit path.
"""

from __future__ import annotations

import io
import random
from datetime import timedelta

from django.db.models import F

from accounts.models import User
from accounts.services import user_create
from marketplace.errors import DomainError
from payments.services import balance_credit
from tasks import review, services, work
from tasks.models import Assignment, Bundle, QualityRuleEvent

RULES_TITLE = "Demo (finished): review sentiment, a spammer caught by the speed rule"
SPEED_RULE = {"collector": "answer_speed", "threshold": 0.5, "min_answers": 5, "action": "block"}
PHRASES = [
    ("Works great and very happy", "pos"), ("Broke in a day", "neg"), ("Five stars", "pos"),
    ("Waste of money", "neg"), ("Would buy again", "pos"), ("Terrible support", "neg"),
    ("Fantastic value", "pos"), ("Never arrived", "neg"),
]  # fmt: skip


def load_rules_demo(*, requester: User) -> list[str]:
    """Create and work the speed-rule bundle; the lines to print about it."""
    rng = random.Random(2027)
    bundle = services.bundle_create(
        requester=requester,
        data={
            "title": RULES_TITLE,
            "instructions": "Positive or negative?",
            "question": {"type": "single_choice", "choices": ["pos", "neg"]},
            "reward_minor": 5, "overlap": 3, "reject_blocked_work": True,
            "quality_rules": [SPEED_RULE],
        },
    )  # fmt: skip
    rows = ["external_id,text"]
    truth = {}
    for n in range(16):
        text, label = PHRASES[n % len(PHRASES)]
        rows.append(f"q{n:02d},{text} (#{n})")
        truth[f"{text} (#{n})"] = label
    services.bundle_add_items(
        bundle=bundle, by=requester, source=io.BytesIO("\n".join(rows).encode()),
        content_type="text/csv", filename="rules.csv",
    )  # fmt: skip
    balance_credit(
        requester=requester, amount_minor=2_000, currency="usd", reference="demo-funding-rules",
        by=None,
    )  # fmt: skip
    bundle = services.bundle_publish(bundle=bundle, by=requester)
    crowd = [
        (user_create(email=f"rules{n}@crowdmarket.local", password=None, worker=True), careful)
        for n, careful in ((1, True), (2, True), (3, True), (4, False))
    ]
    spammer = crowd[-1][0]
    spam_answers = 0
    active = list(crowd)
    while active:
        for worker, careful in list(active):
            try:
                task = work.assignment_claim(bundle=bundle, worker=worker)
            except DomainError:
                active.remove((worker, careful))
                continue
            seconds = rng.uniform(15, 45) if careful else rng.uniform(0.8, 1.5)
            Assignment.objects.filter(pk=task.pk).update(
                claimed_at=F("claimed_at") - timedelta(seconds=seconds)
            )
            right = truth[task.item.payload["text"]]
            wrong = "neg" if right == "pos" else "pos"
            answer = "pos" if not careful else (right if rng.random() < 0.92 else wrong)
            spam_answers += not careful
            done = work.submission_record(assignment_id=task.pk, worker=worker, answer=answer)
            # One transaction holds the whole demo: the follow-up a request would run on
            # commit (the rules engine weighing this answer) runs now.
            services.submission_follow_up(
                follow_up=done.follow_up
                or work.FollowUp(
                    assignment_id=task.pk, bundle_id=bundle.pk, worker_id=worker.pk,
                    item_id=task.item_id, is_gold=False,
                )
            )  # fmt: skip
    pending = bundle.assignments.filter(status="submitted").values_list("id", flat=True)
    review.assignments_review(requester=requester, assignment_ids=list(pending), approve=True)
    bundle = Bundle.objects.get(pk=bundle.pk)
    event = QualityRuleEvent.objects.filter(bundle=bundle, worker=spammer).first()
    how = f"blocked by the speed rule after {spam_answers} answers" if event else "NOT blocked"
    return [f"  speed-rule demo bundle #{bundle.pk} ({bundle.status}): spammer {how}"]
