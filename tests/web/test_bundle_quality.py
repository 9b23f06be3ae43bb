"""The requester's bundle page: label and accuracy charts (SVG with a table fallback), the
worker table with scores, block / unblock; and the instructions markdown (preview, sanitising)."""

from __future__ import annotations

import re

import pytest

from tasks import services, work
from tasks.models import Assignment, AssignmentStatus, ItemResult, WorkerBundleStats
from tasks.selectors import worker_public_id
from tests.factories import BundleFactory, ItemFactory, RequesterFactory, WorkerFactory, publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def worked(requester):
    """A published bundle with results (2 positive, 1 negative) and two workers: one with
    9 of 10 gold checks right, one with 2 of 10 who has answered a task."""
    bundle = BundleFactory(requester=requester, min_overlap=1, max_overlap=1)
    items = [ItemFactory(bundle=bundle) for _ in range(4)]
    bundle = publish(bundle)
    for item, label in zip(items, ["pos", "pos", "neg"], strict=False):
        ItemResult.objects.create(item=item, label=label, confidence=0.9, method="majority")
    good, bad = WorkerFactory(), WorkerFactory()
    WorkerBundleStats.objects.create(
        worker=good, bundle=bundle, submitted=12, gold_seen=10, gold_correct=9
    )
    WorkerBundleStats.objects.create(
        worker=bad, bundle=bundle, submitted=11, gold_seen=10, gold_correct=2
    )
    claimed = work.assignment_claim(bundle=bundle, worker=bad)
    services.assignment_submit(assignment_id=claimed.pk, worker=bad, answer="pos")
    work.assignment_claim(bundle=bundle, worker=bad)  # a live claim
    return bundle, good, bad


def pid(bundle, worker) -> str:
    return worker_public_id(bundle.requester_id, worker.pk)


def test_bundle_page_draws_the_label_chart_as_accessible_svg_with_a_table(client, worked):
    bundle, _, _ = worked
    client.force_login(bundle.requester)
    html = client.get(f"/bundles/{bundle.pk}/").content.decode()
    chart = re.search(r'<figure class="chart" id="label-chart">(.*?)</figure>', html, re.S)
    assert chart, "the label chart is on the page"
    svg = chart.group(1)
    assert 'role="img"' in svg
    assert '<title id="label-chart-title">Label distribution</title>' in svg
    assert "Positive: 2, Negative: 1" in svg  # the <desc> reads the numbers out
    assert svg.count("<rect") == 2
    assert '<td>Positive</td><td class="num">2</td><td class="num">67%</td>' in svg


def test_bundle_page_lists_workers_with_scores_and_the_accuracy_chart(client, worked):
    bundle, good, bad = worked
    client.force_login(bundle.requester)
    html = client.get(f"/bundles/{bundle.pk}/").content.decode()
    assert pid(bundle, good) in html and pid(bundle, bad) in html
    assert f"/users/{good.pk}" not in html  # only the public id is shown
    row = re.search(rf'<tr data-worker="{pid(bundle, good)}">(.*?)</tr>', html, re.S).group(1)
    assert "90%" in row  # gold accuracy
    assert re.search(r"\d+%–\d+% \(9/10\)", row)  # its interval
    assert 'id="accuracy-chart"' in html
    assert "Worker gold accuracy" in html
    # lowest accuracy first in the chart
    chart = html[html.index('id="accuracy-chart"') :]
    assert chart.index(pid(bundle, bad)) < chart.index(pid(bundle, good))


def test_block_needs_a_reason_shown_next_to_the_field(client, worked):
    bundle, good, _ = worked
    client.force_login(bundle.requester)
    public = pid(bundle, good)
    response = client.post(
        f"/bundles/{bundle.pk}/workers/{public}/block/", {f"{public}-reason": "  "}
    )
    assert response.status_code == 400
    html = response.content.decode()
    row = re.search(rf'<tr data-worker="{public}">(.*?)</tr>', html, re.S).group(1)
    assert 'class="field has-error"' in row
    assert "Give a reason to block" in row
    assert not WorkerBundleStats.objects.get(worker=good, bundle=bundle).blocked


def test_block_then_unblock_a_worker(client, worked):
    bundle, _, bad = worked
    client.force_login(bundle.requester)
    public = pid(bundle, bad)
    response = client.post(
        f"/bundles/{bundle.pk}/workers/{public}/block/",
        {f"{public}-reason": "Fails gold", "confirm": "yes"},  # confirmed (issue 15, bug 2)
    )
    assert response.status_code == 302
    assert response["Location"].endswith(f"/bundles/{bundle.pk}/#workers")
    stats = WorkerBundleStats.objects.get(worker=bad, bundle=bundle)
    assert stats.blocked and stats.blocked_reason == "Fails gold"
    # quality.worker_block ran (not just the flag): the unreviewed work was handled by it
    assert not Assignment.objects.filter(worker=bad, status=AssignmentStatus.CLAIMED).exists()
    html = client.get(f"/bundles/{bundle.pk}/").content.decode()
    row = re.search(rf'<tr data-worker="{public}">(.*?)</tr>', html, re.S).group(1)
    assert "Blocked" in row and "Reason: Fails gold" in row and "Unblock" in row

    response = client.post(f"/bundles/{bundle.pk}/workers/{public}/unblock/")
    assert response.status_code == 302
    assert not WorkerBundleStats.objects.get(worker=bad, bundle=bundle).blocked


