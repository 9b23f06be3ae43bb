"""The one CSV writer for every download (results, statements, payout batches, admin CSVs).

A cell that a spreadsheet would read as a formula (`=`, `+`, `-`, `@`, tab, carriage return
first: OWASP's list) gets a leading apostrophe, so it opens as text. Only strings are touched:
numbers stay numbers (a negative amount is not a formula). Every string cell is treated the
same, headers included, because anything a requester or worker typed can reach any column.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, Protocol

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Writable(Protocol):
    def write(self, s: str, /) -> Any: ...


def safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class SafeWriter:
    """`csv.writer` with every cell passed through `safe_cell`."""

    def __init__(self, out: _Writable, **options: Any) -> None:
        self._writer = csv.writer(out, **options)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([safe_cell(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)
