from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlgate.cli import main
from tests.decide.helpers import finding, report, write_model


def _write(path: Path, rep: object) -> Path:
    path.write_text(rep.dumps())  # type: ignore[attr-defined]
    return path


def test_decide_promote_exit_0_json_and_record(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = write_model(tmp_path / "m")
    scan = _write(tmp_path / "scan.json", report("scan", files=files))
    out, rec = tmp_path / "decision.json", tmp_path / "record.json"
    rc = main(["decide", str(scan), "--stage", "dev", "--policy", "permissive", "--format", "json",
               "-o", str(out), "--record", str(rec)])
    assert rc == 0
    doc = json.loads(out.read_text())
    assert doc["decision"] == "promote" and doc["stage"] == "dev" and doc["reasons"] == []
    statement = json.loads(rec.read_text())
    assert statement["predicate"]["evidenceFiles"][0]["name"] == "scan.json"
    assert {s["name"] for s in statement["subject"]} == {"model.safetensors", "config.json"}


def test_decide_reject_exit_1_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scan = _write(tmp_path / "scan.json", report("scan", finding()))
    assert main(["decide", str(scan)]) == 1
    out = capsys.readouterr().out
    assert "REJECT" in out and "MLG-DEC-003" in out


def test_decide_hold_missing_evidence_markdown_and_junit(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    scan = _write(tmp_path / "scan.json", report("scan"))
    assert main(["decide", str(scan), "--stage", "staging", "--format", "markdown"]) == 1
    md = capsys.readouterr().out
    assert md.startswith("<!-- mlgate:decision -->") and "hold" in md and "MLG-DEC-001" in md
    assert main(["decide", str(scan), "--stage", "staging", "--format", "junit"]) == 1
    assert "<testsuites" in capsys.readouterr().out


BAD_FINDING = b'{"mlgate_report": 1, "kind": "scan", "target": "x", "findings": [{}]}'


@pytest.mark.parametrize("content", [b"", b"not json", b'{"kind": "scan"}', b"\xff\xfe", BAD_FINDING])
def test_hostile_report_files_are_usage_errors(tmp_path: Path, content: bytes,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    assert main(["decide", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err


def test_missing_report_and_unknown_stage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decide", str(tmp_path / "nope.json")]) == 2
    scan = _write(tmp_path / "scan.json", report("scan"))
    assert main(["decide", str(scan), "--stage", "qa"]) == 2
    assert "unknown stage" in capsys.readouterr().err


def test_merge_shards_then_decide(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.json", report("scan", finding(path="a.pkl"), shard="1/2"))
    b = _write(tmp_path / "b.json", report("scan", finding(path="a.pkl"), shard="2/2"))
    merged = tmp_path / "merged.json"
    assert main(["merge", str(a), str(b), "-o", str(merged)]) == 0
    doc = json.loads(merged.read_text())
    assert doc["complete"] is True and len(doc["findings"]) == 1
    assert main(["merge", str(a), "-o", str(merged)]) == 0
    assert json.loads(merged.read_text())["complete"] is False
    bom = _write(tmp_path / "bom.json", report("bom"))
    assert main(["merge", str(a), str(bom), "-o", str(merged)]) == 2


def test_output_defaults_to_json(tmp_path: Path) -> None:
    scan = _write(tmp_path / "scan.json", report("scan"))
    out = tmp_path / "d.json"
    assert main(["decide", str(scan), "-o", str(out)]) == 0
    assert json.loads(out.read_text())["decision"] == "promote"
    assert main(["decide", str(scan), "-o", str(out), "--format", "text"]) == 0
    assert out.read_text().startswith("mlgate decide: PROMOTE")


def test_decide_reads_a_cyclonedx_bom_as_the_bom_report(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    # regression: docs hand `mlgate bom --format json` output to decide; it was "not a report"
    model = Path(__file__).resolve().parents[2] / "fixtures" / "example-model"
    scan, bom, lic = tmp_path / "scan.json", tmp_path / "bom.json", tmp_path / "license.json"
    assert main(["scan", str(model), "--format", "json", "-o", str(scan)]) == 0
    assert main(["bom", str(model), "--format", "json", "-o", str(bom)]) == 0
    assert main(["license", str(model), "--format", "json", "-o", str(lic)]) == 0
    out = tmp_path / "d.json"
    rc = main(["decide", str(scan), str(bom), str(lic), "--stage", "staging", "-o", str(out)])
    data = json.loads(out.read_text(encoding="utf-8"))
    assert [i["kind"] for i in data["inputs"]] == ["bom", "license", "scan"]
    assert data["decision"] == "promote" and rc == 0
    hostile = tmp_path / "h.json"
    hostile.write_text('{"bomFormat": "CycloneDX", "components": [{"type": "file", "name": "x",'
                       ' "hashes": 3, "properties": [1, {"name": "mlgate:size", "value": "'
                       + "9" * 5000 + '"}]}]}', encoding="utf-8")
    assert main(["decide", str(hostile)]) == 1  # a bom alone: scan missing -> hold, no crash
    assert "internal error" not in capsys.readouterr().err


def test_decide_and_merge_refuse_a_fifo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # regression: a FIFO given as a report blocked the read forever
    import os

    fifo = tmp_path / "r.json"
    os.mkfifo(fifo)
    assert main(["decide", str(fifo)]) == 2
    assert main(["merge", str(fifo)]) == 2
    assert "not a regular file" in capsys.readouterr().err
