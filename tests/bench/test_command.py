"""End to end through mlgate.cli.main: run, store a baseline, gate a regression."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest

from mlgate.cli import main

REPO = Path(__file__).resolve().parents[2]


def bench_script(tmp_path: Path, latency: float, noise: float = 0.01, better: bool = True,
                 accuracy: float | None = None) -> str:
    """A benchmark whose latency is `latency` ms with seeded noise that differs per run."""
    counter = tmp_path / f"counter-{latency}"
    script = tmp_path / f"bench_{str(latency).replace('.', '_')}.py"
    meta = ', "better": "lower", "unit": "ms"' if better else ""
    extra = f', "accuracy": {accuracy}' if accuracy is not None else ""
    script.write_text(
        "import json, os, random\n"
        f"p = {str(counter)!r}\n"
        "n = int(open(p).read()) if os.path.exists(p) else 0\n"
        "open(p, 'w').write(str(n + 1))\n"
        "rng = random.Random(n)\n"
        f"v = {latency} * (1 + rng.gauss(0, {noise}))\n"
        f'print(json.dumps({{"latency_ms": {{"value": v{meta}}}{extra}}}))\n'
    )
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}"


def run_cli(args: list[str]) -> int:
    return main(["bench", *args])


def test_update_then_pass_then_regression(tmp_path: Path, no_gpu: None) -> None:
    base_dir = str(tmp_path / "baselines") + "/"
    common = ["--runs", "12", "--warmup", "1", "--baseline", base_dir, "--name", "mlp",
              "--metric", "accuracy:higher"]
    rc = run_cli(["--command", bench_script(tmp_path, 10.0, accuracy=0.9), *common, "--update-baseline",
                  "--format", "json", "--output", str(tmp_path / "update.json")])
    assert rc == 0
    stored = list((tmp_path / "baselines").glob("mlp-*.json"))
    assert len(stored) == 1
    upd = json.loads((tmp_path / "update.json").read_text())
    assert upd["evidence"]["baseline_updated"] == str(stored[0])

    # same speed: pass (exit 0), no blocking findings
    out = tmp_path / "same.json"
    (tmp_path / "b").mkdir()
    rc = run_cli(["--command", bench_script(tmp_path / "b", 10.0, accuracy=0.9), *common,
                  "--metric", "latency_ms:lower", "--format", "json",
                  "--output", str(out)])
    report = json.loads(out.read_text())
    verdicts = {m["metric"]: m["verdict"] for m in report["evidence"]["metrics"]}
    assert verdicts == {"accuracy": "pass", "latency_ms": "pass"}, report["findings"]
    assert rc == 0
    assert report["kind"] == "bench"

    # 20 % slower: regression, exit 1, a high finding with the numbers
    out = tmp_path / "slow.json"
    (tmp_path / "c").mkdir()
    rc = run_cli(["--command", bench_script(tmp_path / "c", 12.0, accuracy=0.9), *common,
                  "--metric", "latency_ms:lower", "--format", "json", "--output", str(out)])
    assert rc == 1
    report = json.loads(out.read_text())
    regs = [f for f in report["findings"] if f["rule_id"] == "MLG-BENCH-001"]
    assert len(regs) == 1 and regs[0]["severity"] == "high"
    row = next(m for m in report["evidence"]["metrics"] if m["metric"] == "latency_ms")
    assert row["verdict"] == "regression"
    assert 0.15 < row["change"] < 0.25
    assert row["ci"][0] > 0 and row["p_value"] < 0.01
    assert row["baseline_median"] == pytest.approx(10.0, rel=0.02)
    assert "latency_ms" in report["evidence"]["table"]


def test_text_output_has_summary_table(
    tmp_path: Path, no_gpu: None, capsys: pytest.CaptureFixture[str]
) -> None:
    base = tmp_path / "base.json"
    cmd = bench_script(tmp_path, 5.0)
    assert run_cli(["--command", cmd, "--runs", "6", "--warmup", "0", "--baseline", str(base),
                    "--update-baseline"]) == 0
    capsys.readouterr()
    rc = run_cli(["--command", cmd, "--runs", "6", "--warmup", "0", "--baseline", str(base),
                  "--metric", "latency_ms:lower"])
    out = capsys.readouterr().out
    assert "metric" in out and "latency_ms" in out and "verdict" in out
    assert rc in (0, 1)


def test_no_baseline_holds(tmp_path: Path, no_gpu: None) -> None:
    out = tmp_path / "r.json"
    rc = run_cli(["--command", bench_script(tmp_path, 5.0), "--runs", "5", "--warmup", "0",
                  "--baseline", str(tmp_path / "none.json"), "--format", "json", "--output", str(out)])
    assert rc == 1
    ids = [f["rule_id"] for f in json.loads(out.read_text())["findings"]]
    assert "MLG-BENCH-006" in ids


def test_unknown_direction_is_a_usage_error(tmp_path: Path, no_gpu: None) -> None:
    rc = run_cli(["--command", bench_script(tmp_path, 5.0, better=False), "--runs", "2",
                  "--warmup", "0"])
    assert rc == 2


def test_failed_runs_hold_the_gate(tmp_path: Path, no_gpu: None) -> None:
    out = tmp_path / "r.json"
    cmd = f"{shlex.quote(sys.executable)} -c 'import sys; sys.exit(1)'"
    rc = run_cli(["--command", cmd, "--runs", "2", "--warmup", "0", "--metric", "latency_ms:lower",
                  "--format", "json", "--output", str(out)])
    assert rc == 1
    report = json.loads(out.read_text())
    ids = {f["rule_id"] for f in report["findings"]}
    assert {"MLG-BENCH-004", "MLG-BENCH-005"} <= ids
    assert report["complete"] is False


def test_require_gpu_without_gpu(tmp_path: Path, no_gpu: None) -> None:
    cmd = bench_script(tmp_path, 5.0)
    assert run_cli(["--command", cmd, "--runs", "1", "--require-gpu"]) == 3
    out = tmp_path / "r.json"
    rc = run_cli(["--command", cmd, "--runs", "1", "--warmup", "0", "--require-gpu", "--allow-cpu",
                  "--format", "json", "--output", str(out)])
    assert rc == 1
    assert "MLG-BENCH-009" in {f["rule_id"] for f in json.loads(out.read_text())["findings"]}


def test_device_mismatch_is_not_comparable(
    tmp_path: Path, no_gpu: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from tests.bench.conftest import A100_CSV, install_fake_smi

    base = tmp_path / "base.json"
    cmd = bench_script(tmp_path, 5.0)
    assert run_cli(["--command", cmd, "--runs", "5", "--warmup", "0", "--baseline", str(base),
                    "--update-baseline"]) == 0  # stored on the CPU
    bin_dir = tmp_path / "gpu"
    install_fake_smi(bin_dir, A100_CSV)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    out = tmp_path / "r.json"
    rc = run_cli(["--command", cmd, "--runs", "5", "--warmup", "0", "--baseline", str(base),
                  "--format", "json", "--output", str(out)])
    assert rc == 1
    report = json.loads(out.read_text())
    f = next(f for f in report["findings"] if f["rule_id"] == "MLG-BENCH-003")
    assert f["severity"] == "medium" and "A100" in f["detail"]
    assert all(m["verdict"] == "inconclusive" for m in report["evidence"]["metrics"])


def test_compare_subcommand_and_tolerance(tmp_path: Path, no_gpu: None) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    assert run_cli(["--command", bench_script(tmp_path / "x", 10.0), "--runs", "10", "--warmup", "0",
                    "--results", str(a), "--baseline", str(tmp_path / "unused.json")]) == 1
    assert run_cli(["--command", bench_script(tmp_path / "y", 10.8), "--runs", "10", "--warmup", "0",
                    "--results", str(b), "--baseline", str(tmp_path / "unused.json")]) == 1
    # +8 % with 5 % tolerance: regression; with 15 % tolerance: pass
    assert run_cli(["compare", "--baseline", str(a), "--candidate", str(b),
                    "--metric", "latency_ms:lower"]) == 1
    assert run_cli(["compare", "--baseline", str(a), "--candidate", str(b),
                    "--metric", "latency_ms:lower", "--tolerance", "15%"]) == 0
    assert run_cli(["compare", "--baseline", str(a), "--candidate", str(b),
                    "--tolerance", "lots"]) == 2


def test_update_refused_in_pull_request(
    tmp_path: Path, no_gpu: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_EVENT_NAME", "pull_request")
    rc = run_cli(["--command", bench_script(tmp_path, 5.0), "--runs", "2", "--warmup", "0",
                  "--baseline", str(tmp_path / "b.json"), "--update-baseline"])
    assert rc == 2 and not (tmp_path / "b.json").exists()


def test_policy_metrics_and_absolute_limits(tmp_path: Path, no_gpu: None) -> None:
    pol = tmp_path / "mlgate.yml"
    pol.write_text(
        "version: 1\nbench:\n  metrics:\n    accuracy:\n      better: higher\n      min: 0.95\n"
    )
    out = tmp_path / "r.json"
    rc = run_cli(["--command", bench_script(tmp_path, 5.0, accuracy=0.9), "--runs", "5", "--warmup", "0",
                  "--policy", str(pol), "--baseline", str(tmp_path / "b.json"), "--update-baseline",
                  "--format", "json", "--output", str(out)])
    assert rc == 1
    f = next(f for f in json.loads(out.read_text())["findings"] if f["rule_id"] == "MLG-BENCH-008")
    assert "0.9" in f["detail"] and ">= 0.95" in f["detail"]


def test_example_benchmark_runs_through_the_gate(tmp_path: Path, no_gpu: None) -> None:
    script = REPO / "examples" / "bench" / "run.py"
    cmd = f"{shlex.quote(sys.executable)} {script} --no-torch --iters 3 --batch 4"
    out = tmp_path / "r.json"
    rc = run_cli(["--command", cmd, "--runs", "2", "--warmup", "0", "--baseline",
                  str(tmp_path / "b.json"), "--update-baseline", "--format", "json", "--output", str(out)])
    assert rc == 0
    report = json.loads(out.read_text())
    assert {m["metric"] for m in report["evidence"]["metrics"]} == {"latency_ms", "throughput"}


def test_device_subcommand(tmp_path: Path, fake_gpu: Path) -> None:
    out = tmp_path / "d.json"
    assert run_cli(["device", "--output", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["cuda_version"] == "12.2" and len(data["gpus"]) == 2
