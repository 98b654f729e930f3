"""`mlgate scan` through the real CLI entry point (main(argv) -> exit code)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlgate.cli import main
from tests.scan.test_engine import evil_pickle


@pytest.fixture
def evil_dir(tmp_path: Path) -> Path:
    d = tmp_path / "model"
    d.mkdir()
    (d / "model.pkl").write_bytes(evil_pickle())
    return d


def test_clean_model_exits_0(example_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(example_model)]) == 0
    assert "no findings" in capsys.readouterr().out


def test_findings_exit_1_and_json_output_file(evil_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports" / "scan.json"
    assert main(["scan", str(evil_dir), "--format", "json", "--output", str(out)]) == 1
    data = json.loads(out.read_text())
    assert data["kind"] == "scan" and data["summary"]["critical"] >= 1
    assert data["files"][0]["sha256"]


def test_fail_on_override(tmp_path: Path) -> None:
    (tmp_path / "x.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18 + b"trailing")  # empty zip + tail
    assert main(["scan", str(tmp_path), "--fail-on", "critical"]) == 0
    assert main(["scan", str(tmp_path), "--fail-on", "low"]) == 1


def test_no_hash_and_shard(evil_dir: Path, tmp_path: Path) -> None:
    (evil_dir / "b.txt").write_text("b")
    out1, out2 = tmp_path / "1.json", tmp_path / "2.json"
    main(["scan", str(evil_dir), "--no-hash", "--shard", "1/2", "--format", "json", "-o", str(out1)])
    main(["scan", str(evil_dir), "--no-hash", "--shard", "2/2", "--format", "json", "-o", str(out2)])
    r1, r2 = json.loads(out1.read_text()), json.loads(out2.read_text())
    assert (r1["shard"], r2["shard"]) == ("1/2", "2/2")
    files = [f for r in (r1, r2) for f in r["files"]]
    assert sorted(f["path"] for f in files) == ["b.txt", "model.pkl"]
    assert all(f["sha256"] is None for f in files)


def test_sarif_and_markdown_formats(evil_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(evil_dir), "--format", "sarif"]) == 1
    sarif = json.loads(capsys.readouterr().out)
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"]
    assert main(["scan", str(evil_dir), "--format", "markdown"]) == 1
    assert "MLG-SCAN-0" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [
    ["scan"],
    ["scan", "/nonexistent/mlgate/path"],
    ["scan", ".", "--shard", "3/2"],
    ["scan", ".", "--fail-on", "urgent"],
    ["scan", ".", "--engine", "other"],
    ["scan", ".", "--policy", "no-such-preset"],
])
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err


def test_unwritable_output_is_a_tool_error(evil_dir: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["scan", str(evil_dir), "-o", str(blocker / "sub" / "out.json")]) == 3


def test_engine_aliases(evil_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    assert main(["scan", str(evil_dir), "--engine", "builtin", "--format", "json", "-o", str(out)]) == 1
    assert json.loads(out.read_text())["evidence"]["engine"] == "mlgate"


def test_engine_help_shows_the_issue_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--help"]) == 0
    out = capsys.readouterr().out
    assert "[builtin|modelscan|all]" in out and "--jobs" in out


def test_hidden_engine_alias_still_accepted(evil_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    assert main(["scan", str(evil_dir), "--engine", "mlgate", "--format", "json", "-o", str(out)]) == 1
    assert json.loads(out.read_text())["evidence"]["engine"] == "mlgate"


def test_jobs_option(evil_dir: Path, tmp_path: Path) -> None:
    (evil_dir / "clean.json").write_text("{}")
    out1, out2 = tmp_path / "1.json", tmp_path / "2.json"
    assert main(["scan", str(evil_dir), "-j", "1", "--format", "json", "-o", str(out1)]) == 1
    assert main(["scan", str(evil_dir), "--jobs", "2", "--format", "json", "-o", str(out2)]) == 1
    r1, r2 = json.loads(out1.read_text()), json.loads(out2.read_text())
    assert r1["findings"] == r2["findings"] and r1["files"] == r2["files"]
    assert main(["scan", str(evil_dir), "--jobs", "0"]) == 2
