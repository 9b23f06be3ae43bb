"""The task page of HIT bundles: preview before accepting, the three question kinds, the
sandboxed HTMLQuestion frame and its answer, QuestionForm as a page form."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from marketplace.mturk.ids import assignment_text
from tasks.models import Assignment, AssignmentStatus
from tasks.selectors import worker_public_id
from tests.factories import WorkerFactory
from tests.mturk_work.helpers import claim, hit_bundle
from tests.mturk_work.xml_samples import (
    CROWD_FORM,
    PLAIN_FORM,
    QUESTION_FORM,
    external_question,
    html_question,
)

pytestmark = pytest.mark.django_db


def frame_src(html: str) -> str:
    match = re.search(r'<iframe[^>]*\bsrc="([^"]+)"', html)
    assert match, "no frame on the page"
    return match.group(1).replace("&amp;", "&")


def test_preview_before_accepting_shows_the_hit_with_no_assignment(client):
    bundle = hit_bundle([html_question(PLAIN_FORM)])
    worker = WorkerFactory()
    client.force_login(worker)
    page = client.get(f"/work/{bundle.pk}/")
    html = page.content.decode()
    assert "Accept a task" in html and "Preview of a task" in html
    assert "frame-src 'self' https:" in page["Content-Security-Policy"]
    src = frame_src(html)
    query = parse_qs(urlsplit(src).query)
    assert query["assignmentId"] == ["ASSIGNMENT_ID_NOT_AVAILABLE"]
    assert "workerId" not in query and "turkSubmitTo" not in query
    frame = client.get(src)
    assert frame.status_code == 200
    body = frame.content.decode()
    assert 'data-preview="1"' in body and 'name="label"' in body
    assert not Assignment.objects.filter(worker=worker).exists()  # a preview claims nothing


def test_html_question_frame_is_sandboxed_and_carries_mturk_parameters(client):
    bundle = hit_bundle([html_question(CROWD_FORM)])
    worker = WorkerFactory()
    client.force_login(worker)
    html = client.post(f"/work/{bundle.pk}/next/").content.decode()
    html = client.get(f"/work/{bundle.pk}/").content.decode()
    assignment = Assignment.objects.get(worker=worker)
    assert 'sandbox="allow-scripts allow-forms allow-popups allow-modals"' in html
    assert "allow-same-origin" not in html.split("<iframe", 1)[1].split(">", 1)[0]
    assert "mturk_question" not in html  # the raw XML is not shown as a payload field
    src = frame_src(html)
    query = parse_qs(urlsplit(src).query)
    assert query["assignmentId"] == [assignment_text(assignment.pk)]
    assert query["workerId"] == [worker_public_id(bundle.requester_id, worker.pk)]
    assert query["turkSubmitTo"][0].startswith("http://testserver/mturk/submit/")
    frame = client.get(src)
    policy = frame["Content-Security-Policy"]
    assert policy.startswith("sandbox allow-scripts allow-forms")
    assert "allow-same-origin" not in policy and "frame-ancestors 'self'" in policy
    assert frame["X-Frame-Options"] == "SAMEORIGIN"
    body = frame.content.decode()
    # Amazon's loader is replaced by the shim; the bridge comes first in the document
    assert "assets.crowd.aws" not in body
    assert body.index("hit-bridge.js") < body.index("crowd-shim.js") < body.index("<crowd-form")
    assert 'data-parent-origin="http://testserver"' in body


def test_frame_of_another_workers_assignment_is_not_served(client):
    bundle = hit_bundle([html_question(PLAIN_FORM)])
    owner, other = WorkerFactory(), WorkerFactory()
    assignment = claim(bundle, owner)
    client.force_login(other)
    gone = client.get(f"/work/tasks/{assignment.pk}/hit/")
    assert gone.status_code == 404 and "Task not open" in gone.content.decode()
    assert "frame-ancestors 'self'" in gone["Content-Security-Policy"]  # shown in the frame
    client.force_login(bundle.requester)
    assert client.get(f"/work/tasks/{assignment.pk}/hit/").status_code == 403


def test_html_question_answer_from_the_bridge_is_recorded(client):
    bundle = hit_bundle([html_question(CROWD_FORM)])
    worker = WorkerFactory()
    assignment = claim(bundle, worker)
    client.force_login(worker)
    answer = {"taskAnswers": json.dumps([{"positive": {"positive": True}, "comment": "good"}])}
    response = client.post(
        f"/work/tasks/{assignment.pk}/submit/", {"answer_json": json.dumps(answer)}
    )
    assert response.status_code == 302
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.SUBMITTED
    assert assignment.answer == answer


def test_question_form_renders_as_a_page_form_and_submits(client):
    bundle = hit_bundle([QUESTION_FORM])
    worker = WorkerFactory()
    assignment = claim(bundle, worker)
    client.force_login(worker)
    html = client.get(f"/work/{bundle.pk}/").content.decode()
    assert "<iframe" not in html
    assert 'name="f:nextmove"' in html and 'minlength="2"' in html and 'value="C1"' in html
    assert html.count('name="f:likelytowin"') == 3 and 'type="radio"' in html
    assert html.count('type="checkbox" name="f:pieces"') == 2
    assert 'type="number" name="f:age"' in html and 'min="18"' in html
    bad = client.post(f"/work/tasks/{assignment.pk}/submit/", {"f:nextmove": "B2", "f:age": "12"})
    assert bad.status_code == 400 and "likelytowin: an answer is required" in bad.content.decode()
    good = client.post(
        f"/work/tasks/{assignment.pk}/submit/",
        {"f:nextmove": "B2", "f:likelytowin": "likely", "f:pieces": ["x", "o"], "f:age": ""},
    )
    assert good.status_code == 302
    assignment.refresh_from_db()
    assert assignment.answer == {"nextmove": "B2", "likelytowin": "likely", "pieces": ["x", "o"]}


def test_external_question_frame_gets_the_requesters_url_with_parameters(client):
    bundle = hit_bundle([external_question("https://survey.example.org/s?cond=2")])
    worker = WorkerFactory()
    assignment = claim(bundle, worker)
    client.force_login(worker)
    html = client.get(f"/work/{bundle.pk}/").content.decode()
    src = frame_src(html)
    assert src.startswith("https://survey.example.org/s?cond=2&assignmentId=")
    query = parse_qs(urlsplit(src).query)
    assert query["assignmentId"] == [assignment_text(assignment.pk)]
    assert query["hitId"] == [str(assignment.item_id)]
    assert 'id="hit-next"' in html  # where the page goes after externalSubmit


def test_worker_api_takes_a_form_answer(api):
    bundle = hit_bundle([html_question(PLAIN_FORM)])
    worker = WorkerFactory()
    api.force_authenticate(worker)
    claimed = api.post(f"/api/v1/work/bundles/{bundle.pk}/claim/").json()
    answer = {"label": "cat", "tags": ["a", "b"]}
    response = api.post(
        f"/api/v1/work/assignments/{claimed['id']}/submit/", {"answer": answer}, format="json"
    )
    assert response.status_code == 200, response.content
    assert Assignment.objects.get(pk=claimed["id"]).answer == answer
    refused = api.post(
        f"/api/v1/work/assignments/{claimed['id']}/submit/", {"answer": "cat"}, format="json"
    )
    assert refused.status_code in (400, 409)


def test_question_form_content_is_sanitised_on_our_page(client):
    from tests.mturk_work.xml_samples import FORM_NS

    xml = f"""<QuestionForm xmlns="{FORM_NS}"><Overview>
      <FormattedContent><![CDATA[<p>Read <b>this</b></p><script>alert(1)</script>
        <img src="x" onerror="alert(2)">]]></FormattedContent>
      <Text>&lt;script&gt;alert(3)&lt;/script&gt;</Text>
      <Binary><MimeType><Type>image</Type><SubType>png</SubType></MimeType>
        <DataURL>https://img.example.org/a.png</DataURL><AltText>A board</AltText></Binary>
    </Overview><Question><QuestionIdentifier>q</QuestionIdentifier>
      <QuestionContent><Text>Why?</Text></QuestionContent>
      <AnswerSpecification><FreeTextAnswer/></AnswerSpecification></Question></QuestionForm>"""
    bundle = hit_bundle([xml])
    worker = WorkerFactory()
    claim(bundle, worker)
    client.force_login(worker)
    html = client.get(f"/work/{bundle.pk}/").content.decode()
    assert "<p>Read this</p>" in html and 'src="https://img.example.org/a.png"' in html
    assert "alert(1)" not in html and "onerror" not in html
    assert "<script>alert(3)" not in html and "&lt;script&gt;alert(3)" in html


def test_binary_content_must_be_https():
    from marketplace.mturk.errors import MTurkRequestError
    from marketplace.mturk.questions import parse_question
    from tests.mturk_work.xml_samples import FORM_NS

    xml = f"""<QuestionForm xmlns="{FORM_NS}"><Question><QuestionIdentifier>q</QuestionIdentifier>
      <QuestionContent><Binary><DataURL>javascript:alert(1)</DataURL></Binary></QuestionContent>
      <AnswerSpecification><FreeTextAnswer/></AnswerSpecification></Question></QuestionForm>"""
    with pytest.raises(MTurkRequestError, match="DataURL must be an https"):
        parse_question(xml)


def test_frame_document_places_the_bridge_first():
    from django.test import RequestFactory

    from marketplace.web.hits import frame_document

    request = RequestFactory().get("/")
    bare = frame_document("<p>hi</p><form></form>", request=request, preview=False)
    assert bare.startswith("<script src=") and "crowd-shim" not in bare
    typed = frame_document("<!DOCTYPE html><p>x</p>", request=request, preview=True)
    assert typed.startswith("<!DOCTYPE html><script") and 'data-preview="1"' in typed
    loader = (
        "<html><head><SCRIPT type='text/javascript' "
        "src='https://assets.crowd.aws/crowd-html-elements.js?v=2'></SCRIPT></head>"
        "<body><crowd-form></crowd-form></body></html>"
    )
    swapped = frame_document(loader, request=request, preview=False)
    assert "assets.crowd.aws" not in swapped and "crowd-shim.js" in swapped
    assert swapped.index("hit-bridge.js") > swapped.index("<head>")


def test_an_external_url_on_our_own_host_gets_no_same_origin(client):
    bundle = hit_bundle([external_question("https://testserver/api/v1/media/x/")])
    worker = WorkerFactory()
    claim(bundle, worker)
    client.force_login(worker)
    html = client.get(f"/work/{bundle.pk}/").content.decode()
    frame = html.split("<iframe", 1)[1].split(">", 1)[0]
    assert 'sandbox="allow-scripts allow-forms allow-popups allow-modals"' in frame
