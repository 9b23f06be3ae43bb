"""Demo data for `make run`: an admin, a requester with a published bundle, three workers,
a finished bundle worked by a simulated crowd (three careful workers and a spammer whom
the gold questions catch), so results, labels, confidences and blocks can be seen at once,
and the annotation bundles (object detection on generated images, named entities) that the
three demo workers finished (`tasks.management.demo_annotation`), and the closed-loop bundle
(`tasks.management.demo_loop`: pre-labels, the learning curve, labels per dollar).

Idempotent: running it again keeps what exists and prints the logins again."""

import io
import random

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.test.utils import override_settings

from accounts.models import RequesterProfile, User
from accounts.services import user_create
from marketplace.errors import DomainError
from payments.services import balance_credit
from tasks import messaging, review, services, work
from tasks.management.demo_annotation import load_annotation_demo
from tasks.management.demo_loop import load_loop_demo
from tasks.management.demo_ring import RING_TITLE, load_ring_demo
from tasks.management.demo_rules import load_rules_demo
from tasks.models import Bundle

PASSWORD = "demo-pass-2026"  # noqa: S105 - published demo logins, never used in production
ADMIN = "admin@crowdmarket.local"
REQUESTER = "requester@crowdmarket.local"
WORKERS = [f"worker{n}@crowdmarket.local" for n in (1, 2, 3)]

REVIEWS = [
    ("r01", "Arrived quickly and works perfectly.", ""),
    ("r02", "Broke after two days, very disappointed.", ""),
    ("r03", "Exactly as described, would buy again.", ""),
    ("r04", "The worst customer service I have ever had.", ""),
    ("r05", "Decent value for the price.", ""),
    ("r06", "Stopped charging within a week.", ""),
    ("r07", "My kids love it!", ""),
    ("r08", "Smells strange and the paint peels.", ""),
    ("r09", "Fits well and looks great.", ""),
    ("r10", "Never arrived; refund took a month.", ""),
    ("r11", "Solid build quality, easy setup.", ""),
    ("r12", "Instructions were useless.", ""),
    ("g01", "Absolutely wonderful, five stars.", "pos"),
    ("g02", "Complete waste of money.", "neg"),
    ("g03", "I am thrilled with this purchase.", "pos"),
    ("g04", "Terrible, it broke immediately.", "neg"),
]


