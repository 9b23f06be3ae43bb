"""Issue 16, finding 3: no export writes a live spreadsheet formula, and every CSV goes
through one writer."""

import csv
import io
import re
from pathlib import Path

import pytest

from marketplace.csvsafe import safe_cell
from tasks import work
from tasks.exports import tabular
from tests.conftest import client_for
from tests.factories import BundleFactory, ItemFactory, WorkerFactory, publish

pytestmark = pytest.mark.django_db

FORMULA_ANSWER = '=HYPERLINK("http://evil.test","click")'
DANGEROUS = ['=HYPERLINK("http://evil","x")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]


@pytest.mark.parametrize("text", DANGEROUS)
def test_a_formula_cell_is_neutralised(text):
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["plain", "", 12, -5, 0.5, None])
def test_other_cells_are_unchanged(value):
    assert safe_cell(value) == value


def test_results_csv_neutralises_payload_external_id_and_headers():
    bundle = BundleFactory()
    ItemFactory(
        bundle=bundle,
        external_id="=1+1",
        payload={"text": '=HYPERLINK("http://evil","click")', "@cmd": "+SUM(A1)"},
    )
    text = "".join(tabular.csv_rows(bundle))
    rows = list(csv.reader(io.StringIO(text)))
    cells = [cell for row in rows for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")], cells
    assert "'=1+1" in rows[1] and "'@cmd" in rows[0]


def test_an_answer_written_as_a_formula_is_neutralised_in_the_results_export(requester):
    """The finding itself: workers' answers `=HYPERLINK(...)` reached the requester's results
    CSV as a live formula. They are exported (in the judgments), never as a formula cell."""
    bundle = BundleFactory(
        requester=requester, question={"type": "text", "max_length": 200}, min_overlap=2,
        max_overlap=2,
    )  # fmt: skip
    ItemFactory(bundle=bundle)
    bundle = publish(bundle)
    for worker in (WorkerFactory(), WorkerFactory()):
        claim = work.assignment_claim(bundle=bundle, worker=worker)
        work.submission_record(assignment_id=claim.pk, worker=worker, answer=FORMULA_ANSWER)
    response = client_for(requester).get(f"/api/v1/bundles/{bundle.pk}/results/?format=csv")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(text)))
    cells = [cell for row in rows for cell in row]
    assert any("=HYPERLINK(" in cell for cell in cells), rows  # the answers are exported
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")], cells


def test_every_csv_is_written_by_the_one_writer():
    """One CSV writer for every export (marketplace.csvsafe.SafeWriter): no other module of the
    project writes CSV with the standard library's writer."""
    root = Path(__file__).resolve().parents[2]
    writers = re.compile(r"\bcsv\.(writer|DictWriter)\(")
    offenders = [
        str(path.relative_to(root))
        for package in ("accounts", "marketplace", "payments", "tasks")
        for path in (root / package).rglob("*.py")
        if path != root / "marketplace" / "csvsafe.py" and writers.search(path.read_text())
    ]
    assert offenders == []
