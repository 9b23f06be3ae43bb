"""boto3's own `mturk` client against a live test server: the fixtures every MTurk test uses."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.validate import ParamValidator

from accounts.models import User
from marketplace.mturk.keys import access_key_create
from tasks import work
from tasks.models import Bundle
from tasks.services import assignment_submit
from tests.factories import RequesterFactory, WorkerFactory, fund

HTML_QUESTION = """<HTMLQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd">
<HTMLContent><![CDATA[<!DOCTYPE html><html><body>
<form name="mturk_form" method="post" id="mturk_form" action="https://www.mturk.com/mturk/externalSubmit">
<input type="hidden" value="" name="assignmentId" id="assignmentId"/>
<p>Is this review positive?</p><input type="text" name="sentiment"/>
<input type="submit" id="submitButton" value="Submit"/></form></body></html>]]></HTMLContent>
<FrameHeight>450</FrameHeight></HTMLQuestion>"""

pytestmark = pytest.mark.django_db(transaction=True)


def mturk_client(
    base_url: str, key_id: str, secret: str, path: str = "/mturk/", **config: Any
) -> Any:
    """The unmodified boto3 client, pointed at our server (no retries: errors show at once)."""
    client = boto3.client(
        "mturk",
        endpoint_url=base_url + path,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}, **config),
    )
    client.meta.events.register("after-call.mturk", response_matches_model)
    return client


def response_matches_model(
    http_response: Any, parsed: dict[str, Any], model: Any, **_: Any
) -> None:
    """Every successful answer, as boto3 parsed it, must validate against the operation's
    output shape in botocore's model (types, structure, list members)."""
    if http_response.status_code != 200 or model.output_shape is None:
        return
    body = {k: v for k, v in parsed.items() if k != "ResponseMetadata"}
    report = ParamValidator().validate(body, model.output_shape)
    assert not report.has_errors(), f"{model.name}: {report.generate_report()}"


@pytest.fixture
def mturk_requester(transactional_db: None) -> User:
    requester = RequesterFactory()
    fund(requester, 100_000)
    return requester


@pytest.fixture
def mturk(live_server: Any, mturk_requester: User) -> Any:
    key, secret = access_key_create(requester=mturk_requester)
    client = mturk_client(live_server.url, key.access_key_id, secret)
    yield client
    client.close()  # a kept-alive connection would outlive the test's database


@pytest.fixture
def other_mturk(live_server: Any) -> Any:
    """A second requester's client (cross-tenant checks)."""
    other = RequesterFactory()
    fund(other, 10_000)
    key, secret = access_key_create(requester=other)
    client = mturk_client(live_server.url, key.access_key_id, secret)
    yield client
    client.close()


HIT_TYPE = {
    "Title": "Is this review positive?",
    "Description": "Read one sentence and say if it is positive.",
    "Keywords": "sentiment, text",
    "Reward": "0.05",
    "AssignmentDurationInSeconds": 600,
    "AutoApprovalDelayInSeconds": 86400,
}


def create_hit(client: Any, **extra: Any) -> dict[str, Any]:
    params = {**HIT_TYPE, "MaxAssignments": 2, "LifetimeInSeconds": 3600,
              "Question": HTML_QUESTION, **extra}  # fmt: skip
    return client.create_hit(**params)["HIT"]


def answer_hit(hit_id: str, answer: dict[str, Any], worker: User | None = None) -> tuple[User, int]:
    """A worker claims the HIT's bundle and answers (through the worker services, as the
    worker API and pages do); returns the worker and the assignment's key."""
    from marketplace.mturk.models import HIT

    hit = HIT.objects.select_related("item").get(hit_id=hit_id)
    worker = worker or WorkerFactory()
    bundle = Bundle.objects.get(pk=hit.item.bundle_id)
    assignment = work.assignment_claim(bundle=bundle, worker=worker)
    assert assignment.item_id == hit.item_id, "the claim took another HIT"
    assignment_submit(assignment_id=assignment.pk, worker=worker, answer=answer)
    return worker, assignment.pk
