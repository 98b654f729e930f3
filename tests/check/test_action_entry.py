"""The action entry point, run exactly as a runner calls it: INPUT_* variables (hyphens kept for
container actions, underscores for composite env:), GITHUB_OUTPUT / GITHUB_STEP_SUMMARY files,
a real event payload."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlgate.check.action import get_input, plan, run_step, write_outputs

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "fixtures" / "example-model"


def _outputs(path: Path) -> dict[str, str]:
    """Parse the heredoc form of $GITHUB_OUTPUT."""
    out: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        name, delim = lines[i].split("<<", 1)
        end = lines.index(delim, i + 1)
        out[name] = "\n".join(lines[i + 1:end])
        i = end + 1
    return out


def test_container_and_composite_input_spellings_both_read() -> None:
    assert get_input({"INPUT_GITHUB-TOKEN": "a"}, "github-token") == "a"
    assert get_input({"INPUT_GITHUB_TOKEN": "b"}, "github-token") == "b"
    assert get_input({"INPUT_PATH": "  "}, "path", ".") == "."


def test_inputs_become_argv_items_never_shell_text() -> None:
    env = {"INPUT_PATH": "models/$(touch pwned); rm -rf /", "INPUT_POLICY": "a b.yml",
           "INPUT_OFFLINE": "true"}
    run = plan("check", env)
    assert run.argv[:2] == ["check", "models/$(touch pwned); rm -rf /"]
    assert run.argv[run.argv.index("--policy"):run.argv.index("--policy") + 2] == ["--policy", "a b.yml"]
    assert "--offline" in run.argv


def test_bench_results_input_reaches_check() -> None:
    run = plan("check", {"INPUT_BENCH_RESULTS": "gpu/results.json"})
    i = run.argv.index("--bench-results")
    assert run.argv[i + 1] == "gpu/results.json"
    assert "--bench-results" not in plan("check", {}).argv


def test_bad_boolean_input_is_a_usage_error(tmp_path: Path) -> None:
    rc = run_step("check", {"INPUT_OFFLINE": "maybe", "INPUT_OUT_DIR": str(tmp_path)},
                  cli_main=lambda argv: 0)
    assert rc == 2


def test_output_values_cannot_inject_other_outputs(tmp_path: Path) -> None:
    gh = tmp_path / "out"
    write_outputs({"decision": "promote\nexit-code=0", "x": "1"}, {"GITHUB_OUTPUT": str(gh)})
    assert _outputs(gh) == {"decision": "promote\nexit-code=0", "x": "1"}


def test_fail_on_findings_false_turns_exit_1_into_0(tmp_path: Path) -> None:
    env = {"INPUT_OUT_DIR": str(tmp_path), "INPUT_FAIL-ON-FINDINGS": "false",
           "GITHUB_OUTPUT": str(tmp_path / "o")}
    assert run_step("decide", {**env, "INPUT_REPORTS": "r.json"}, cli_main=lambda argv: 1) == 0
    assert _outputs(tmp_path / "o")["exit-code"] == "1"
    env["INPUT_FAIL-ON-FINDINGS"] = "true"
    assert run_step("decide", {**env, "INPUT_REPORTS": "r.json"}, cli_main=lambda argv: 1) == 1


def _runner_env(tmp_path: Path, **inputs: str) -> dict[str, str]:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 7, "head": {"sha": "a" * 40}},
                                 "repository": {"full_name": "o/r"}}), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INPUT_", "GITHUB_"))}
    env.update({
        "GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event), "GITHUB_REPOSITORY": "o/r", "GITHUB_SHA": "a" * 40,
        "GITHUB_WORKSPACE": str(ROOT), "GITHUB_OUTPUT": str(tmp_path / "output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"), "GITHUB_RUN_ID": "1",
        "GITHUB_SERVER_URL": "http://127.0.0.1:9", "GITHUB_API_URL": "http://127.0.0.1:9",
    })
    env.update(inputs)
    return env


def test_container_check_step_against_the_example_model(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    env = _runner_env(tmp_path, **{"INPUT_PATH": str(EXAMPLE), "INPUT_OUT-DIR": str(out),
                                   "INPUT_OFFLINE": "true", "INPUT_GITHUB-TOKEN": "ghs_secretvalue"})
    proc = subprocess.run([sys.executable, "-m", "mlgate.check.action", "check"], env=env,
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert "::add-mask::ghs_secretvalue" in proc.stdout
    outputs = _outputs(tmp_path / "output")
    assert outputs["decision"] in ("promote", "hold", "reject"), proc.stdout + proc.stderr
    assert proc.returncode == (0 if outputs["decision"] == "promote" else 1)
    for key in ("scan-report", "bom", "license-report", "decision-file", "summary"):
        assert Path(outputs[key]).is_file(), key
    assert "mlgate check" in (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert int(outputs["findings"]) >= 0


def test_composite_scan_step_writes_sarif(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    env = _runner_env(tmp_path, INPUT_PATH=str(EXAMPLE), INPUT_OUT_DIR=str(out))
    proc = subprocess.run([sys.executable, "-m", "mlgate.check.action", "scan"], env=env,
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    outputs = _outputs(tmp_path / "output")
    assert outputs["findings"] == "0"
    sarif = json.loads(Path(outputs["sarif"]).read_text(encoding="utf-8"))
    assert sarif["version"] == "2.1.0"


@pytest.mark.parametrize("step", ["nope", ""])
def test_unknown_step_is_usage_error(step: str) -> None:
    from mlgate.check.action import main

    assert main([step]) == 2
