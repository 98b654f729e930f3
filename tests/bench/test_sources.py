"""Metric sources in their real shapes: pytest-benchmark JSON (written by the real plugin in a
subprocess) and lm-evaluation-harness results JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlgate.bench.runner import run_benchmark
from mlgate.bench.sources import parse_lm_eval, parse_pytest_benchmark, read_source
from mlgate.core.errors import InputError

# The shape lm-evaluation-harness (0.4.x) writes to results_<date>.json (trimmed configs).
LM_EVAL: dict[str, Any] = {
    "results": {
        "hellaswag": {"alias": "hellaswag", "acc,none": 0.5717, "acc_stderr,none": 0.0049,
                      "acc_norm,none": 0.7525, "acc_norm_stderr,none": 0.0043},
        "gsm8k": {"alias": "gsm8k", "exact_match,strict-match": 0.31,
                  "exact_match_stderr,strict-match": 0.0127,
                  "exact_match,flexible-extract": 0.335,
                  "exact_match_stderr,flexible-extract": "N/A"},
    },
    "group_subtasks": {"hellaswag": [], "gsm8k": []},
    "configs": {"hellaswag": {"task": "hellaswag", "num_fewshot": 0}},
    "versions": {"hellaswag": 1.0, "gsm8k": 3.0},
    "n-shot": {"hellaswag": 0, "gsm8k": 5},
    "higher_is_better": {"hellaswag": {"acc": True, "acc_norm": True},
                         "gsm8k": {"exact_match": True}},
    "n-samples": {"hellaswag": {"original": 10042, "effective": 10042}},
    "config": {"model": "hf", "model_args": "pretrained=EleutherAI/pythia-160m", "batch_size": 8},
    "git_hash": "a1b2c3d",
    "date": 1735689600.0,
}


def pytest_benchmark_json(tmp_path: Path, save_data: bool) -> dict[str, Any]:
    """Run the real pytest-benchmark plugin on a tiny benchmark and return its JSON."""
    test = tmp_path / "test_tiny.py"
    test.write_text(
        "def test_sum(benchmark):\n"
        "    benchmark.pedantic(sum, args=(range(100),), rounds=7, iterations=1)\n"
        "def test_sorted(benchmark):\n"
        "    benchmark.pedantic(sorted, args=(list(range(50)),), rounds=5, iterations=1)\n"
    )
    out = tmp_path / ("with-data.json" if save_data else "summary.json")
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test),
            f"--benchmark-json={out}", "--rootdir", str(tmp_path)]
    if save_data:
        args.append("--benchmark-save-data")
    proc = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data: dict[str, Any] = json.loads(out.read_text())
    return data


def test_pytest_benchmark_with_saved_data(tmp_path: Path) -> None:
    data = pytest_benchmark_json(tmp_path, save_data=True)
    metrics, meta = parse_pytest_benchmark(data)
    assert set(metrics) == {"test_sum", "test_sorted"}
    assert len(metrics["test_sum"]) == 7 and len(metrics["test_sorted"]) == 5
    assert metrics["test_sum"] == tuple(next(b for b in data["benchmarks"]
                                             if b["name"] == "test_sum")["stats"]["data"])
    assert meta["test_sum"].unit == "s" and meta["test_sum"].better == "lower"
    assert meta["test_sum"].note == ""


def test_pytest_benchmark_summary_only_is_one_sample_with_note(tmp_path: Path) -> None:
    # files saved with --benchmark-save (and older plugin versions) carry only the summary
    data = pytest_benchmark_json(tmp_path, save_data=False)
    for b in data["benchmarks"]:
        b["stats"].pop("data", None)
    metrics, meta = parse_pytest_benchmark(data)
    entry = next(b for b in data["benchmarks"] if b["name"] == "test_sum")
    assert metrics["test_sum"] == (entry["stats"]["mean"],)
    assert "--benchmark-save-data" in meta["test_sum"].note and "7 rounds" in meta["test_sum"].note


def test_pytest_benchmark_duplicate_names_use_fullname() -> None:
    b = {"name": "test_x", "fullname": "a.py::test_x", "stats": {"mean": 1.0, "rounds": 1}}
    c = {"name": "test_x", "fullname": "b.py::test_x", "stats": {"mean": 2.0, "rounds": 1}}
    metrics, _ = parse_pytest_benchmark({"benchmarks": [b, c]})
    assert metrics == {"a.py::test_x": (1.0,), "b.py::test_x": (2.0,)}


def test_lm_eval_results_shape() -> None:
    metrics, meta = parse_lm_eval(LM_EVAL)
    assert metrics["hellaswag.acc"] == (0.5717,)
    assert meta["hellaswag.acc"].stderr == 0.0049
    assert metrics["hellaswag.acc_norm"] == (0.7525,)
    assert metrics["gsm8k.exact_match,strict-match"] == (0.31,)
    assert meta["gsm8k.exact_match,flexible-extract"].stderr is None  # "N/A"
    assert "hellaswag.alias" not in metrics
    # no direction is ever guessed for quality metrics (policy or --better must say)
    assert all(m.better is None for m in meta.values())


@pytest.mark.parametrize("bad", [[], {}, {"results": []}, {"results": {"t": {"alias": "t"}}},
                                 {"benchmarks": []}, {"benchmarks": [{"name": "x"}]},
                                 {"benchmarks": [{"name": "x", "stats": {"data": ["a"]}}]}])
def test_malformed_sources_are_input_errors(bad: object) -> None:
    with pytest.raises(InputError):
        if isinstance(bad, dict) and "benchmarks" in bad:
            parse_pytest_benchmark(bad)
        else:
            parse_lm_eval(bad)


def test_read_source_bounds_and_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_source("lm-eval", tmp_path / "missing.json")
    (tmp_path / "t.json").write_text("{truncated")
    with pytest.raises(InputError, match="is not a JSON"):
        read_source("lm-eval", tmp_path / "t.json")
    real = tmp_path / "real.json"
    real.write_text(json.dumps(LM_EVAL))
    (tmp_path / "link.json").symlink_to(real)
    with pytest.raises(InputError, match="symbolic link"):
        read_source("lm-eval", tmp_path / "link.json")


def test_runner_reads_the_file_each_run_and_never_a_stale_one(tmp_path: Path) -> None:
    target = tmp_path / "bench.json"
    target.write_text(json.dumps({"benchmarks": [{"name": "stale", "stats": {"mean": 9.0}}]}))
    counter = tmp_path / "n"
    code = (
        "import json, os, sys\n"
        f"p = {str(counter)!r}\n"
        "n = int(open(p).read()) if os.path.exists(p) else 0\n"
        "open(p, 'w').write(str(n + 1))\n"
        "if n == 2: sys.exit(0)  # third run writes nothing\n"
        f"json.dump({{'benchmarks': [{{'name': 'test_f', 'stats': {{'data': [n + 1.0, n + 1.5]}}}}]}}, "
        f"open({str(target)!r}, 'w'))\n"
    )
    rs = run_benchmark([sys.executable, "-c", code], runs=3, source=("pytest-benchmark", target))
    assert [r.status for r in rs.measured] == ["ok", "ok", "no-metrics"]
    assert rs.samples() == {"test_f": [1.0, 1.5, 2.0, 2.5]}
    assert "no such file" in rs.measured[2].error
