"""The gate on results built in code: verdict -> finding mapping, strict JSON evidence."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlgate.bench.baseline import BenchResults, MetricSamples
from mlgate.bench.device import DeviceInfo
from mlgate.bench.gate import GateOptions, gate, parse_metric_spec, parse_tolerance
from mlgate.core.errors import UsageError
from mlgate.core.policy.bench import BenchMetricPolicy, BenchPolicy

CPU = DeviceInfo((), "absent", "", "Test CPU", 8, 16000, "Linux", "x86_64", "3.11.7")


def results(samples: dict[str, list[float]], better: str | None = "lower",
            runs: list[dict[str, Any]] | None = None) -> BenchResults:
    return BenchResults(
        name="m",
        metrics={k: MetricSamples(tuple(v), "ms", better) for k, v in samples.items()},
        device=CPU,
        runs=tuple(runs or []),
    )


def strict_json(report_text: str) -> Any:
    def reject(const: str) -> None:
        raise AssertionError(f"non-standard JSON constant {const}")

    return json.loads(report_text, parse_constant=reject)


def test_unbounded_interval_is_inconclusive_and_valid_json() -> None:
    base = results({"lat": [1.0, 1.0, 2.0, 2.0, 1.0]})
    cand = results({"lat": [1.0, 2.0, 2.0, 1.0, 2.0]})
    report = gate(cand, base, BenchPolicy())
    data = strict_json(report.dumps())
    row = data["evidence"]["metrics"][0]
    assert row["verdict"] == "inconclusive"
    assert row["ci"] == [None, None]
    assert "unbounded" in data["evidence"]["table"]
    assert [f["rule_id"] for f in data["findings"]] == ["MLG-BENCH-002"]


def test_improvement_is_info_and_passes() -> None:
    base = results({"lat": [10.0, 10.1, 9.9, 10.05, 9.95, 10.0, 10.02, 9.98]})
    cand = results({"lat": [8.0, 8.1, 7.9, 8.05, 7.95, 8.0, 8.02, 7.98]})
    report = gate(cand, base, BenchPolicy())
    assert [f.rule_id for f in report.findings] == ["MLG-BENCH-007"]
    assert report.evidence["verdict"] == "pass"
    assert report.complete


def test_per_metric_tolerance_from_policy() -> None:
    base = results({"lat": [10.0, 10.1, 9.9, 10.05, 9.95, 10.0, 10.02, 9.98]})
    cand = results({"lat": [v * 1.08 for v in base.metrics["lat"].samples]})
    strict = gate(cand, base, BenchPolicy())
    assert strict.evidence["metrics"][0]["verdict"] == "regression"
    loose = BenchPolicy(metrics={"lat": BenchMetricPolicy(better="lower", tolerance=0.15)})
    assert gate(cand, base, loose).evidence["metrics"][0]["verdict"] == "pass"


def test_missing_metric_in_baseline_is_not_measured() -> None:
    base = results({"other": [1.0] * 6})
    cand = results({"lat": [1.0] * 6, "other": [1.0] * 6})
    report = gate(cand, base, BenchPolicy())
    assert "MLG-BENCH-005" in {f.rule_id for f in report.findings}


def test_allow_device_mismatch_compares_anyway() -> None:
    from dataclasses import replace

    base = results({"lat": [1.0, 1.01, 0.99, 1.0, 1.0, 1.02]})
    cand = replace(results({"lat": [1.0, 1.01, 0.99, 1.0, 1.0, 1.02]}),
                   device=replace(CPU, cpu_model="Other CPU"))
    held = gate(cand, base, BenchPolicy())
    assert "MLG-BENCH-003" in {f.rule_id for f in held.findings}
    allowed = gate(cand, base, BenchPolicy(allow_device_mismatch=True))
    assert "MLG-BENCH-003" not in {f.rule_id for f in allowed.findings}
    assert allowed.evidence["device_match"]["comparable"] is False


def test_unknown_direction_is_usage_error() -> None:
    cand = results({"lat": [1.0] * 6}, better=None)
    with pytest.raises(UsageError, match="unknown direction"):
        gate(cand, cand, BenchPolicy())
    # a selected metric's direction may come from the command line
    report = gate(cand, cand, BenchPolicy(), GateOptions(directions={"lat": "lower"}))
    assert report.evidence["metrics"][0]["verdict"] == "pass"


@pytest.mark.parametrize("text,value", [("5%", 0.05), ("0.05", 0.05), (" 12.5% ", 0.125), ("0", 0.0)])
def test_parse_tolerance(text: str, value: float) -> None:
    assert parse_tolerance(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["", "abc", "150%", "-1%", "nan", "1"])
def test_parse_tolerance_rejects(text: str) -> None:
    with pytest.raises(UsageError):
        parse_tolerance(text)


def test_parse_metric_spec() -> None:
    assert parse_metric_spec("latency_ms:lower") == ("latency_ms", "lower")
    assert parse_metric_spec("tokens/s=HIGHER") == ("tokens/s", "higher")
    with pytest.raises(UsageError):
        parse_metric_spec("latency_ms:faster")


def test_gate_expressions_parse() -> None:
    from mlgate.bench.gate import parse_gate_expr
    from mlgate.core.errors import PolicyError

    e = parse_gate_expr("accuracy >= 0.82")
    assert (e.kind, e.metric, e.op, e.value) == ("absolute", "accuracy", ">=", 0.82)
    e = parse_gate_expr("throughput >= -3% vs baseline")
    assert (e.kind, e.value, e.better) == ("relative", -0.03, "higher")
    e = parse_gate_expr("latency_ms <= +5 % vs baseline")
    assert (e.kind, e.value, e.better) == ("relative", 0.05, "lower")
    e = parse_gate_expr("p99(latency_ms) <= 50")
    assert (e.kind, e.quantile, e.value) == ("quantile", 0.99, 50.0)
    for bad in ("throughput >= +3% vs baseline", "accuracy ~ 0.8", "p100(x) <= 1"):
        with pytest.raises(PolicyError):
            parse_gate_expr(bad)


def test_relative_gate_sets_direction_and_tolerance() -> None:
    base = results({"tput": [100.0, 101, 99, 100.5, 99.5, 100, 100.2, 99.8]}, better=None)
    cand = results({"tput": [v * 0.96 for v in base.metrics["tput"].samples]}, better=None)
    loose = BenchPolicy(gates=["tput >= -5% vs baseline"])
    assert gate(cand, base, loose).evidence["metrics"][0]["verdict"] == "pass"
    strict = BenchPolicy(gates=["tput >= -3% vs baseline"])
    report = gate(cand, base, strict)
    assert report.evidence["metrics"][0]["verdict"] == "regression"
    # a declared direction that contradicts the gate is a policy error
    from mlgate.core.errors import PolicyError

    with pytest.raises(PolicyError):
        gate(cand, base, strict, GateOptions(directions={"tput": "lower"}))


def test_absolute_only_gates_need_no_baseline() -> None:
    cand = results({"acc": [0.9]}, better=None)
    report = gate(cand, None, BenchPolicy(gates=["acc >= 0.82"]))
    assert report.findings == () and report.complete


def test_paired_metric_uses_the_paired_bootstrap() -> None:
    import random

    rng = random.Random(5)
    b = [1.0 if rng.random() < 0.8 else 0.0 for _ in range(400)]
    c = [0.0 if v == 1.0 and rng.random() < 0.15 else v for v in b]
    base = results({"acc": b}, better="higher")
    cand = results({"acc": c}, better="higher")
    pol = BenchPolicy(metrics={"acc": BenchMetricPolicy(paired=True)})
    row = gate(cand, base, pol).evidence["metrics"][0]
    assert row["scale"] == "paired" and row["verdict"] == "regression"
    assert row["extra"]["mean_difference"] < 0


def test_one_value_with_stderr_uses_normal_interval() -> None:
    from dataclasses import replace

    base = results({"acc": [0.80]}, better="higher")
    base = replace(base, metrics={"acc": replace(base.metrics["acc"], stderr=0.004)})
    cand = replace(base, metrics={"acc": replace(base.metrics["acc"], samples=(0.70,))})
    row = gate(cand, base, BenchPolicy()).evidence["metrics"][0]
    assert row["scale"] == "stderr" and row["verdict"] == "regression"
