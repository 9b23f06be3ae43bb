"""MTurk HITs in a real browser: a worker previews an HTMLQuestion written with crowd-html-
elements, accepts it, answers inside the sandboxed frame, and the answer comes back as MTurk's
`taskAnswers`; an ExternalQuestion on another origin posts to turkSubmitTo's externalSubmit
and the task page moves on by itself. Screenshots: test-output/screenshots/mturk-*."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from tests.e2e.annotation_pages import VIEWPORTS, session_cookie

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CROWD_FORM = """
<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>
<crowd-form answer-format="flatten-objects">
  <p>Is this review positive? <b>{text}</b></p>
  <crowd-radio-group>
    <crowd-radio-button name="positive" value="positive">Positive</crowd-radio-button>
    <crowd-radio-button name="negative" value="negative">Negative</crowd-radio-button>
  </crowd-radio-group>
  <crowd-input name="comment" label="Why?" required></crowd-input>
</crowd-form>
"""

# What an oTree or psiTurk study page does with MTurk's parameters.
STUDY_PAGE = """<!DOCTYPE html><html><head><title>Study</title></head><body>
<form id="study" method="post">
  <input type="hidden" name="assignmentId" id="assignmentId">
  <label>Your age <input name="age" id="age"></label>
  <button type="submit">Finish study</button>
</form>
<script>
  var p = new URLSearchParams(location.search);
  document.getElementById("assignmentId").value = p.get("assignmentId");
  document.getElementById("study").action = p.get("turkSubmitTo") + "/mturk/externalSubmit";
