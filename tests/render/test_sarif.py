"""SARIF 2.1.0 output: valid against the OASIS schema and shaped the way GitHub code scanning
requires (rule ids, levels, security-severity, repository-relative locations, fingerprints)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from mlgate.core.findings import Finding, Location, Report, Severity
from mlgate.core.policy import Policy
from mlgate.render import render
from mlgate.scan.engine import scan_paths
from tests.scan.test_engine import evil_pickle, make_zip

SCHEMA_NAME = "sarif-2.1.0-rtm.5.json"


def schema_path() -> Path | None:
    """Installed by .ci/setup.d/sarif.sh (from npm @microsoft/jest-sarif)."""
    env = os.environ.get("MLGATE_SARIF_SCHEMA")
    for candidate in (env, str(Path(sys.prefix) / "share" / "sarif" / SCHEMA_NAME)):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


@pytest.fixture
def scan_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Report:
    monkeypatch.chdir(tmp_path)
    model = Path("models/bert")
    model.mkdir(parents=True)
    (model / "model.safetensors").write_bytes(evil_pickle())
    (model / "model.pt").write_bytes(make_zip([("archive/data.pkl", evil_pickle())]))
    (model / "vocab with space.txt").write_text("hello")
    return scan_paths([model], policy=Policy())


def sarif_of(report: Report) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(render(report, "sarif"))
    return data


def test_validates_against_sarif_2_1_0_schema(scan_report: Report) -> None:
    path = schema_path()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("SARIF schema missing: .ci/setup.d/sarif.sh did not install it")
        pytest.skip("SARIF schema not installed here; run `. .ci/setup.d/sarif.sh`")
    import jsonschema

    schema = json.loads(path.read_text(encoding="utf-8"))
    validator = jsonschema.Draft4Validator(schema)
    errors = sorted(validator.iter_errors(sarif_of(scan_report)), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


def test_github_code_scanning_shape(scan_report: Report) -> None:
    sarif = sarif_of(scan_report)
    assert sarif["version"] == "2.1.0" and "$schema" in sarif
    (run,) = sarif["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "mlgate" and driver["version"] and driver["informationUri"]
    rules = {r["id"]: r for r in driver["rules"]}
    assert len(run["results"]) == len(scan_report.findings) > 0
    for res in run["results"]:
        rule = driver["rules"][res["ruleIndex"]]
        assert rule["id"] == res["ruleId"]
        assert res["level"] in ("error", "warning", "note")
        assert res["message"]["text"]
        loc = res["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"].startswith("models/bert/")
        assert loc["region"]["startLine"] >= 1
        assert len(res["partialFingerprints"]["mlgateFingerprint/v1"]) == 16
    for rule in rules.values():
        sev = float(rule["properties"]["security-severity"])
        assert 0.0 <= sev <= 10.0
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
        assert rule["help"]["markdown"] and "security" in rule["properties"]["tags"]
    assert run["invocations"][0]["executionSuccessful"] is True


def test_levels_and_security_severity_follow_the_finding(scan_report: Report) -> None:
    run = sarif_of(scan_report)["runs"][0]
    by_rule = {r["ruleId"]: r for r in run["results"]}
    assert by_rule["MLG-SCAN-009"]["level"] == "error"  # high
    crit = [r for r in run["results"] if r["properties"]["severity"] == "critical"]
    assert crit and all(r["properties"]["security-severity"] == "9.5" for r in crit)


def test_archive_member_is_a_logical_location(scan_report: Report) -> None:
    run = sarif_of(scan_report)["runs"][0]
    member = [r for r in run["results"]
              if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
              == "models/bert/model.pt"]
    assert member
    logical = member[0]["locations"][0]["logicalLocations"][0]
    assert logical["fullyQualifiedName"] == "model.pt!/archive/data.pkl"
    assert "archive/data.pkl" in member[0]["message"]["text"]


def test_uri_is_percent_encoded() -> None:
    f = Finding("MLG-SCAN-008", Severity.MEDIUM, "t", "d", Location("dir/a b#c.bin", offset=7))
    report = Report(kind="scan", target="x", findings=(f,))
    res = sarif_of(report)["runs"][0]["results"][0]
    phys = res["locations"][0]["physicalLocation"]
    assert phys["artifactLocation"]["uri"] == "dir/a%20b%23c.bin"
    assert phys["region"]["byteOffset"] == 7


def test_unknown_rule_gets_a_descriptor() -> None:
    f = Finding("MS-UNSAFE", Severity.HIGH, "modelscan says unsafe", "os.system", Location("m.pkl"),
                engine="modelscan")
    run = sarif_of(Report(kind="scan", target=".", findings=(f,)))["runs"][0]
    assert run["tool"]["driver"]["rules"][0]["id"] == "MS-UNSAFE"


def test_empty_report_is_valid_and_has_no_results() -> None:
    run = sarif_of(Report(kind="scan", target="."))["runs"][0]
    assert run["results"] == [] and run["tool"]["driver"]["rules"] == []


def test_sarif_target_is_relative_to_the_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    report = Report(kind="scan", target=f"{tmp_path / 'models' / 'bert'}, /elsewhere/x")
    doc = json.loads(render(report, "sarif"))
    assert doc["runs"][0]["properties"]["target"] == "models/bert, /elsewhere/x"
