"""JSON: the report file that `decide` and `merge` read."""

from __future__ import annotations

from mlgate.core.findings import Report


def render(report: Report) -> str:
    return report.dumps()
