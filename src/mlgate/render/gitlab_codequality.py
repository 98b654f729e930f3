"""GitLab code quality report (``artifacts:reports:codequality``) of a Report's findings.

The format is GitLab's subset of the Code Climate issue format: a JSON array of objects with
``description``, ``check_name``, ``fingerprint`` (unique per issue), ``severity`` (``info``,
``minor``, ``major``, ``critical``, ``blocker``) and ``location`` (``path`` relative to the
repository root, ``lines.begin`` >= 1). GitLab shows the issues in the merge request widget and
on the changed lines of the diff.

Paths are made repository-relative the same way as for SARIF: the scanned root
(``evidence.roots`` of a scan report, or ``base`` given by the caller) goes in front of each
finding's path. A finding in an archive member is placed on the archive file (GitLab can only
point at real files) and names the member in its description. A finding without a location is
placed on the scanned root itself.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from mlgate.core.findings import Finding, Report, Severity

SEVERITY_MAP: dict[Severity, str] = {
    Severity.INFO: "info",
    Severity.LOW: "minor",
    Severity.MEDIUM: "major",
    Severity.HIGH: "critical",
    Severity.CRITICAL: "blocker",
}
_MAX_DESCRIPTION = 1000


def render(report: Report) -> str:
    return json.dumps(to_codequality(report), indent=2) + "\n"


def to_codequality(report: Report, *, base: str | None = None) -> list[dict[str, Any]]:
    """The issues, in the report's finding order. ``base``: repository-relative folder to put
    in front of finding paths (default: derived from the scan report's roots)."""
    if base is None:
        from mlgate.render.sarif import _base_prefix

        base = _base_prefix(report)
    elif base and not base.endswith("/"):
        base += "/"
    seen: dict[str, int] = {}
    issues: list[dict[str, Any]] = []
    for finding in report.findings:
        fp = finding.fingerprint
        n = seen.get(fp, 0)
        seen[fp] = n + 1
        issues.append(_issue(finding, base, report, n))
    return issues


def _issue(f: Finding, base: str, report: Report, dup: int) -> dict[str, Any]:
    if f.location is not None and f.location.path.strip("./"):
        path = base + f.location.path
        line = f.location.line if f.location.line is not None and f.location.line >= 1 else 1
    else:
        path = base.rstrip("/") or report.target or "."
        line = f.location.line if f.location is not None and f.location.line else 1
    text = f"{f.rule_id}: {f.title}"
    if f.location is not None and f.location.member:
        text += f" (archive member {f.location.member})"
    if f.location is not None and f.location.offset is not None and f.location.line is None:
        text += f" at byte {f.location.offset}"
    if f.detail:
        text += f". {f.detail}"
    if len(text) > _MAX_DESCRIPTION:
        text = text[: _MAX_DESCRIPTION - 1] + "…"
    # unique per issue, stable across runs: the finding's own fingerprint, plus a counter for
    # findings that are identical in rule, place and title
    raw = f"mlgate|{f.fingerprint}|{dup}"
    return {
        "type": "issue",
        "description": text,
        "check_name": f.rule_id,
        "fingerprint": hashlib.sha256(raw.encode("utf-8")).hexdigest(),
        "severity": SEVERITY_MAP[f.severity],
        "categories": [_category(f.rule_id)],
        "engine_name": f.engine or "mlgate",
        "location": {"path": path, "lines": {"begin": line}},
    }


def _category(rule_id: str) -> str:
    """Code Climate category: unsafe content is Security, a license problem Compatibility,
    everything else (maturity, benchmarks, decision) Bug Risk."""
    if rule_id.startswith("MLG-LIC-"):
        return "Compatibility"
    if rule_id.startswith(("MLG-SCAN-", "MLG-BOM-")) or not rule_id.startswith("MLG-"):
        return "Security"
    return "Bug Risk"
