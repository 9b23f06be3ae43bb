"""Find work (issue 15): search, filters (pay, time, requester, type), sort (hourly pay,
newest, tasks left), the requester's name and rating on each card, and a preview of a bundle
before accepting it that shows a real item and never a gold one."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from accounts.models import RequesterProfile
from tasks import services, work
from tasks.models import Assignment, AssignmentStatus
from tests.factories import (
    BundleFactory,
    ItemFactory,
    RequesterFactory,
    WorkerFactory,
    publish,
)

pytestmark = pytest.mark.django_db

RATING = {"type": "rating", "max": 5}


def live(title, *, requester=None, items=1, reward=5, instructions="Read it.", **fields):
    bundle = BundleFactory(
        title=title, reward_minor=reward, instructions=instructions, min_overlap=1,
        max_overlap=1, **({"requester": requester} if requester else {}), **fields,
    )  # fmt: skip
    ItemFactory.create_batch(items, bundle=bundle)
    return publish(bundle)


def titles(client, query=""):
    page = client.get("/work/" + query)
    assert page.status_code == 200, page.content[:300]
    return re.findall(
        r'<li class="card" data-bundle="\d+">\s*<h2>([^<]+)</h2>', page.content.decode()
    )


def paced(bundle, seconds, n=12):
    """n approved answers that took `seconds` each (the pay estimate's evidence)."""
    for _ in range(n):
        item = ItemFactory(bundle=bundle, slots_open=1)
        item.bundle.refresh_from_db()
        w = WorkerFactory()
        a = work.assignment_claim(bundle=bundle, worker=w)
        services.assignment_submit(assignment_id=a.pk, worker=w, answer="pos")
        Assignment.objects.filter(pk=a.pk).update(
            status=AssignmentStatus.APPROVED, seconds_spent=seconds, submitted_at=timezone.now()
        )


@pytest.fixture
def market(db):
    acme = RequesterFactory()
    RequesterProfile.objects.filter(user=acme).update(organization="Acme Labs")
    other = RequesterFactory()
    bundles = {
        "cheap": live("Spot cats in photos", requester=acme, reward=2, items=5),
        "rich": live("Translate product reviews", requester=other, reward=40, items=2,
                     instructions="German to English, keep the tone."),
        "rating": live("Rate the summary", requester=other, reward=10, items=9,
                       question=RATING, time_limit_seconds=3600),
    }  # fmt: skip
    return acme, other, bundles


def test_the_cards_name_the_requester_and_their_rating(client, market):
    acme, other, _ = market
    client.force_login(WorkerFactory())
    page = client.get("/work/").content.decode()
    assert "Acme Labs" in page and f"Requester #{other.pk}" in page
    assert acme.email not in page and other.email not in page
    assert "new requester" in page


def test_search_matches_title_instructions_and_requester(client, market):
    client.force_login(WorkerFactory())
    assert titles(client, "?q=cats") == ["Spot cats in photos"]
    assert titles(client, "?q=german+english") == ["Translate product reviews"]
    assert titles(client, "?q=acme") == ["Spot cats in photos"]
    assert titles(client, "?q=nothing-like-this") == []


def test_filters_by_pay_time_requester_and_type(client, market):
    acme, other, _ = market
    client.force_login(WorkerFactory())
    assert titles(client, "?min_reward=0.10") == ["Rate the summary", "Translate product reviews"]
    assert titles(client, "?max_minutes=10") == ["Translate product reviews", "Spot cats in photos"]
    assert titles(client, f"?requester={acme.pk}") == ["Spot cats in photos"]
    assert titles(client, "?type=rating") == ["Rate the summary"]
    bad = client.get("/work/?min_reward=-1&max_minutes=zero")
    assert bad.status_code == 200 and "errorlist" in bad.content.decode()


def test_sorts_by_hourly_pay_newest_and_tasks_left(client, market):
    _, _, bundles = market
    paced(bundles["cheap"], seconds=6)  # 2 cents per 6 s: $12/h
    paced(bundles["rich"], seconds=240)  # 40 cents per 4 min: $6/h
    client.force_login(WorkerFactory())
    assert titles(client) == [
        "Rate the summary",
        "Translate product reviews",
        "Spot cats in photos",
    ]
    assert titles(client, "?sort=hourly") == [
        "Spot cats in photos", "Translate product reviews", "Rate the summary",  # no data: last
    ]  # fmt: skip
    assert titles(client, "?sort=tasks_left")[0] == "Rate the summary"  # 9 left
    assert titles(client, "?min_hourly=10") == ["Spot cats in photos"]


def test_preview_shows_instructions_and_a_real_item_never_gold(client, requester):
    bundle = BundleFactory(
        requester=requester, instructions="Mark **sarcasm** as negative.", min_overlap=1,
        max_overlap=1, gold_rate=0.5,
    )  # fmt: skip
    ItemFactory(bundle=bundle, is_gold=True, gold="neg", payload={"text": "GOLD-ITEM-TEXT"})
    ItemFactory(bundle=bundle, payload={"text": "an ordinary review"})
    bundle = publish(bundle)
    worker = WorkerFactory()
    client.force_login(worker)
    page = client.get(f"/work/{bundle.pk}/preview/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<strong>sarcasm</strong>" in html and "an ordinary review" in html
    assert "GOLD-ITEM-TEXT" not in html and "gold" not in html.lower()
    assert f'action="/work/{bundle.pk}/next/"' in html  # accepting starts the work
    assert not Assignment.objects.exists()  # previewing claims nothing


def test_preview_is_only_for_bundles_open_to_the_worker(client, requester):
    draft = BundleFactory(requester=requester)
    ItemFactory(bundle=draft)
    gated = BundleFactory(
        requester=requester,
        requirements=[{"qualification": "country", "comparator": "In", "values": ["DE"]}],
    )
    ItemFactory(bundle=gated)
    gated = publish(gated)
    client.force_login(WorkerFactory())  # country US
    assert client.get(f"/work/{draft.pk}/preview/").status_code == 404
    assert client.get(f"/work/{gated.pk}/preview/").status_code == 404
    client.force_login(requester)
    assert client.get(f"/work/{gated.pk}/preview/").status_code == 403  # not a worker


def test_find_work_queries_stay_flat_with_filters(client, django_assert_max_num_queries):
    for n in range(3):
        live(f"Bundle {n}")
    client.force_login(WorkerFactory())
    with django_assert_max_num_queries(14) as few:
        client.get("/work/?sort=hourly&q=bundle")
    for n in range(3, 12):
        live(f"Bundle {n}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(titles(client, "?sort=hourly&q=bundle")) == 12
