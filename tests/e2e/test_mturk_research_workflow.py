"""A typical MTurk research script, run unchanged but for `endpoint_url`, with workers in the
browser: create a qualification (to exclude earlier participants), a HIT type that requires
its absence, 100 HITs from a CSV through an HTML template (crowd-form), workers answer (two in
the browser, the rest through the worker API), approve, bonus, download the answers as CSV."""

from __future__ import annotations

import csv
import io
import json
from string import Template
from typing import Any

import pytest
from defusedxml import ElementTree as SafeET
from playwright.sync_api import expect

from tests.e2e.annotation_pages import VIEWPORTS, session_cookie

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

HTML_NS = (
    "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd"
)
ANSWER_NS = {
    "a": "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/QuestionFormAnswers.xsd"
}
TEMPLATE = Template(
    f'<HTMLQuestion xmlns="{HTML_NS}"><HTMLContent><![CDATA[<!DOCTYPE html><html><head>'
    '<script src="https://assets.crowd.aws/crowd-html-elements.js"></script></head><body>'
    "<crowd-form><p>Sentence ${sid}: <b>${text}</b></p>"
    '<crowd-radio-group><crowd-radio-button name="pos" value="pos">Positive</crowd-radio-button>'
    '<crowd-radio-button name="neg" value="neg">Negative</crowd-radio-button></crowd-radio-group>'
    '<crowd-input name="comment" label="Comment"></crowd-input></crowd-form>'
    "</body></html>]]></HTMLContent><FrameHeight>300</FrameHeight></HTMLQuestion>"
)
STIMULI = "sid,text\n" + "".join(
    f"s{i:03d},Sentence number {i} is {'good' if i % 2 else 'bad'}.\n" for i in range(100)
)


def client_for(site, key_id: str, secret: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "mturk",
        endpoint_url=site.url + "/mturk/",
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}),
    )


def answer_in_browser(open_context, site, worker, bundle_id: int, count: int) -> list[str]:
    with site.lock:
        cookie = session_cookie(site, worker)
    context = open_context(viewport=VIEWPORTS["1280"], device_scale_factor=1)
    context.set_default_timeout(15_000)
    context.add_cookies([cookie])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(site(f"/work/{bundle_id}/"))
    page.get_by_role("button", name="Accept a task").click()
    seen = []
    for n in range(count):
        heading = page.locator("#task-panel[data-state=task] h2")
        expect(heading).to_be_visible()
        title = heading.inner_text()
        frame = page.frame_locator("#task-panel iframe[data-hit-frame]")
        frame.get_by_label("Positive").check()
        comment = f"{worker.email} #{n}"
        frame.get_by_label("Comment").fill(comment)
        frame.get_by_role("button", name="Submit").click()
        expect(page.locator("[data-feedback]")).to_contain_text("Answer saved.")
        if n < count - 1:
            expect(page.locator("#task-panel[data-state=task] h2")).not_to_have_text(title)
        seen.append(comment)
    assert not errors, errors
    return seen


