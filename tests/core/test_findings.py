from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlgate.core.errors import InputError
from mlgate.core.findings import FileRecord, Finding, Location, Report, Severity, merge_reports


def _finding(rule: str = "MLG-SCAN-001", sev: Severity = Severity.CRITICAL, path: str = "a.pkl"):
    return Finding(rule, sev, "t", "d", Location(path, member="data.pkl", offset=12), "fix")


def test_severity_order_and_sarif_mapping() -> None:
    assert Severity.CRITICAL > Severity.HIGH > Severity.MEDIUM > Severity.LOW > Severity.INFO
    assert Severity.HIGH.sarif_level == "error"
    assert Severity.MEDIUM.sarif_level == "warning"
    assert Severity.LOW.sarif_level == "note"
    assert float(Severity.CRITICAL.security_severity) >= 9.0
    with pytest.raises(InputError):
        Severity.parse("severe")


def test_report_round_trips_through_json() -> None:
    rep = Report(
        kind="scan",
        target="m",
        findings=(_finding(),),
        files=(FileRecord("a.pkl", 10, "ab" * 32, "pickle"),),
        evidence={"engine": ["builtin"]},
    )
    again = Report.from_json(json.loads(rep.dumps()))
    assert again == rep
    assert again.max_severity() is Severity.CRITICAL
    assert rep.to_json()["summary"]["critical"] == 1


def test_location_display() -> None:
    assert Location("m/a.pt", member="archive/data.pkl", offset=3).display() == (
        "m/a.pt!/archive/data.pkl@3"
    )
    assert Location("x.py", line=7).display() == "x.py:7"


def test_fingerprint_depends_on_rule_and_place() -> None:
    assert _finding().fingerprint == _finding().fingerprint
    assert _finding().fingerprint != _finding(path="b.pkl").fingerprint
    assert _finding().fingerprint != _finding(rule="MLG-SCAN-002").fingerprint


def test_not_a_report_is_an_input_error() -> None:
    with pytest.raises(InputError):
        Report.from_json({"kind": "scan"})
    with pytest.raises(InputError):
        Report.from_json({"mlgate_report": 99, "kind": "scan", "target": "x"})


def test_merge_shards_complete_and_deduplicated() -> None:
    a = Report("scan", "m", (_finding(),), (FileRecord("a", 1, "0" * 64),), shard="1/2")
    b = Report("scan", "m", (_finding(), _finding(path="b")), (FileRecord("b", 1, "1" * 64),),
               shard="2/2")
    merged = merge_reports([a, b])
    assert merged.complete
    assert len(merged.findings) == 2
    assert [f.path for f in merged.files] == ["a", "b"]


def test_merge_missing_shard_is_incomplete() -> None:
    a = Report("scan", "m", shard="1/3")
    b = Report("scan", "m", shard="3/3")
    assert not merge_reports([a, b]).complete


def test_merge_conflicting_digest_is_flagged() -> None:
    a = Report("scan", "m", files=(FileRecord("a", 1, "0" * 64),))
    b = Report("scan", "m", files=(FileRecord("a", 1, "1" * 64),))
    (rec,) = merge_reports([a, b]).files
    assert rec.error and "conflicting" in rec.error


def test_merge_refuses_mixed_kinds() -> None:
    with pytest.raises(InputError):
        merge_reports([Report("scan", "m"), Report("license", "m")])



def test_merge_refuses_duplicate_shard_or_identical_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlgate.cli import main

    a = Report("scan", "m", (_finding(),), shard="1/2")
    a_again = Report("scan", "m", (_finding(path="other"),), shard="1/2")  # same id, other content
    with pytest.raises(InputError, match="the same shard was given twice: scan shard 1/2"):
        merge_reports([a, a_again])
    plain = Report("license", "m", (_finding(),))
    with pytest.raises(InputError, match="the same report was given twice"):
        merge_reports([plain, Report("license", "m", (_finding(),))])
    b = Report("scan", "m", shard="2/2")
    assert merge_reports([a, b]).complete  # distinct shards still merge
    first, second, copy = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "copy.json"
    first.write_text(a.dumps())
    second.write_text(b.dumps())
    copy.write_text(a.dumps())
    capsys.readouterr()
    assert main(["merge", str(first), str(copy), str(second)]) == 2
    assert "the same shard was given twice" in capsys.readouterr().err
    assert main(["merge", str(first), str(second)]) == 0
