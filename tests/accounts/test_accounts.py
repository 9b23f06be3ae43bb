"""Accounts: sign-up with roles, token login, operator commands, qualifications."""

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User, WorkerStatus
from accounts.services import qualification_create, worker_set_status
from marketplace.errors import DomainError
from tests.conftest import client_for
from tests.factories import PASSWORD, RequesterFactory, WorkerFactory

pytestmark = pytest.mark.django_db


def test_signup_page_creates_a_user_with_the_chosen_roles(client):
    response = client.post(
        "/accounts/signup/",
        {"email": "New@Example.com", "password1": "a-long-pass-phrase",
         "password2": "a-long-pass-phrase", "roles": ["worker", "requester"], "country": "de"},
    )  # fmt: skip
    assert response.status_code == 302, response.content[:500]
    user = User.objects.get(email="new@example.com")
    assert user.is_worker and user.is_requester
    assert user.worker_profile.country == "DE"


def test_token_login_and_me(api):
    worker = WorkerFactory(email="w@example.com")
    refused = api.post("/api/v1/auth/token/", {"email": "w@example.com", "password": "nope"})
    assert refused.status_code == 400 and refused.json()["code"] == "invalid"
    token = api.post("/api/v1/auth/token/", {"email": "W@example.com", "password": PASSWORD}).json()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token['token']}")
    me = api.get("/api/v1/me/").json()
    assert me["email"] == worker.email
    assert (me["is_worker"], me["is_requester"], me["approval_rate"]) == (True, False, 100)


def test_create_account_command(capsys):
    call_command("create_account", "ops@example.com", "--password", "pw-123456", "--requester",
                 "--worker")  # fmt: skip
    user = User.objects.get(email="ops@example.com")
    assert user.check_password("pw-123456") and user.is_requester and user.is_worker
    with pytest.raises(CommandError, match="email_taken"):
        call_command("create_account", "ops@example.com", "--password", "x")


def test_status_changes_need_a_reason():
    worker = WorkerFactory()
    with pytest.raises(DomainError):
        worker_set_status(worker=worker, status=WorkerStatus.BANNED, reason=" ")
    profile = worker_set_status(worker=worker, status=WorkerStatus.BANNED, reason="fraud")
    assert (profile.status, profile.status_reason) == ("banned", "fraud")


def test_qualifications_are_owned_and_granted_only_by_their_owner():
    owner, other = RequesterFactory(), RequesterFactory()
    worker = WorkerFactory()
    exam = qualification_create(owner=owner, name="exam")
    with pytest.raises(DomainError):
        qualification_create(owner=owner, name="approval_rate")
    granted = client_for(owner).post(
        f"/api/v1/qualifications/{exam.pk}/grant/", {"worker_email": worker.email, "value": 90}
    )
    assert granted.status_code == 201 and granted.json()["value"] == 90
    assert (
        client_for(other)
        .post(f"/api/v1/qualifications/{exam.pk}/grant/", {"worker_email": worker.email})
        .status_code
        == 404
    )
    names = {q["name"] for q in client_for(other).get("/api/v1/qualifications/").json()["results"]}
    assert "exam" not in names and {"approval_rate", "country"} <= names
    mine = client_for(worker).get("/api/v1/work/qualifications/").json()["results"]
    assert mine == [{"qualification": "exam", "value": 90, "updated_at": mine[0]["updated_at"]}]


def test_bad_requirements_are_refused_with_a_code():
    requester = RequesterFactory()
    response = client_for(requester).post(
        "/api/v1/bundles/",
        {"title": "t", "question": {"type": "text"}, "reward": 1,
         "requirements": [{"qualification": "country", "comparator": "Near", "value": "US"}]},
        format="json",
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_requirements"


def test_openapi_schema_and_docs_render(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/work/bundles/{id}/claim/" in schema.content
    assert client.get("/api/docs/").status_code == 200
