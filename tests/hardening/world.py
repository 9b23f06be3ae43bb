"""One small marketplace with real objects of every kind the URLs name, and a client per role,
for the permission matrix and the leak check (issue 16).

Roles: anonymous, unverified (signed up, email not confirmed: it goes through the real sign-in
paths and keeps whatever they hand out, which is nothing), worker (W: one submitted answer, one
live claim, a rejected answer they appealed, a block in R's second bundle, a message thread
with R, a bonus, a payout), other worker (W2: a worker with their own answer in the same
bundle, nothing of W's; a quality rule's event in R's bundle is about them), requester (R: owns
the bundles, the qualification, the top-up, an MTurk API key and a requestable qualification
type), other requester (R2: funded, owns nothing of R's) and admin (staff superuser, no
profiles).

Every secret is a distinctive string or amount so that a response body can be searched for it:
`SECRETS` says which roles may see each."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from allauth.account.models import EmailAddress
from django.test import Client
from rest_framework.test import APIClient

from accounts import services as accounts_services
from accounts.models import User
from marketplace.mturk.keys import access_key_create
from marketplace.mturk.qualifications import qual_type_create
from payments import services as money
from payments.models import ConnectedAccount, Payout, TopUp
from payments.payouts import payout_request
from tasks import messaging, review, selectors, services
from tasks.fairness import appeals, blocks
from tasks.media.links import media_token
from tasks.models import Bundle, QualityRuleEvent
from tasks.work import assignment_claim
from tests.factories import PASSWORD, BundleFactory, ItemFactory, RequesterFactory, WorkerFactory

ROLES = ("anon", "unverified", "worker", "other_worker", "requester", "other_requester", "admin")

GOLD = "gold-answer-q7z3k"
ANSWER_W = "answer-of-worker-m4x8p"
ANSWER_W2 = "answer-of-other-worker-v2n6c"
R_FUNDING = 731_952_846
R2_FUNDING = 618_240_397
W_BONUS = 482_137
TOPUP_SESSION = "cs_test_matrix_r_secret_h3k9"
TOPUP_CHARGE = "ch_matrix_r_secret_p8w2"
W_TRANSFER = "tr_matrix_w_secret_c5j1"
W_CONNECT = "acct_matrix_w_secret_u6d4"
STRIPE_IDS = (TOPUP_SESSION, TOPUP_CHARGE, W_TRANSFER, W_CONNECT)
APPEAL_MESSAGE = "appeal-of-worker-e5r2w"
BLOCK_REASON = "block-reason-of-r-y8h1d"
THREAD_MESSAGE = "thread-message-of-w-a6g3b"


@dataclass
class World:
    users: dict[str, User | None]
    objects: dict[str, Any]
    # secret text -> the roles that may see it in a response body
    secrets: dict[str, set[str]] = field(default_factory=dict)
    # the secrets no page or API response serves to anyone (the admin may show some): only
    # their absence can be checked
    unserved: set[str] = field(default_factory=set)


def _amount_texts(amount_minor: int) -> list[str]:
    """How an amount shows in JSON (the integer) and on a page ($1,234.56)."""
    whole, cents = divmod(amount_minor, 100)
    return [str(amount_minor), f"{whole:,}.{cents:02d}"]


def build_world() -> World:
    requester = RequesterFactory(email="owner-requester-k2@example.com")
    other_requester = RequesterFactory(email="other-requester-f9@example.com")
    worker = WorkerFactory(email="the-worker-b7@example.com")
    other_worker = WorkerFactory(email="other-worker-t3@example.com")
    admin = accounts_services.user_create(
        email="admin-z5@example.com", password=PASSWORD, staff=True
    )
    unverified = User.objects.create_user(email="unverified-n8@example.com", password=PASSWORD)
    accounts_services.user_set_roles(user=unverified, requester=True, worker=True)
    EmailAddress.objects.create(
        user=unverified, email=unverified.email, verified=False, primary=True
    )
    for user, amount in ((requester, R_FUNDING), (other_requester, R2_FUNDING)):
        money.balance_credit(
            requester=user, amount_minor=amount, currency="usd", reference=f"w-{user.pk}", by=None
        )

    bundle = BundleFactory(
        requester=requester,
        question={"type": "text", "max_length": 200},
        min_overlap=1,
        max_overlap=1,
    )
    for _ in range(6):
        ItemFactory(bundle=bundle)
    gold_item = ItemFactory(bundle=bundle, gold=GOLD)
    bundle = services.bundle_publish(bundle=bundle, by=requester)
    draft = BundleFactory(requester=requester, title="Draft of R")

    submitted = _answer(bundle, worker, ANSWER_W)
    other_submitted = _answer(bundle, other_worker, ANSWER_W2)
    rejected = _answer(bundle, worker, "answer-rejected-of-worker")
    review.assignment_reject(assignment_id=rejected.pk, by=requester, reason="off topic")
    claim = assignment_claim(bundle=bundle, worker=worker)

    qualification = accounts_services.qualification_create(owner=requester, name="matrix-qual")
    bonus = money.bonus_pay(
        requester=requester,
        worker=worker,
        amount_minor=W_BONUS,
        currency="usd",
        reason="thanks",
        client_token="matrix-bonus",
    )
    ConnectedAccount.objects.create(worker=worker, stripe_account_id=W_CONNECT)
    payout = payout_request(worker=worker, amount_minor=500, request_key="matrix-payout")
    Payout.objects.filter(pk=payout.pk).update(transfer_id=W_TRANSFER)
    topup = TopUp.objects.create(
        requester=requester,
        amount_minor=2_000,
        currency="usd",
        client_token="matrix-topup",
        checkout_session_id=TOPUP_SESSION,
        charge_id=TOPUP_CHARGE,
    )

    # Due process and messages, kept off the bundle the matrix claims and asks in: W appeals
    # the rejection above; in R's second bundle W asks a question, then R blocks W there; a
    # quality rule's history row about W2 (what the engine writes when a "notify" rule fires).
    appeal = appeals.appeal_rejection(
        worker=worker, assignment_id=rejected.pk, message=APPEAL_MESSAGE
    )
    second = BundleFactory(requester=requester, title="Second bundle of R")
    ItemFactory(bundle=second)
    second = services.bundle_publish(bundle=second, by=requester)
    thread = messaging.worker_thread_open(worker=worker, bundle_id=second.pk)
    messaging.message_post(thread=thread, author=worker, body=THREAD_MESSAGE)
    block = blocks.block_in_bundle(
        requester=requester, bundle_id=second.pk, worker=worker, reason=BLOCK_REASON
    )
    rule_event = QualityRuleEvent.objects.create(
        bundle=bundle,
        worker=other_worker,
        rule={"collector": "agreement", "threshold": 0.5, "action": "notify", "index": 0},
        figures={"value": 0.2, "n": 5, "bundles": [bundle.pk]},
        action="notify",
        reason="Agreement 0.20 is below 0.50 over 5 answers.",
    )
    # The MTurk requester API's objects: R's access key and a requestable qualification type.
    access_key, access_secret = access_key_create(requester=requester, label="matrix key")
    qualification_type = qual_type_create(
        requester=requester,
        params={"Name": "matrix-type", "Description": "d", "QualificationTypeStatus": "Active"},
    )

    bundle = Bundle.objects.get(pk=bundle.pk)
    objects = {
        "bundle": bundle,
        "draft": draft,
        "gold_item": gold_item,
        "submitted": submitted,
        "other_submitted": other_submitted,
        "claim": claim,
        "qualification": qualification,
        "bonus": bonus,
        "payout": payout,
        "topup": topup,
        "appeal": appeal,
        "block": block,
        "thread": thread,
        "rule_event": rule_event,
        "access_key": access_key,
        "qualification_type": qualification_type,
        "public_id": selectors.worker_public_id(requester.pk, worker.pk),
        "media_token": media_token(claim.item_id, "text"),
    }
    users = {
        "anon": None,
        "unverified": unverified,
        "worker": worker,
        "other_worker": other_worker,
        "requester": requester,
        "other_requester": other_requester,
        "admin": admin,
    }
    world = World(users=users, objects=objects)
    owner_only = {"requester", "admin"}
    world.secrets = {
        GOLD: owner_only,
        ANSWER_W: {"worker", "requester", "admin"},
        ANSWER_W2: {"other_worker", "requester", "admin"},
        worker.email: {"worker", "admin"},
        other_worker.email: {"other_worker", "admin"},
        requester.email: {"requester", "admin"},
        other_requester.email: {"other_requester", "admin"},
        TOPUP_SESSION: owner_only,
        TOPUP_CHARGE: owner_only,
        W_TRANSFER: {"worker", "admin"},
        W_CONNECT: {"worker", "admin"},
        APPEAL_MESSAGE: {"worker", "requester", "admin"},
        BLOCK_REASON: {"worker", "requester", "admin"},
        THREAD_MESSAGE: {"worker", "requester", "admin"},
        access_key.access_key_id: owner_only,
        access_secret: set(),  # shown once, in the response that made it
    }
    world.unserved = {*STRIPE_IDS, access_secret}
    balances = {
        "requester": money.requester_available(requester_id=requester.pk, currency="usd"),
        "other_requester": money.requester_available(
            requester_id=other_requester.pk, currency="usd"
        ),
        "worker": money.worker_available(worker_id=worker.pk, currency="usd"),
    }
    for role, amount in balances.items():
        for text in _amount_texts(amount):
            world.secrets[text] = {role, "admin"}
    return world


def _answer(bundle: Bundle, worker: User, answer: str):
    assignment = assignment_claim(bundle=bundle, worker=worker)
    return services.assignment_submit(assignment_id=assignment.pk, worker=worker, answer=answer)


def clients_for(world: World) -> dict[str, tuple[APIClient, Client]]:
    """(API client, browser client) per role, signed in the way that role really can be: a
    token for the API and a session for pages, both obtained through the sign-in endpoints
    for the unverified account (which refuse it), forced for the others."""
    out: dict[str, tuple[APIClient, Client]] = {}
    for role, user in world.users.items():
        api, browser = APIClient(), Client()
        if role == "unverified":
            assert user is not None
            token = api.post("/api/v1/auth/token/", {"email": user.email, "password": PASSWORD})
            assert token.status_code == 400, token.content
            browser.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
            assert "_auth_user_id" not in browser.session
            api = APIClient()
        elif user is not None:
            api.credentials(
                HTTP_AUTHORIZATION=f"Token {accounts_services.user_api_token(user=user)}"
            )
            browser.force_login(user)
        out[role] = (api, browser)
    return out
