"""Shared reporting for benchmarks: one human table, then one machine line per target."""

from __future__ import annotations

import operator

_OPS = {
    ">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq,
}  # fmt: skip


def report_target(name: str, value: float, op: str, threshold: float) -> bool:
    """Print `TARGET name value op threshold PASS|FAIL` (DESIGN.md's format); return the verdict."""
    ok = _OPS[op](value, threshold)
    print(f"TARGET {name} {value:.4g} {op} {threshold:g} {'PASS' if ok else 'FAIL'}", flush=True)
    return ok


def print_table(headers: list[str], rows: list[list[object]]) -> None:
    """Print a plain aligned table, so figures are readable without tooling."""
    cells = [[str(h) for h in headers]] + [
        [f"{c:.4g}" if isinstance(c, float) else str(c) for c in row] for row in rows
    ]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
        if n == 0:
            print("  ".join("-" * w for w in widths))
