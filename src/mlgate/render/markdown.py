"""Markdown for PR/MR comments and job summaries."""

from __future__ import annotations

from mlgate.core.findings import Report

_ICON = {"critical": "🛑", "high": "🔴", "medium": "🟠", "low": "🟡", "info": "ℹ️"}


def escape(text: str) -> str:
    """Escape text for a markdown table cell (no HTML or table breaks from file names)."""
    out = text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
    for ch in "<>`*_[]":
        out = out.replace(ch, "\\" + ch)
    return out


def render(report: Report) -> str:
    lines = [f"### mlgate {report.kind}: `{report.target.replace('`', '')}`", ""]
    if not report.complete:
        lines += ["> **Incomplete**: not everything could be examined.", ""]
    if not report.findings:
        lines.append("No findings.")
    else:
        lines += ["| Severity | Rule | Finding | Location |", "|---|---|---|---|"]
        for f in sorted(report.findings, key=lambda f: (-f.severity.rank, f.rule_id)):
            loc = escape(f.location.display()) if f.location else ""
            lines.append(
                f"| {_ICON[f.severity.value]} {f.severity.value} | {f.rule_id} "
                f"| {escape(f.title)} | {loc} |"
            )
    lines.append("")
    return "\n".join(lines)
