"""Plain text for terminals and CI logs."""

from __future__ import annotations

from mlgate.core.findings import Report, Severity


def render(report: Report) -> str:
    lines = [f"mlgate {report.kind}: {report.target}"]
    if report.files:
        lines.append(f"  {len(report.files)} file(s) examined")
    if not report.complete:
        lines.append("  INCOMPLETE: not everything could be examined (see findings)")
    if not report.findings:
        lines.append("  no findings")
    order = sorted(report.findings, key=lambda f: (-f.severity.rank, f.rule_id))
    for f in order:
        where = f" [{f.location.display()}]" if f.location else ""
        lines.append(f"  {f.severity.value.upper():8} {f.rule_id} {f.title}{where}")
        if f.detail:
            lines.append(f"           {f.detail}")
        if f.remediation and f.severity >= Severity.MEDIUM:
            lines.append(f"           fix: {f.remediation}")
    counts = report.counts()
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    lines.append(f"  summary: {summary or 'clean'}")
    return "\n".join(lines) + "\n"
