"""GitLab code quality report: the fields GitLab reads, severities, paths and fingerprints."""

from __future__ import annotations

import json

from mlgate.core.findings import Finding, Location, Report, Severity
from mlgate.render.gitlab_codequality import SEVERITY_MAP, render, to_codequality

GITLAB_SEVERITIES = {"info", "minor", "major", "critical", "blocker"}


def finding(sev: Severity = Severity.CRITICAL, loc: Location | None = None,
            title: str = "os.system") -> Finding:
    return Finding("MLG-SCAN-050", sev, title, "STACK_GLOBAL imports posix.system", loc)


def scan_report(*findings: Finding, root: str = "models/bert") -> Report:
    return Report(kind="scan", target=root, findings=findings,
                  evidence={"roots": [{"path": root, "kind": "dir"}]})


def test_every_issue_has_the_fields_gitlab_requires() -> None:
    rep = scan_report(finding(loc=Location("weights/model.pkl", offset=28)),
                      finding(Severity.LOW, Location("tokenizer.json", line=12), title="odd"))
    issues = json.loads(render(rep))
    assert isinstance(issues, list) and len(issues) == 2
    for issue in issues:
        assert isinstance(issue["description"], str) and issue["description"]
        assert issue["check_name"] == "MLG-SCAN-050"
        assert issue["severity"] in GITLAB_SEVERITIES
        assert isinstance(issue["location"]["path"], str)
        assert isinstance(issue["location"]["lines"]["begin"], int)
        assert issue["location"]["lines"]["begin"] >= 1
    assert issues[0]["location"] == {"path": "models/bert/weights/model.pkl", "lines": {"begin": 1}}
    assert "at byte 28" in issues[0]["description"]
    assert issues[1]["location"]["lines"]["begin"] == 12


def test_severity_mapping_is_total_and_ordered() -> None:
    assert set(SEVERITY_MAP) == set(Severity)
    order = ["info", "minor", "major", "critical", "blocker"]
    ranks = [order.index(SEVERITY_MAP[s]) for s in sorted(Severity, key=lambda s: s.rank)]
    assert ranks == sorted(ranks) and len(set(ranks)) == len(ranks)


def test_fingerprints_are_unique_and_stable() -> None:
    same = finding(loc=Location("a.pkl"))
    rep = scan_report(same, same, finding(loc=Location("b.pkl")))
    first = [i["fingerprint"] for i in to_codequality(rep)]
    assert len(set(first)) == 3
    assert first == [i["fingerprint"] for i in to_codequality(rep)]


def test_archive_member_is_placed_on_the_archive_and_named() -> None:
    rep = scan_report(finding(loc=Location("model.pt", member="archive/data.pkl", offset=3)))
    (issue,) = to_codequality(rep)
    assert issue["location"]["path"] == "models/bert/model.pt"
    assert "archive/data.pkl" in issue["description"]


def test_finding_without_location_lands_on_the_scanned_root() -> None:
    lic = Finding("MLG-LIC-001", Severity.HIGH, "License could not be determined", "", None)
    (issue,) = to_codequality(Report(kind="license", target="models/bert", findings=(lic,)),
                              base="models/bert")
    assert issue["location"]["path"] == "models/bert"
    assert issue["categories"] == ["Compatibility"]


def test_empty_report_is_an_empty_array_and_huge_detail_is_bounded() -> None:
    assert json.loads(render(scan_report())) == []
    big = Finding("MLG-SCAN-050", Severity.HIGH, "x", "y" * 100_000, Location("a.pkl"))
    (issue,) = to_codequality(scan_report(big))
    assert len(issue["description"]) <= 1000
