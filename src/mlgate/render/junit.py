"""JUnit XML, the test report format GitLab (``artifacts:reports:junit``), Jenkins and most CI
systems show on the job and merge-request pages.

One ``<testsuite>`` per report; one ``<testcase>`` per rule and file (findings of one rule on one
file are one test); a ``<failure>`` when the test has a finding at or above the threshold
(``medium`` by default; for a decision, every reason that holds or rejects). Files examined
without findings are passing test cases, so the page shows what was checked.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from mlgate.core.findings import Finding, Report, Severity

DEFAULT_THRESHOLD = Severity.MEDIUM

# XML 1.0 cannot carry most control characters, even escaped: drop them
_BAD_XML = {c: None for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)}


def _clean(text: str) -> str:
    return text.translate(_BAD_XML)


def _fails(f: Finding, report: Report, threshold: Severity) -> bool:
    if report.kind == "decide":
        return f.properties.get("effect") in ("reject", "hold")
    return f.severity >= threshold


def _suite(report: Report, threshold: Severity) -> ET.Element:
    suite = ET.Element("testsuite", name=_clean(f"mlgate {report.kind}: {report.target}"))
    groups: dict[tuple[str, str], list[Finding]] = {}
    for f in report.findings:
        path = f.location.path if f.location else ""
        groups.setdefault((f.rule_id, path), []).append(f)
    failures = 0
    cases: list[ET.Element] = []
    for (rule_id, path), items in sorted(groups.items()):
        case = ET.Element(
            "testcase",
            name=_clean(f"{rule_id} {path}".strip()),
            classname=_clean(f"mlgate.{report.kind}.{rule_id}"),
            file=_clean(path),
            time="0",
        )
        if path == "":
            del case.attrib["file"]
        failing = [f for f in items if _fails(f, report, threshold)]
        if failing:
            failures += 1
            worst = max(failing, key=lambda f: f.severity.rank)
            failure = ET.SubElement(
                case,
                "failure",
                message=_clean(f"{worst.severity.value}: {worst.title}"),
                type=worst.severity.value,
            )
            failure.text = _clean("\n".join(_describe(f) for f in failing))
        else:
            out = ET.SubElement(case, "system-out")
            out.text = _clean("\n".join(_describe(f) for f in items))
        cases.append(case)
    with_findings = {p for _, p in groups}
    for rec in report.files:
        if rec.path in with_findings:
            continue
        cases.append(ET.Element("testcase", name=_clean(rec.path), classname=f"mlgate.{report.kind}",
                                file=_clean(rec.path), time="0"))
    if not cases:
        cases.append(ET.Element("testcase", name=f"{report.kind}: no findings",
                                classname=f"mlgate.{report.kind}", time="0"))
    if not report.complete:
        failures += 1
        case = ET.Element("testcase", name=f"{report.kind}: complete", classname=f"mlgate.{report.kind}",
                          time="0")
        ET.SubElement(case, "failure", message="report is incomplete", type="incomplete").text = (
            "not everything could be examined: this is not a pass"
        )
        cases.append(case)
    suite.extend(cases)
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", "0")
    suite.set("time", "0")
    return suite


def _describe(f: Finding) -> str:
    where = f" at {f.location.display()}" if f.location else ""
    text = f"[{f.severity.value}] {f.rule_id} {f.title}{where}"
    if f.detail:
        text += f"\n  {f.detail}"
    if f.remediation:
        text += f"\n  fix: {f.remediation}"
    return text


def render_many(reports: Sequence[Report], *, threshold: Severity = DEFAULT_THRESHOLD) -> str:
    root = ET.Element("testsuites", name="mlgate")
    tests = failures = 0
    for report in reports:
        suite = _suite(report, threshold)
        tests += int(suite.get("tests", "0"))
        failures += int(suite.get("failures", "0"))
        root.append(suite)
    root.set("tests", str(tests))
    root.set("failures", str(failures))
    root.set("errors", "0")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def render(report: Report) -> str:
    """The renderer registered as ``junit``."""
    return render_many([report])
