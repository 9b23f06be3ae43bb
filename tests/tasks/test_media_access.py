"""Uploaded media is served only to a worker holding a live claim on that item, to the bundle's
requester and to staff, through signed URLs checked on every request; 404 for everyone else."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core import signing
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.services import user_create
from tasks import services, work
from tasks.media import media_url, payload_for_viewer
from tasks.media.links import SALT
from tasks.models import Assignment, AssignmentStatus, Item
from tests.conftest import client_for
from tests.factories import BundleFactory, RequesterFactory, WorkerFactory, publish
from tests.media import make_zip, png

pytestmark = pytest.mark.django_db

PICTURE = png(32, 24, "green")


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def world():
    owner = RequesterFactory()
    bundle = BundleFactory(requester=owner, min_overlap=1, max_overlap=1)
    csv = "external_id,image\nr1,a.png\nr2,b.png\n"
    services.bundle_add_items(bundle=bundle, by=owner,
                              source=io.BytesIO(make_zip({"i.csv": csv, "a.png": PICTURE,
                                                          "b.png": png(8, 8)})),
                              content_type="application/zip", filename="items.zip")  # fmt: skip
    bundle = publish(bundle)
    alice, bob = WorkerFactory(), WorkerFactory()
    claim = work.assignment_claim(bundle=bundle, worker=alice)
    other = work.assignment_claim(bundle=bundle, worker=bob)
    assert claim.item_id != other.item_id
    return {"owner": owner, "bundle": bundle, "alice": alice, "bob": bob, "claim": claim,
            "item": claim.item, "stranger": RequesterFactory(),
            "nobody": WorkerFactory()}  # fmt: skip


def logged_in(user) -> APIClient:
    """A client signed in by session, as a browser showing an `<img>` is (the media view is a
    plain Django view: DRF's force_authenticate does not reach it)."""
    client = APIClient()
    client.force_login(user)
    return client


def _url(world) -> str:
    return media_url(world["item"].pk, "image")


def _served(client: APIClient, url: str) -> bool:
    response = client.get(url)
    if response.status_code == 404:
        assert response.json() == {"code": "not_found", "detail": "Not found."}
        return False
    assert response.status_code == 200
    return True


def test_the_claim_response_carries_a_signed_url_and_no_storage_key(world):
    client = logged_in(world["nobody"])
    response = client.post(f"/api/v1/work/bundles/{world['bundle'].pk}/claim/")
    assert response.status_code == 409  # both items are taken: claim anew to see the payload
    Assignment.objects.filter(pk=world["claim"].pk).update(status=AssignmentStatus.RETURNED)
    Item.objects.filter(pk=world["item"].pk).update(slots_open=1, state="open")
    response = client.post(f"/api/v1/work/bundles/{world['bundle'].pk}/claim/")
    assert response.status_code == 201, response.json()
    payload = response.json()["item"]["payload"]
    assert set(payload) == {"image"}
    assert payload["image"].startswith("http://testserver/api/v1/media/")
    assert "media/b" not in response.content.decode()  # no storage key anywhere
    served = client.get(payload["image"])
    assert served.status_code == 200
    assert served["Content-Type"] == "image/png"
    assert b"".join(served.streaming_content) == PICTURE
    assert served["X-Content-Type-Options"] == "nosniff"
    assert "private" in served["Cache-Control"]


def test_the_worker_holding_the_claim_the_requester_and_staff_are_served(world):
    staff = user_create(email="ops@example.com", password=None, staff=True)
    for user in (world["alice"], world["owner"], staff):
        assert _served(logged_in(user), _url(world)), user


def test_everyone_else_gets_404(world):
    url = _url(world)
    assert not _served(APIClient(), url)  # anonymous
    assert not _served(logged_in(world["bob"]), url)  # a worker with a claim on another item
    assert not _served(logged_in(world["nobody"]), url)  # a worker with no claim here
    assert not _served(logged_in(world["stranger"]), url)  # another requester


def test_the_claim_must_still_be_live(world):
    url = _url(world)
    alice = logged_in(world["alice"])
    assert _served(alice, url)
    Assignment.objects.filter(pk=world["claim"].pk).update(
        deadline=timezone.now() - timedelta(seconds=1)
    )
    assert not _served(alice, url)  # past the deadline, even before the expiry job runs
    Assignment.objects.filter(pk=world["claim"].pk).update(
        deadline=timezone.now() + timedelta(minutes=5)
    )
    services.assignment_submit(assignment_id=world["claim"].pk, worker=world["alice"],
                               answer="pos")  # fmt: skip
    assert not _served(alice, url)  # answered: the claim is over


def test_forged_expired_and_foreign_tokens_are_404(world, settings):
    owner = logged_in(world["owner"])
    url = _url(world)
    token = url.rstrip("/").rsplit("/", 1)[1]
    assert not _served(
        owner, url.replace(token, token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))
    )
    forged = signing.dumps([world["item"].pk, "image"], salt="another-salt", compress=True)
    assert not _served(owner, f"/api/v1/media/{forged}/")
    assert not _served(owner, media_url(world["item"].pk, "text"))  # no such media field
    assert not _served(owner, media_url(10**9, "image"))  # no such item
    settings.MEDIA_URL_MAX_AGE_SECONDS = -1
    assert not _served(owner, url)  # expired
    settings.MEDIA_URL_MAX_AGE_SECONDS = 3600
    # A payload pointing at a key outside its own bundle is never served.
    stolen = dict(world["item"].payload)
    stolen["_media"] = {"image": {**stolen["_media"]["image"], "key": "media/b999/x.png"}}
    Item.objects.filter(pk=world["item"].pk).update(payload=stolen)
    assert not _served(owner, url)
    assert signing.loads(token, salt=SALT) == [world["item"].pk, "image"]


def test_api_token_authentication_works_on_media_urls(world):
    token = Token.objects.create(user=world["owner"])
    client = APIClient()
    assert not _served(client, _url(world))
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert _served(client, _url(world))
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert not _served(client, _url(world))


def test_requester_item_list_shows_urls_and_hides_media_entries(world):
    response = client_for(world["owner"]).get(f"/api/v1/bundles/{world['bundle'].pk}/items/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "_media" not in body and "media/b" not in body
    first = response.json()["results"][0]["payload"]
    assert first["image"].startswith("http://testserver/api/v1/media/")


def test_task_page_shows_the_image_through_its_signed_url(world, client):
    client.force_login(world["alice"])
    page = client.get(f"/work/{world['bundle'].pk}/").content.decode()
    assert 'src="/api/v1/media/' in page
    assert "media/b" not in page and "_media" not in page


def test_viewer_payload_keeps_urls_and_text_as_they_are():
    payload = {"image": "https://example.com/x.png", "text": "hello"}
    assert payload_for_viewer(item_id=1, payload=payload) == payload
    assert payload_for_viewer(item_id=1, payload=["not", "a", "dict"]) == ["not", "a", "dict"]