def test_block_and_unblock_need_post(client, worked):
    bundle, good, _ = worked
    client.force_login(bundle.requester)
    public = pid(bundle, good)
    assert client.get(f"/bundles/{bundle.pk}/workers/{public}/block/").status_code == 405
    assert client.get(f"/bundles/{bundle.pk}/workers/{public}/unblock/").status_code == 405


def test_another_requester_gets_404_on_the_bundle_its_charts_and_its_workers(client, worked):
    bundle, good, _ = worked
    client.force_login(RequesterFactory())
    public = pid(bundle, good)
    assert client.get(f"/bundles/{bundle.pk}/").status_code == 404
    block = client.post(
        f"/bundles/{bundle.pk}/workers/{public}/block/",
        {f"{public}-reason": "x", "confirm": "yes"},
    )
    assert block.status_code == 404
    assert client.post(f"/bundles/{bundle.pk}/workers/{public}/unblock/").status_code == 404
    assert not WorkerBundleStats.objects.get(worker=good, bundle=bundle).blocked


def test_an_unknown_worker_id_is_404(client, worked):
    bundle, _, _ = worked
    client.force_login(bundle.requester)
    outsider = pid(bundle, WorkerFactory())
    response = client.post(
        f"/bundles/{bundle.pk}/workers/{outsider}/block/", {f"{outsider}-reason": "x"}
    )
    assert response.status_code == 404


def test_a_worker_cannot_reach_requester_pages(client, worked):
    bundle, good, _ = worked
    client.force_login(good)
    public = pid(bundle, good)
    assert client.get(f"/bundles/{bundle.pk}/").status_code == 403
    assert client.post(f"/bundles/{bundle.pk}/workers/{public}/unblock/").status_code == 403
    preview = client.post("/bundles/preview-instructions/", {"instructions": "x"})
    assert preview.status_code == 403


def test_bundle_page_without_answers_says_so(client, requester):
    bundle = BundleFactory(requester=requester)
    client.force_login(requester)
    html = client.get(f"/bundles/{bundle.pk}/").content.decode()
    assert "No aggregated labels yet" in html
    assert "No worker has answered yet." in html


# -- instructions markdown -------------------------------------------------------------------


def test_instructions_preview_renders_sanitised_markdown(client, requester):
    client.force_login(requester)
    text = "**Read** the [guide](https://example.com) <script>alert(1)</script> [x](javascript:1)"
    response = client.post("/bundles/preview-instructions/", {"instructions": text})
    assert response.status_code == 200
    html = response.content.decode()
    assert "<strong>Read</strong>" in html
    assert 'href="https://example.com"' in html
    assert "<script>" not in html
    assert "javascript:" not in html.split("[x]")[0]
    assert 'href="javascript' not in html


def test_create_form_wires_the_preview(client, requester):
    client.force_login(requester)
    html = client.get("/bundles/new/").content.decode()
    assert 'hx-post="/bundles/preview-instructions/"' in html
    assert 'id="instructions-preview"' in html


def test_task_and_bundle_pages_show_instructions_as_sanitised_html(client, requester):
    bundle = BundleFactory(
        requester=requester,
        instructions="# Steps\n\n- read\n- *pick*\n\n<img src=x onerror=alert(1)>",
        min_overlap=1,
        max_overlap=1,
    )
    ItemFactory(bundle=bundle)
    publish(bundle)
    client.force_login(requester)
    html = client.get(f"/bundles/{bundle.pk}/").content.decode()
    assert "<h1>Steps</h1>" in html and "<em>pick</em>" in html
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html  # raw HTML is shown as text
    client.force_login(WorkerFactory())
    html = client.get(f"/work/{bundle.pk}/").content.decode()
    assert "<li><em>pick</em></li>" in html
    assert "<img src=x" not in html


def test_blocking_shows_what_it_will_do_and_waits_for_confirmation(client, worked):
    """Issue 15, bug 2: a block reopened items and reserved money without a word."""
    bundle, _, bad = worked
    client.force_login(bundle.requester)
    public = pid(bundle, bad)
    url = f"/bundles/{bundle.pk}/workers/{public}/block/"
    response = client.post(url, {f"{public}-reason": "Fails gold"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "What blocking will do" in html
    assert re.search(r"data-live-claims>1 task the worker holds now will end", html)
    assert re.search(r"data-reopened>\d+ items? will go back to work", html)
    assert "data-reserved" in html
    assert 'name="confirm" value="yes"' in html
    assert not WorkerBundleStats.objects.get(worker=bad, bundle=bundle).blocked
    assert Assignment.objects.filter(worker=bad, status=AssignmentStatus.CLAIMED).exists()

    response = client.post(url, {f"{public}-reason": "Fails gold", "confirm": "yes"})
    assert response.status_code == 302
    assert WorkerBundleStats.objects.get(worker=bad, bundle=bundle).blocked