def test_research_workflow_with_boto3_and_browser_workers(open_context, site, tmp_path):
    from rest_framework.test import APIClient

    from marketplace.mturk.keys import access_key_create
    from marketplace.mturk.models import HIT
    from payments.selectors import ledger_problems
    from tasks.selectors import bundles_for_worker, worker_public_id
    from tests.factories import RequesterFactory, WorkerFactory, fund

    with site.lock:
        lab = RequesterFactory(email="lab@example.edu")
        fund(lab, 100_000)
        key, secret = access_key_create(requester=lab)
        alice, bob, veteran = WorkerFactory(), WorkerFactory(), WorkerFactory()
        api_workers = [WorkerFactory() for _ in range(4)]
    mturk = client_for(site, key.access_key_id, secret)

    # 0. study 1, which the veteran took part in
    study1 = mturk.create_hit(
        Title="Study 1", Description="An earlier study", Reward="0.10",
        AssignmentDurationInSeconds=600, MaxAssignments=1, LifetimeInSeconds=3600,
        Question=TEMPLATE.substitute(sid="x", text="Earlier."),
    )["HIT"]  # fmt: skip
    with site.lock:
        api = APIClient()
        api.force_authenticate(veteran)
        study1_bundle = HIT.objects.get(hit_id=study1["HITId"]).item.bundle_id
        claimed = api.post(f"/api/v1/work/bundles/{study1_bundle}/claim/").json()
        api.post(f"/api/v1/work/assignments/{claimed['id']}/submit/",
                 {"answer": {"taskAnswers": "[{}]"}}, format="json")  # fmt: skip
    participants = [
        a["WorkerId"] for a in mturk.list_assignments_for_hit(HITId=study1["HITId"])["Assignments"]
    ]
    assert participants == [worker_public_id(lab.pk, veteran.pk)]

    # 1. a qualification for earlier participants, granted to them
    qual = mturk.create_qualification_type(
        Name="Took part in study 1", Description="Excluded from study 2",
        QualificationTypeStatus="Active",
    )["QualificationType"]  # fmt: skip
    mturk.associate_qualification_with_worker(
        QualificationTypeId=qual["QualificationTypeId"],
        WorkerId=participants[0],
        IntegerValue=1,
        SendNotification=False,
    )
    # 2. the HIT type requires its absence
    hit_type = mturk.create_hit_type(
        Title="Rate a sentence", Description="Is it positive?", Reward="0.10",
        AssignmentDurationInSeconds=600, AutoApprovalDelayInSeconds=86400, Keywords="rating",
        QualificationRequirements=[{
            "QualificationTypeId": qual["QualificationTypeId"], "Comparator": "DoesNotExist",
            "ActionsGuarded": "DiscoverPreviewAndAccept",
        }],
    )["HITTypeId"]  # fmt: skip
    # 3. 100 HITs from the CSV through the template
    hit_ids = {}
    for row in csv.DictReader(io.StringIO(STIMULI)):
        hit = mturk.create_hit_with_hit_type(
            HITTypeId=hit_type, MaxAssignments=1, LifetimeInSeconds=86400,
            Question=TEMPLATE.substitute(row), RequesterAnnotation=row["sid"],
            UniqueRequestToken=f"study2-{row['sid']}",
        )["HIT"]  # fmt: skip
        hit_ids[hit["HITId"]] = row["sid"]
    assert len(hit_ids) == 100
    with site.lock:
        bundle_id = (
            HIT.objects.select_related("item").get(hit_id=next(iter(hit_ids))).item.bundle_id
        )
        assert bundle_id not in [b.pk for b in bundles_for_worker(veteran)]  # excluded

    # 4. two workers in the browser, the rest through the worker API
    comments = answer_in_browser(open_context, site, alice, bundle_id, 3)
    comments += answer_in_browser(open_context, site, bob, bundle_id, 2)
    # The page already handed each browser worker their next HIT; they answer it through the
    # API, as do four more workers with the rest until none is left.
    with site.lock:
        done = 5
        for n, worker in enumerate([alice, bob] + api_workers * 30):
            api = APIClient()
            api.force_authenticate(worker)
            claimed = api.post(f"/api/v1/work/bundles/{bundle_id}/claim/")
            if claimed.status_code == 409:
                assert claimed.json()["code"] == "no_tasks_available"
                continue
            assert claimed.status_code in (200, 201), claimed.content
            task = {"pos": {"pos": n % 3 != 0}, "neg": {"neg": n % 3 == 0}, "comment": ""}
            submitted = api.post(
                f"/api/v1/work/assignments/{claimed.json()['id']}/submit/",
                {"answer": {"taskAnswers": json.dumps([task])}}, format="json",
            )  # fmt: skip
            assert submitted.status_code == 200, submitted.content
            done += 1
        assert done == 100

    # 5. approve everything, bonus the browser workers, download the answers
    rows = []
    for hit_id, sid in hit_ids.items():
        for assignment in mturk.list_assignments_for_hit(HITId=hit_id)["Assignments"]:
            mturk.approve_assignment(AssignmentId=assignment["AssignmentId"])
            root = SafeET.fromstring(assignment["Answer"])
            fields = {
                a.find("a:QuestionIdentifier", ANSWER_NS).text: a.find("a:FreeText", ANSWER_NS).text
                for a in root.findall("a:Answer", ANSWER_NS)
            }
            task = json.loads(fields["taskAnswers"])[0]
            rows.append({"sid": sid, "worker": assignment["WorkerId"],
                         "assignment": assignment["AssignmentId"],
                         "positive": task["pos"]["pos"], "comment": task["comment"]})  # fmt: skip
    for worker in (alice, bob):
        mine = next(r for r in rows if r["worker"] == worker_public_id(lab.pk, worker.pk))
        mturk.send_bonus(
            WorkerId=mine["worker"], BonusAmount="0.50", AssignmentId=mine["assignment"],
            Reason="Thanks for the careful comments", UniqueRequestToken=f"bonus-{mine['worker']}",
        )  # fmt: skip
    out = tmp_path / "answers.csv"
    with out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    downloaded = list(csv.DictReader(out.open()))
    assert len(downloaded) == 100 and len({r["sid"] for r in downloaded}) == 100
    assert sorted(r["comment"] for r in downloaded if r["comment"]) == sorted(comments)
    approved = mturk.list_assignments_for_hit(
        HITId=next(iter(hit_ids)), AssignmentStatuses=["Approved"]
    )
    assert len(approved["Assignments"]) == 1
    alice_id = worker_public_id(lab.pk, alice.pk)
    alice_sid = next(r["sid"] for r in rows if r["worker"] == alice_id)
    alice_hit = next(h for h, sid in hit_ids.items() if sid == alice_sid)
    bonuses = mturk.list_bonus_payments(HITId=alice_hit)
    assert bonuses["NumResults"] >= 1
    with site.lock:
        assert ledger_problems() == []