</script></body></html>"""


class StudyServer(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        body = STUDY_PAGE.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def study_site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), StudyServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/study"
    server.shutdown()
    server.server_close()


def worker_page(open_context, site, worker):
    with site.lock:
        cookie = session_cookie(site, worker)
    context = open_context(viewport=VIEWPORTS["1280"], device_scale_factor=1)
    context.set_default_timeout(10_000)
    context.add_cookies([cookie])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page, errors


def test_worker_answers_a_crowd_form_html_question_in_the_frame(open_context, site, screenshot):
    from marketplace.mturk.questions import answers_xml
    from tasks.models import Assignment
    from tests.factories import WorkerFactory
    from tests.mturk_work.helpers import hit_bundle
    from tests.mturk_work.xml_samples import html_question

    with site.lock:
        texts = ["Arrived quickly and works.", "Broke after two days."]
        bundle = hit_bundle([html_question(CROWD_FORM.format(text=t), 420) for t in texts])
        worker = WorkerFactory()
    page, errors = worker_page(open_context, site, worker)
    page.goto(site(f"/work/{bundle.pk}/"))

    # Preview: the HIT is shown, submitting is refused inside the frame, nothing is claimed.
    preview = page.frame_locator("[data-hit-preview] iframe[data-hit-frame]")
    expect(preview.get_by_text("Arrived quickly and works.")).to_be_visible()
    preview.get_by_label("Why?").fill("just looking")
    preview.get_by_role("button", name="Submit").click()
    expect(preview.locator("#crowdmarket-notice")).to_contain_text("preview")
    screenshot(page, "mturk-html-preview")
    with site.lock:
        assert not Assignment.objects.filter(worker=worker).exists()

    page.get_by_role("button", name="Accept a task").click()
    frame = page.frame_locator("#task-panel[data-state=task] iframe[data-hit-frame]")
    expect(page.locator("#task-panel[data-state=task]")).to_be_visible()
    with site.lock:  # which HIT comes first is the claim order's business (routing), not ours
        first = Assignment.objects.get(worker=worker, status="claimed").item.payload
    first_text, second_text = texts if texts[0] in first["mturk_question"] else texts[::-1]
    expect(frame.get_by_text(first_text)).to_be_visible()
    frame.get_by_label("Positive", exact=True).check()
    frame.get_by_label("Why?").fill("fast delivery")
    screenshot(page, "mturk-html-task")
    frame.get_by_role("button", name="Submit").click()

    expect(page.locator("[data-feedback]")).to_contain_text("Answer saved.")
    # the next HIT comes in a fresh frame
    expect(frame.get_by_text(second_text)).to_be_visible()
    with site.lock:
        done = Assignment.objects.get(worker=worker, status="submitted")
        assert json.loads(done.answer["taskAnswers"]) == [
            {"positive.positive": True, "negative.negative": False, "comment": "fast delivery"}
        ]
        assert "<QuestionIdentifier>taskAnswers</QuestionIdentifier>" in answers_xml(done.answer)
    assert not errors, errors


def test_external_question_submits_to_turk_submit_to_and_moves_on(
    open_context, site, study_site, screenshot
):
    from tasks.models import Assignment
    from tests.factories import WorkerFactory
    from tests.mturk_work.helpers import hit_bundle
    from tests.mturk_work.xml_samples import external_question

    with site.lock:
        bundle = hit_bundle([external_question(study_site, 300)] * 2)
        worker = WorkerFactory()
    page, errors = worker_page(open_context, site, worker)
    page.goto(site(f"/work/{bundle.pk}/"))
    page.get_by_role("button", name="Accept a task").click()
    frame = page.frame_locator("#task-panel[data-state=task] iframe[data-hit-frame]")
    frame.get_by_label("Your age").fill("34")
    screenshot(page, "mturk-external-task")
    first = page.locator("#task-panel h2").inner_text()
    frame.get_by_role("button", name="Finish study").click()
    # the frame lands on our "Answer recorded" page, which tells the task page to move on
    expect(page.locator("#task-panel[data-state=task] h2")).not_to_have_text(first)
    with site.lock:
        done = Assignment.objects.get(worker=worker, status="submitted")
        assert done.answer == {"age": "34"}
        assert Assignment.objects.filter(worker=worker, status="claimed").count() == 1
    assert not errors, errors


# A classic HTMLQuestion: a plain form whose own script validates, then calls form.submit().
PLAIN_FORM = """
<form name="mturk_form" method="post" id="mturk_form"
      action="https://www.mturk.com/mturk/externalSubmit">
  <input type="hidden" value="" name="assignmentId" id="assignmentId"/>
  <label>Label <input type="text" name="label" id="label"></label>
  <label><input type="checkbox" name="tags" value="a"> A</label>
  <label><input type="checkbox" name="tags" value="b"> B</label>
  <p id="problem"></p>
  <button type="button" id="send">Send</button>
</form>
<script>
  document.getElementById("send").addEventListener("click", function () {
    var form = document.getElementById("mturk_form");
    if (!form.label.value) {
      document.getElementById("problem").textContent = "Label needed";
      return;
    }
    form.submit();
  });
</script>
"""


def test_plain_html_form_submitted_by_its_own_script(open_context, site):
    from tasks.models import Assignment
    from tests.factories import WorkerFactory
    from tests.mturk_work.helpers import hit_bundle
    from tests.mturk_work.xml_samples import html_question

    with site.lock:
        bundle = hit_bundle([html_question(PLAIN_FORM, 300)])
        worker = WorkerFactory()
    page, errors = worker_page(open_context, site, worker)
    page.goto(site(f"/work/{bundle.pk}/"))
    page.get_by_role("button", name="Accept a task").click()
    frame = page.frame_locator("#task-panel[data-state=task] iframe[data-hit-frame]")
    frame.get_by_role("button", name="Send").click()
    expect(frame.locator("#problem")).to_have_text("Label needed")  # its own check holds
    frame.get_by_label("Label").fill("cat")
    frame.get_by_label("A", exact=True).check()
    frame.get_by_label("B", exact=True).check()
    frame.get_by_role("button", name="Send").click()
    expect(page.locator("[data-feedback]")).to_contain_text("Answer saved.")
    with site.lock:
        done = Assignment.objects.get(worker=worker, status="submitted")
        assert done.answer == {"label": "cat", "tags": ["a", "b"]}
    assert not errors, errors
