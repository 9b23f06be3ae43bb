"""Demo data for `make run`: an admin, a requester with a published bundle, three workers.

Idempotent: running it again keeps what exists and prints the logins again."""

import io

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import User
from accounts.services import user_create
from payments.services import balance_credit
from tasks import services

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

    @transaction.atomic
    def handle(self, *args, **options):
        if not User.objects.filter(email=ADMIN).exists():
            user_create(email=ADMIN, password=PASSWORD, staff=True)
        if not User.objects.filter(email=REQUESTER).exists():
            requester = user_create(email=REQUESTER, password=PASSWORD, requester=True)
            self._demo_bundle(requester)
        for email in WORKERS:
            if not User.objects.filter(email=email).exists():
                user_create(email=email, password=PASSWORD, worker=True, country="US")
        self.stdout.write(self.style.SUCCESS(f"Demo logins (password for all: {PASSWORD})"))
        self.stdout.write(f"  admin      {ADMIN}   -> http://127.0.0.1:8000/admin/")
        self.stdout.write(f"  requester  {REQUESTER}")
        for email in WORKERS:
            self.stdout.write(f"  worker     {email}")
        self.stdout.write("  API docs   http://127.0.0.1:8000/api/docs/")

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
