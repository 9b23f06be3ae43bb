"""The bundle page's rings and calibration (the requester's view of `tasks.quality.report`)."""

from __future__ import annotations

from typing import Any

from tasks.models import Bundle
from tasks.quality.report import bundle_quality_report

from . import charts


def rings_and_calibration(bundle: Bundle) -> dict[str, Any]:
    report = bundle_quality_report(bundle)
    return {
        "rings": [r for r in report["rings"] if r["dismissed_at"] is None],
        "calibration": report["calibration"],
        "reliability_chart": charts.reliability_chart(report["calibration"]["reliability"]),
    }
