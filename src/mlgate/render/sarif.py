"""SARIF 2.1.0 for GitHub code scanning (and any SARIF viewer).

Rule metadata (descriptions, help, ``security-severity``, tags) comes from the rule catalogue
(``mlgate.core.rules``). Locations are repository-relative URIs: for a scan report the scanned
root (``evidence.roots``) is put in front of each file path, so an alert lands on the file in
the repository. An archive member is named in a logical location (``file!/member``) and in the
message, because code scanning can only point at real files. ``partialFingerprints`` carries
each finding's stable fingerprint, so alerts keep their identity across runs.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from mlgate import __version__
from mlgate.core.findings import Finding, JSONValue, Report, Severity
from mlgate.core.rules import Rule, all_rules

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
INFORMATION_URI = "https://github.com/mlgate/mlgate"
FINGERPRINT_KEY = "mlgateFingerprint/v1"


def render(report: Report) -> str:
    return json.dumps(to_sarif(report), indent=2) + "\n"


def to_sarif(report: Report) -> dict[str, Any]:
    catalogue = all_rules()
    rule_ids: list[str] = []
    for f in report.findings:
        if f.rule_id not in rule_ids:
            rule_ids.append(f.rule_id)
    rule_ids.sort()
    index = {rid: i for i, rid in enumerate(rule_ids)}
    rules = [_rule(rid, catalogue.get(rid), report.findings) for rid in rule_ids]
    base = _base_prefix(report)
    results = [_result(f, index[f.rule_id], base, report) for f in report.findings]
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "mlgate",
                "version": report.tool_version or __version__,
                "semanticVersion": _semver(report.tool_version or __version__),
                "informationUri": INFORMATION_URI,
                "rules": rules,
            }
        },
        "automationDetails": {"id": f"mlgate/{report.kind}/"},
        "invocations": [{
            "executionSuccessful": report.complete,
            "properties": {"shard": report.shard, "createdAt": report.created_at},
        }],
        "results": results,
        "columnKind": "unicodeCodePoints",
        "properties": {"kind": report.kind, "target": _relative_target(report.target),
                       "summary": report.counts()},
    }
    if report.created_at:
        run["invocations"][0]["endTimeUtc"] = report.created_at
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def _rule(rule_id: str, rule: Rule | None, findings: tuple[Finding, ...]) -> dict[str, Any]:
    if rule is None:  # a finding from an engine whose rules are not in the catalogue
        sample = next(f for f in findings if f.rule_id == rule_id)
        rule = Rule(rule_id, sample.severity, sample.title, sample.title,
                    sample.remediation or "See the finding's detail.", tags=(sample.engine,))
    tags = ["security", *[t for t in rule.tags if t != "security"]]
    out: dict[str, Any] = {
        "id": rule.id,
        "name": _camel(rule.title),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.description},
        "help": {
            "text": f"{rule.description}\n\nHow to fix: {rule.remediation}",
            "markdown": f"**{rule.title}**\n\n{rule.description}\n\n"
                        f"**How to fix:** {rule.remediation}",
        },
        "defaultConfiguration": {"level": rule.severity.sarif_level},
        "properties": {
            "tags": tags,
            "precision": "high",
            "problem.severity": _problem_severity(rule.severity),
            "security-severity": rule.severity.security_severity,
        },
    }
    if rule.help_uri:
        out["helpUri"] = rule.help_uri
    return out


def _result(f: Finding, rule_index: int, base: str, report: Report) -> dict[str, Any]:
    text = f.title + (f": {f.detail}" if f.detail else "")
    if f.location and f.location.member:
        text += f" (in archive member {f.location.member})"
    region: dict[str, Any] = {"startLine": f.location.line if f.location and f.location.line else 1}
    if f.location and f.location.offset is not None:
        region["byteOffset"] = f.location.offset
    path = f.location.path if f.location else _fallback_path(report)
    physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(base, path)}, "region": region}
    location: dict[str, Any] = {"physicalLocation": physical}
    if f.location and f.location.member:
        location["logicalLocations"] = [{
            "name": f.location.member.rsplit("!/", 1)[-1],
            "fullyQualifiedName": f"{path}!/{f.location.member}",
            "kind": "resource",
        }]
    props: dict[str, JSONValue] = {"severity": f.severity.value, "engine": f.engine}
    if f.properties:
        props["details"] = dict(f.properties)
    if f.remediation:
        props["remediation"] = f.remediation
    return {
        "ruleId": f.rule_id,
        "ruleIndex": rule_index,
        "level": f.severity.sarif_level,
        "message": {"text": text},
        "locations": [location],
        "partialFingerprints": {FINGERPRINT_KEY: f.fingerprint},
        "properties": {**props, "security-severity": f.severity.security_severity},
    }


def _base_prefix(report: Report) -> str:
    """Path (relative to the working directory, POSIX) to put in front of finding paths."""
    roots = report.evidence.get("roots") if isinstance(report.evidence, dict) else None
    if not isinstance(roots, list) or len(roots) != 1 or not isinstance(roots[0], dict):
        return ""
    root = roots[0]
    p = Path(str(root.get("path", "")))
    folder = p if root.get("kind") == "dir" else p.parent
    if folder.is_absolute():
        try:
            folder = folder.relative_to(Path.cwd())
        except ValueError:
            return folder.as_posix().rstrip("/") + "/"
    text = os.path.normpath(folder.as_posix()).replace(os.sep, "/")
    return "" if text in (".", "") else text.rstrip("/") + "/"


def _uri(base: str, path: str) -> str:
    full = path if path.startswith("/") else base + path
    if full.startswith("/"):
        return "file://" + quote(full, safe="/")
    return quote(full, safe="/")


def _relative_target(target: str) -> str:
    """The scanned paths relative to the working directory (the repository) where they lie
    inside it, so the SARIF file does not carry the runner's absolute paths."""
    out = []
    for part in target.split(", "):
        p = Path(part)
        if p.is_absolute() and p.is_relative_to(Path.cwd()):
            part = p.relative_to(Path.cwd()).as_posix() or "."
        out.append(part)
    return ", ".join(out)


def _fallback_path(report: Report) -> str:
    return report.target.split(", ", 1)[0] or "."


def _camel(title: str) -> str:
    return "".join(w[:1].upper() + w[1:] for w in re.split(r"[^A-Za-z0-9]+", title) if w)


def _problem_severity(sev: Severity) -> str:
    if sev >= Severity.HIGH:
        return "error"
    if sev is Severity.MEDIUM:
        return "warning"
    return "recommendation"


def _semver(version: str) -> str:
    return version if re.fullmatch(r"\d+\.\d+\.\d+.*", version) else "0.0.0"