class Command(BaseCommand):
    help = "Load demo accounts and a published demo bundle (idempotent)."

    def add_arguments(self, parser):
        # `make run` passes the address it serves (HOST), so the printed links are right.
        parser.add_argument("--base-url", default=None, help="Address printed in the links.")

    def handle(self, *args, **options):
        base = (options.get("base_url") or settings.SITE_URL).rstrip("/")
        # The mail the demo sends links to the site it is served at, not the default's port
        # (`make run` passes SITE_URL to the server for the mail it sends later).
        with override_settings(SITE_URL=base), transaction.atomic():
            self._load(base)

    def _load(self, base: str) -> None:
        if not User.objects.filter(email=ADMIN).exists():
            user_create(email=ADMIN, password=PASSWORD, staff=True)
        requester = None
        if not User.objects.filter(email=REQUESTER).exists():
            requester = user_create(email=REQUESTER, password=PASSWORD, requester=True)
            self._demo_bundle(requester)
            self._finished_bundle(requester)
            load_ring_demo(requester=requester)
        for email in WORKERS:
            if not User.objects.filter(email=email).exists():
                user_create(email=email, password=PASSWORD, worker=True, country="US")
        annotation_lines: list[str] = []
        if requester is not None:  # the three demo workers answer the annotation bundles
            workers = [User.objects.get(email=email) for email in WORKERS]
            annotation_lines = load_annotation_demo(requester=requester, workers=workers)
            self._demo_messages(requester, workers[0])
            annotation_lines += load_rules_demo(requester=requester)
            annotation_lines += load_loop_demo(requester=requester)
        self.stdout.write(self.style.SUCCESS(f"Demo logins (password for all: {PASSWORD})"))
        self.stdout.write(f"  admin      {ADMIN}   -> {base}/admin/")
        self.stdout.write(f"  requester  {REQUESTER}")
        for email in WORKERS:
            self.stdout.write(f"  worker     {email}")
        self.stdout.write(f"  API docs   {base}/api/docs/")
        finished = Bundle.objects.filter(title=FINISHED_TITLE).first()
        if finished is not None:
            blocked = finished.worker_stats.filter(blocked=True).count()
            self.stdout.write(
                f"  finished demo bundle #{finished.pk} ({finished.status}): "
                f"{blocked} spammer blocked; results at /api/v1/bundles/{finished.pk}/results/"
            )
        ringed = Bundle.objects.filter(title=RING_TITLE).first()
        if ringed is not None:
            rings = ringed.rings.filter(dismissed_at__isnull=True).count()
            self.stdout.write(
                f"  ring demo bundle #{ringed.pk} ({ringed.status}): {rings} ring flagged; "
                f"evidence at /api/v1/bundles/{ringed.pk}/quality/"
            )
        for line in annotation_lines:
            self.stdout.write(line)

    def _demo_messages(self, requester, worker):
        """A question and its answer on a bundle the first demo worker worked on, so the
        Messages page and its unread count have something to show."""
        RequesterProfile.objects.filter(user=requester).update(organization="Demo Data Lab")
        bundle = Bundle.objects.filter(requester=requester, assignments__worker=worker).first()
        if bundle is None:
            return
        thread = messaging.worker_thread_open(worker=worker, bundle_id=bundle.pk)
        messaging.message_post(
            thread=thread, author=worker, body="Should partly hidden objects get a box too?"
        )
        messaging.message_post(
            thread=thread,
            author=requester,
            body="Yes: box the visible part, as long as you can tell what it is.",
        )

    def _demo_bundle(self, requester):
        bundle = services.bundle_create(
            requester=requester,
            data={
                "title": "Is this product review positive?",
                "instructions": "Read the review and choose **Positive** or **Negative**.",
                "question": {
                    "type": "single_choice",
                    "choices": [
                        {"value": "pos", "label": "Positive"},
                        {"value": "neg", "label": "Negative"},
                    ],
                },
                "reward_minor": 5,
                "currency": "usd",
                "overlap": 3,
                "gold_rate": 0.2,
                "min_gold_accuracy": 0.7,
                "time_limit_seconds": 600,
            },
        )
        lines = ["external_id,text,gold"] + [f'{i},"{t}",{g}' for i, t, g in REVIEWS]
        services.bundle_add_items(
            bundle=bundle,
            by=requester,
            source=io.BytesIO("\n".join(lines).encode()),
            content_type="text/csv",
            filename="demo.csv",
        )
        self._fund(requester, bundle)
        services.bundle_publish(bundle=bundle, by=requester)

    def _fund(self, requester, bundle):
        """Give the demo requester a balance (an admin credit, as for an invoice paid)."""
        balance_credit(
            requester=requester,
            amount_minor=10_000,
            currency="usd",
            reference="demo-funding",
            by=None,
        )

    def _finished_bundle(self, requester):
        """A bundle the simulated crowd works to the end: the spammer answers at random, is
        blocked by the gold rule and their work rejected; the rest is approved and aggregated."""
        rng = random.Random(2026)
        random.seed(2026)  # the claim path mixes in gold at random: keep the demo repeatable
        bundle = services.bundle_create(
            requester=requester,
            data={
                "title": FINISHED_TITLE,
                "instructions": "Positive or negative?",
                "question": {"type": "single_choice", "choices": ["pos", "neg"]},
                "reward_minor": 5,
                "overlap": 3,
                "gold_rate": 0.3,
                "min_gold_accuracy": 0.8,
                "min_gold_answers": 4,
                "reject_blocked_work": True,
            },
        )
        rows = ["external_id,text,gold"]
        truth = {}
        for n in range(24):
            label = "pos" if n % 2 == 0 else "neg"
            phrase = rng.choice(GOOD if label == "pos" else BAD)
            gold = label if n >= 16 else ""
            rows.append(f"s{n:02d},{phrase},{gold}")
            truth[phrase] = label
        services.bundle_add_items(
            bundle=bundle, by=requester, source=io.BytesIO("\n".join(rows).encode()),
            content_type="text/csv", filename="finished.csv",
        )  # fmt: skip
        bundle = services.bundle_publish(bundle=bundle, by=requester)
        crowd = [
            (user_create(email=f"crowd{n}@crowdmarket.local", password=None, worker=True), skill)
            for n, skill in ((1, 0.95), (2, 0.9), (3, 0.9), (4, None), (5, 0.9))
        ]
        # Claims draw gold with the module's random; seeded, the demo (and which gold the
        # spammer sees) is the same on every machine and database.
        random.seed(2026)
        active = list(crowd)
        while active:
            for worker, skill in list(active):
                try:
                    task = work.assignment_claim(bundle=bundle, worker=worker)
                except DomainError:
                    active.remove((worker, skill))
                    continue
                right = truth[task.item.payload["text"]]
                if skill is None:
                    answer = rng.choice(["pos", "neg"])
                else:
                    answer = right if rng.random() < skill else ("neg" if right == "pos" else "pos")
                # One transaction holds the whole demo, so no request commits in between: the
                # quality follow-up each submission schedules on commit runs now instead.
                done = work.submission_record(assignment_id=task.pk, worker=worker, answer=answer)
                if done.follow_up is not None:
                    services.submission_follow_up(follow_up=done.follow_up)
        pending = bundle.assignments.filter(status="submitted").values_list("id", flat=True)
        review.assignments_review(requester=requester, assignment_ids=list(pending), approve=True)


FINISHED_TITLE = "Demo (finished): review sentiment, a spammer caught by gold"
GOOD = [
    "Works great", "Love it", "Excellent quality", "Five stars", "Very happy",
    "Would buy again", "Fantastic value", "Arrived early and works",
]  # fmt: skip
BAD = [
    "Broke in a day", "Waste of money", "Terrible support", "Never arrived",
    "Cheap plastic", "Stopped working", "Do not buy", "Smells awful",
]  # fmt: skip
