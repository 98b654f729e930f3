"""End to end through mlgate.cli.main with real benchmark subprocesses."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest

from mlgate.cli import main

REPO = Path(__file__).resolve().parents[2]
PY = sys.executable


def bench_script(tmp_path: Path, latency: float, noise: float = 0.01, better: bool = True,
                 accuracy: float | None = None) -> list[str]:
    """A benchmark whose latency is `latency` ms with seeded noise that differs per run."""
    tmp_path.mkdir(parents=True, exist_ok=True)
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
    return [PY, str(script)]


def run_cli(args: list[str]) -> int:
    return main(["bench", *args])


def bench_run(tmp_path: Path, out: Path, cmd: list[str], *opts: str) -> int:
    return run_cli(["run", "--repeat", "12", "--warmup", "1", *opts, "--output", str(out), "--", *cmd])


def test_run_writes_results_file(tmp_path: Path, no_gpu: None) -> None:
    out = tmp_path / "r.json"
    rc = bench_run(tmp_path, out, bench_script(tmp_path, 10.0, accuracy=0.9), "--better", "accuracy=higher")
    assert rc == 0
    data = json.loads(out.read_text())
    assert data["mlgate_bench_results"] == 1
    assert data["name"] == "bench_10_0"
    lat = data["metrics"]["latency_ms"]
    assert len(lat["samples"]) == 12 and lat["unit"] == "ms" and lat["better"] == "lower"
    assert data["metrics"]["accuracy"]["better"] == "higher"
    assert data["device"]["class"]["kind"] == "cpu" and len(data["device"]["fingerprint"]) == 16
    assert [r["warmup"] for r in data["runs"]] == [True] + [False] * 12


def test_run_text_format(tmp_path: Path, no_gpu: None) -> None:
    out = tmp_path / "r.txt"
    assert run_cli(["run", "--repeat", "3", "--warmup", "0", "--format", "text", "--output", str(out),
                    "--", *bench_script(tmp_path, 5.0)]) == 0
    text = out.read_text()
    assert "latency_ms: median" in text and "better: lower" in text and "3 measured" in text


def test_run_max_repeat_keeps_sampling_noisy_metric(tmp_path: Path, no_gpu: None) -> None:
    out = tmp_path / "r.json"
    rc = run_cli(["run", "--repeat", "3", "--max-repeat", "8", "--warmup", "0", "--output", str(out),
                  "--", *bench_script(tmp_path, 5.0, noise=0.8)])
    assert rc == 0
    data = json.loads(out.read_text())
    assert len(data["metrics"]["latency_ms"]["samples"]) == 8  # too noisy to stop early
    out2 = tmp_path / "r2.json"
    assert run_cli(["run", "--repeat", "5", "--max-repeat", "20", "--warmup", "0", "--output",
                    str(out2), "--", *bench_script(tmp_path / "q", 5.0, noise=0.001)]) == 0
    assert len(json.loads(out2.read_text())["metrics"]["latency_ms"]["samples"]) == 5


def test_compare_pass_regression_and_tolerance(tmp_path: Path, no_gpu: None) -> None:
    a, b, c = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    assert bench_run(tmp_path, a, bench_script(tmp_path / "x", 10.0)) == 0
    assert bench_run(tmp_path, b, bench_script(tmp_path / "y", 10.8)) == 0
    assert bench_run(tmp_path, c, bench_script(tmp_path / "z", 10.0)) == 0
    # +8 % with a 5 % tolerance: regression (exit 1); 15 %: pass (exit 0)
    rep = tmp_path / "rep.json"
    assert run_cli(["compare", "--baseline", str(a), "--candidate", str(b),
                    "--format", "json", "--output", str(rep)]) == 1
    report = json.loads(rep.read_text())
    assert report["kind"] == "bench"
    row = report["evidence"]["metrics"][0]
    assert row["verdict"] == "regression" and 0.05 < row["change"] < 0.11 and row["ci"][0] > 0
    assert run_cli(["compare", "--baseline", str(a), "--candidate", str(b), "--tolerance", "15%"]) == 0
    assert run_cli(["compare", "--baseline", str(a), "--candidate", str(b), "--tolerance", "0.15"]) == 0
    assert run_cli(["compare", "--baseline", str(a), "--candidate", str(c)]) == 0
    assert run_cli(["compare", "--baseline", str(a), "--candidate", str(b), "--tolerance", "lots"]) == 2


def test_compare_unknown_direction_is_usage_error(tmp_path: Path, no_gpu: None) -> None:
    a = tmp_path / "a.json"
    assert bench_run(tmp_path, a, bench_script(tmp_path, 5.0, better=False)) == 0
    assert run_cli(["compare", "--baseline", str(a), "--candidate", str(a)]) == 2
    assert run_cli(["compare", "--baseline", str(a), "--candidate", str(a),
                    "--better", "latency_ms=lower"]) == 0


def test_failed_runs_exit_1_and_hold_the_gate(tmp_path: Path, no_gpu: None) -> None:
    out = tmp_path / "r.json"
    rc = run_cli(["run", "--repeat", "2", "--warmup", "0", "--output", str(out), "--",
                  PY, "-c", "import sys; sys.exit(1)"])
    assert rc == 1
    data = json.loads(out.read_text())
    assert data["failed_runs"] == 2 and data["metrics"] == {}
    rep = tmp_path / "g.json"
    rc = run_cli(["gate", str(out), "--better", "latency_ms=lower", "--format", "json",
                  "--output", str(rep)])
    assert rc == 1
    ids = {f["rule_id"] for f in json.loads(rep.read_text())["findings"]}
    assert {"MLG-BENCH-004", "MLG-BENCH-005"} <= ids


def test_require_gpu_without_gpu(tmp_path: Path, no_gpu: None) -> None:
    cmd = bench_script(tmp_path, 5.0)
    assert run_cli(["run", "--repeat", "1", "--require-gpu", "--", *cmd]) == 3
    out = tmp_path / "r.json"
    assert run_cli(["run", "--repeat", "1", "--warmup", "0", "--require-gpu", "--allow-cpu",
                    "--output", str(out), "--", *cmd]) == 0
    data = json.loads(out.read_text())
    assert data["gpu_missing"] is True and data["marked"] == "cpu"
    rep = tmp_path / "g.json"
    assert run_cli(["gate", str(out), "--format", "json", "--output", str(rep)]) == 1
    assert "MLG-BENCH-009" in {f["rule_id"] for f in json.loads(rep.read_text())["findings"]}


def test_gate_reads_policy_thresholds_and_baseline(tmp_path: Path, no_gpu: None) -> None:
    base_dir = tmp_path / "baselines"
    pol = tmp_path / "mlgate.yml"
    pol.write_text(
        "version: 1\nbench:\n"
        f"  baseline: {base_dir}/\n"
        "  gates:\n"
        "    - 'accuracy >= 0.82'\n"
        "    - 'latency_ms <= +5% vs baseline'\n"
    )
    base = tmp_path / "base.json"
    assert bench_run(tmp_path, base, bench_script(tmp_path / "a", 10.0, accuracy=0.9)) == 0
    assert run_cli(["baseline", "update", str(base), "--policy", str(pol)]) == 0
    assert len(list(base_dir.glob("bench_10_0-*.json"))) == 1

    good = tmp_path / "good.json"
    assert bench_run(tmp_path, good, bench_script(tmp_path / "b", 10.0, accuracy=0.9)) == 0
    rep = tmp_path / "rep.json"
    assert run_cli(["gate", str(good), "--policy", str(pol), "--format", "json", "--output",
                    str(rep)]) == 0
    rows = {r["metric"]: r["verdict"] for r in json.loads(rep.read_text())["evidence"]["metrics"]}
    assert rows == {"latency_ms": "pass", "accuracy >= 0.82": "pass"}

    # slower and less accurate: the relative gate and the absolute floor both hold
    bad = tmp_path / "bad.json"
    assert bench_run(tmp_path, bad, bench_script(tmp_path / "c", 12.0, accuracy=0.8)) == 0
    # same benchmark name so the baseline is found
    data = json.loads(bad.read_text())
    data["name"] = "bench_10_0"
    bad.write_text(json.dumps(data))
    assert run_cli(["gate", str(bad), "--policy", str(pol), "--format", "json", "--output",
                    str(rep)]) == 1
    report = json.loads(rep.read_text())
    ids = [f["rule_id"] for f in report["findings"]]
    assert "MLG-BENCH-001" in ids and "MLG-BENCH-008" in ids
    # group-level --policy works too (the GitHub action passes it there)
    assert run_cli(["--policy", str(pol), "gate", str(good)]) == 0


def test_gate_tail_slo_needs_enough_samples(tmp_path: Path, no_gpu: None) -> None:
    script = tmp_path / "tail.py"
    script.write_text(
        "import json, random\nrng = random.Random(7)\n"
        "print(json.dumps({'latency_ms': [rng.lognormvariate(0, 0.2) for _ in range(400)]}))\n"
    )
    pol = tmp_path / "mlgate.yml"
    pol.write_text("version: 1\nbench:\n  gates:\n    - 'p99(latency_ms) <= 5'\n")
    one = tmp_path / "one.json"
    assert run_cli(["run", "--repeat", "1", "--warmup", "0", "--output", str(one), "--",
                    PY, str(script)]) == 0
    rep = tmp_path / "rep.json"
    assert run_cli(["gate", str(one), "--policy", str(pol), "--format", "json", "--output", str(rep)]) == 0
    row = json.loads(rep.read_text())["evidence"]["metrics"][0]
    assert row["verdict"] == "pass" and row["n"] == 400 and row["upper_bound"] <= 5
    # 50 samples cannot bound a p99 at 95 %: inconclusive, and the report says how many are needed
    data = json.loads(one.read_text())
    data["metrics"]["latency_ms"]["samples"] = data["metrics"]["latency_ms"]["samples"][:50]
    one.write_text(json.dumps(data))
    assert run_cli(["gate", str(one), "--policy", str(pol), "--format", "json", "--output", str(rep)]) == 1
    report = json.loads(rep.read_text())
    assert report["evidence"]["metrics"][0]["samples_needed"] == 299
    assert report["findings"][0]["rule_id"] == "MLG-BENCH-002"
    assert "299" in report["findings"][0]["detail"]


def write_event(tmp_path: Path, name: str, payload: dict[str, object]) -> Path:
    p = tmp_path / f"{name}.json"
    p.write_text(json.dumps(payload))
    return p


def test_baseline_update_refused_on_pull_request_payload(
    tmp_path: Path, no_gpu: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    res = tmp_path / "r.json"
    assert bench_run(tmp_path, res, bench_script(tmp_path, 5.0)) == 0
    event = write_event(tmp_path, "pr", {
        "action": "synchronize", "number": 7,
        "pull_request": {"head": {"ref": "feature"}, "base": {"ref": "main"}},
        "repository": {"full_name": "o/r", "default_branch": "main"},
    })
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_EVENT_NAME", "pull_request")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    monkeypatch.setenv("GITHUB_REF", "refs/pull/7/merge")
    target = tmp_path / "store" / "b.json"
    assert run_cli(["baseline", "update", str(res), "--baseline", str(target)]) == 2
    assert not target.exists() and not target.parent.exists()
    # a push to a feature branch: also refused
    push = write_event(tmp_path, "push", {"ref": "refs/heads/feature",
                                           "repository": {"default_branch": "main"}})
    monkeypatch.setenv("GITHUB_EVENT_NAME", "push")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(push))
    monkeypatch.setenv("GITHUB_REF", "refs/heads/feature")
    assert run_cli(["baseline", "update", str(res), "--baseline", str(target)]) == 2
    assert not target.exists()
    # a push to the default branch: stored
    monkeypatch.setenv("GITHUB_REF", "refs/heads/main")
    assert run_cli(["baseline", "update", str(res), "--baseline", str(target)]) == 0
    assert json.loads(target.read_text())["name"] == "bench_5_0"


def test_ab_interleaves_in_alternating_order(tmp_path: Path, no_gpu: None) -> None:
    log = tmp_path / "order.log"
    script = tmp_path / "side.py"
    script.write_text(
        "import json, sys\n"
        f"open({str(log)!r}, 'a').write(sys.argv[1])\n"
        "v = {'A': 10.0, 'B': 10.0}[sys.argv[1]]\n"
        "print(json.dumps({'latency_ms': {'value': v, 'better': 'lower'}}))\n"
    )
    out = tmp_path / "ab.json"
    rc = run_cli(["ab", "--baseline-cmd", f"{shlex.quote(PY)} {shlex.quote(str(script))} A",
                  "--candidate-cmd", f"{shlex.quote(PY)} {shlex.quote(str(script))} B",
                  "--repeat", "6", "--warmup", "1", "--format", "json", "--output", str(out),
                  "--results-dir", str(tmp_path / "res")])
    # warm-up pair AB, then AB BA AB BA AB BA
    assert log.read_text() == "AB" + "ABBAABBAABBA"
    report = json.loads(out.read_text())
    assert report["kind"] == "bench"
    assert report["evidence"]["ab"]["order"] == "ABBAABBAABBA"
    assert report["evidence"]["ab"]["pairs"] == 6
    assert rc == 0, report["findings"]
    cand = json.loads((tmp_path / "res" / "candidate.json").read_text())
    assert cand["metrics"]["latency_ms"]["samples"] == [10.0] * 6


def test_ab_budget_samples_until_it_decides(tmp_path: Path, no_gpu: None) -> None:
    script = tmp_path / "noisy.py"
    counter = tmp_path / "n"
    script.write_text(
        "import json, os, random, sys\n"
        f"p = {str(counter)!r}\n"
        "n = int(open(p).read()) if os.path.exists(p) else 0\n"
        "open(p, 'w').write(str(n + 1))\n"
        "rng = random.Random(n)\n"
        "scale = 1.25 if sys.argv[1] == 'B' else 1.0\n"
        "print(json.dumps({'latency_ms': 10 * scale * rng.lognormvariate(0, 0.12)}))\n"
    )
    base = f"{shlex.quote(PY)} {shlex.quote(str(script))} A"
    cand = f"{shlex.quote(PY)} {shlex.quote(str(script))} B"
    out = tmp_path / "ab.json"
    rc = run_cli(["ab", "--baseline-cmd", base, "--candidate-cmd", cand, "--repeat", "5",
                  "--max-repeat", "40", "--warmup", "0", "--better", "latency_ms=lower",
                  "--format", "json", "--output", str(out)])
    report = json.loads(out.read_text())
    ab = report["evidence"]["ab"]
    assert ab["planned_looks"] == [5, 10, 15, 20, 25, 30, 35, 40]
    assert ab["alpha_per_look"] == pytest.approx(0.01 / 8)
    assert report["evidence"]["metrics"][0]["verdict"] == "regression"
    assert 5 < ab["pairs"] < 40  # needed more than the first look, stopped before the budget
    assert rc == 1


def test_from_lm_eval_without_command(tmp_path: Path, no_gpu: None) -> None:
    from tests.bench.test_sources import LM_EVAL

    f = tmp_path / "results_2025-01-01T00-00-00.json"
    f.write_text(json.dumps(LM_EVAL))
    out = tmp_path / "r.json"
    assert run_cli(["run", "--from", "lm-eval", str(f), "--output", str(out)]) == 0
    data = json.loads(out.read_text())
    acc = data["metrics"]["hellaswag.acc"]
    assert acc["samples"] == [0.5717] and acc["stderr"] == 0.0049 and acc["better"] is None
    pol = tmp_path / "mlgate.yml"
    pol.write_text("version: 1\nbench:\n  gates: ['hellaswag.acc >= 0.82']\n")
    rep = tmp_path / "g.json"
    assert run_cli(["gate", str(out), "--policy", str(pol), "--format", "json", "--output", str(rep)]) == 1
    f0 = json.loads(rep.read_text())["findings"][0]
    assert f0["rule_id"] == "MLG-BENCH-008" and "0.5717" in f0["detail"]


def test_example_benchmark_runs_through_the_gate(tmp_path: Path, no_gpu: None) -> None:
    script = REPO / "examples" / "bench" / "run.py"
    out = tmp_path / "r.json"
    rc = run_cli(["run", "--repeat", "2", "--warmup", "0", "--output", str(out), "--",
                  PY, str(script), "--no-torch", "--iters", "3", "--batch", "4"])
    assert rc == 0
    assert set(json.loads(out.read_text())["metrics"]) == {"latency_ms", "throughput"}


def test_device_subcommand(tmp_path: Path, fake_gpu: Path) -> None:
    out = tmp_path / "d.json"
    assert run_cli(["device", "--output", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["cuda_version"] == "12.2" and len(data["gpus"]) == 2
    assert data["gpu_source"] == "nvidia-smi"
    txt = tmp_path / "d.txt"
    assert run_cli(["device", "--format", "text", "--output", str(txt)]) == 0
    assert "NVIDIA A100-SXM4-80GB" in txt.read_text()


def test_nothing_to_run_is_usage_error(no_gpu: None) -> None:
    assert run_cli(["run"]) == 2
