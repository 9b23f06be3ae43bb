"""Issue 16, finding 3: no export writes a live spreadsheet formula."""

import csv
import io

import pytest

from marketplace.csvsafe import safe_cell
from tasks.exports import tabular
from tests.factories import BundleFactory, ItemFactory

pytestmark = pytest.mark.django_db

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
