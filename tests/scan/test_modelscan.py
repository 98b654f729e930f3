"""modelscan as a second engine: a real malicious pickle built here, scanned through
modelscan's Python API; its report mapped to our findings."""

from __future__ import annotations

import builtins
import os
import pickle
import sys
from pathlib import Path
from typing import Any

import pytest

from mlgate.core.errors import ToolError
from mlgate.scan.modelscan import map_report, run_modelscan


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_reported(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.pkl").write_bytes(pickle.dumps(_Payload(marker), protocol=4))
    (model / "README.md").write_text("# model\n")
    findings = run_modelscan([model])
    issues = [f for f in findings if f.rule_id == "MLG-SCAN-190"]
    assert len(issues) == 1
    assert issues[0].engine == "modelscan" and issues[0].severity.value == "critical"
    assert issues[0].location and issues[0].location.path == "model.pkl"
    assert "system" in issues[0].title
    assert any(f.rule_id == "MLG-SCAN-192" and f.location and f.location.path == "README.md"
               for f in findings)
    assert not marker.exists()


def test_benign_pickle_has_no_issue(tmp_path: Path) -> None:
    (tmp_path / "ok.pkl").write_bytes(pickle.dumps({"w": [1.0, 2.0]}, protocol=4))
    findings = run_modelscan([tmp_path / "ok.pkl"])
    assert [f for f in findings if f.rule_id in ("MLG-SCAN-190", "MLG-SCAN-191")] == []


def test_errors_and_bad_skips_fail_closed() -> None:
    report = {"issues": [], "errors": [{"category": "PICKLE_GENUIS", "description": "boom",
                                        "source": "x.pkl"}],
              "summary": {"skipped": {"skipped_files": [
                  {"category": "BAD_ZIP", "description": "bad zip", "source": "y.pt"}]}}}
    assert sorted(f.rule_id for f in map_report(report)) == ["MLG-SCAN-191", "MLG-SCAN-191"]


def test_missing_modelscan_is_a_tool_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real_import = builtins.__import__

    def fake_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("modelscan"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    for mod in [m for m in sys.modules if m.startswith("modelscan")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ToolError) as exc:
        run_modelscan([tmp_path])
    assert exc.value.hint == "pip install 'mlgate[modelscan]'"
