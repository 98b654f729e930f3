"""ProtectAI modelscan as a second engine (``--engine modelscan`` / ``all``).

modelscan runs in-process through its Python API (``modelscan.modelscan.ModelScan`` with its
default settings); its report is mapped to findings with ``engine="modelscan"``:

- every issue (unsafe operator) -> MLG-SCAN-190 with modelscan's severity;
- every error -> MLG-SCAN-191 (fail closed: the second opinion is missing for that file);
- skipped files: "not supported" -> MLG-SCAN-192 (info); any other skip reason (bad zip, bad
  magic number, not implemented...) -> MLG-SCAN-191.

modelscan loads nothing either: it reads pickle opcodes and file headers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mlgate.core.errors import ToolError
from mlgate.core.findings import Finding, Location, Severity
from mlgate.scan import rules_formats as R

INSTALL_HINT = "pip install 'mlgate[modelscan]'"
_SEVERITIES = {"LOW": Severity.LOW, "MEDIUM": Severity.MEDIUM, "HIGH": Severity.HIGH,
               "CRITICAL": Severity.CRITICAL}


def run_modelscan(paths: Sequence[Path]) -> list[Finding]:
    """Scan each path with modelscan; findings located relative to each path's folder."""
    try:
        from modelscan.modelscan import ModelScan
        from modelscan.settings import DEFAULT_SETTINGS
    except ImportError as exc:
        raise ToolError("modelscan is not installed", hint=INSTALL_HINT) from exc
    import copy
    import logging

    findings: list[Finding] = []
    logging.getLogger("modelscan").setLevel(logging.CRITICAL)
    for path in paths:
        scanner = ModelScan(settings=copy.deepcopy(DEFAULT_SETTINGS))
        try:
            report = scanner.scan(str(path))
        except Exception as exc:  # modelscan's own failure: a finding, not a crash
            findings.append(R.MS_ERROR.finding(
                f"modelscan failed: {str(exc)[:300] or type(exc).__name__}",
                Location(path.name), engine="modelscan"))
            continue
        base = "" if path.is_dir() else path.name
        findings.extend(map_report(report, base))
    return findings


def _loc(source: Any, base: str) -> Location:
    text = str(source or base or ".")
    if base and text in ("", ".", base):
        return Location(base)
    # modelscan writes archive members as "file.zip:member"
    if ":" in text:
        file_part, member = text.split(":", 1)
        return Location(file_part, member=member or None)
    return Location(text)


def map_report(report: Mapping[str, Any], base: str = "") -> list[Finding]:
    """modelscan's JSON report (``ModelScan.scan`` return value) -> findings."""
    out: list[Finding] = []
    for issue in report.get("issues") or []:
        severity = _SEVERITIES.get(str(issue.get("severity", "")).upper(), Severity.HIGH)
        module, operator = issue.get("module", "?"), issue.get("operator", "?")
        out.append(R.MS_ISSUE.finding(
            str(issue.get("description") or f"unsafe operator {module}.{operator}"),
            _loc(issue.get("source"), base), severity=severity, engine="modelscan",
            title=f"modelscan: unsafe operator {module}.{operator}",
            properties={"module": module, "operator": operator,
                        "scanner": issue.get("scanner", "")}))
    for error in report.get("errors") or []:
        out.append(R.MS_ERROR.finding(
            f"{error.get('category', 'error')}: {str(error.get('description', ''))[:300]}",
            _loc(error.get("source"), base), engine="modelscan"))
    skipped = ((report.get("summary") or {}).get("skipped") or {}).get("skipped_files") or []
    for skip in skipped:
        category = str(skip.get("category", ""))
        rule = R.MS_SKIPPED if category == "SCAN_NOT_SUPPORTED" else R.MS_ERROR
        out.append(rule.finding(f"{category}: {str(skip.get('description', ''))[:300]}",
                                _loc(skip.get("source"), base), engine="modelscan"))
    return out
