"""The runner against real subprocesses: metrics from stdout and from $MLGATE_BENCH_OUTPUT,
failing, timed-out and metric-less runs are all recorded."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from mlgate.bench.runner import last_json_line, parse_metrics, run_benchmark
from mlgate.core.errors import InputError, UsageError

PY = sys.executable


def py(code: str) -> list[str]:
    return [PY, "-c", code]


def test_metrics_from_last_stdout_json_line() -> None:
    code = (
        "import json; print('warming up'); print(json.dumps({'x': 1}));"
        " print(json.dumps({'latency_ms': 12.5}))"
    )
    rs = run_benchmark(py(code), runs=3, warmup=1)
    assert [r.warmup for r in rs.runs] == [True, False, False, False]
    assert all(r.status == "ok" for r in rs.runs)
    assert rs.samples() == {"latency_ms": [12.5, 12.5, 12.5]}


def test_metrics_file_wins_and_lists_are_samples() -> None:
    code = (
        "import json, os\n"
        "open(os.environ['MLGATE_BENCH_OUTPUT'], 'w').write(json.dumps("
        "{'latency_ms': {'value': [1.0, 2.0], 'unit': 'ms', 'better': 'lower'}}))\n"
        "print(json.dumps({'latency_ms': 99}))\n"
    )
    rs = run_benchmark(py(code), runs=2)
    assert rs.samples() == {"latency_ms": [1.0, 2.0, 1.0, 2.0]}
    meta = rs.meta()["latency_ms"]
    assert meta.unit == "ms" and meta.better == "lower"


def test_failing_run_is_recorded_not_dropped() -> None:
    code = "import sys; print('boom: CUDA out of memory', file=sys.stderr); sys.exit(3)"
    rs = run_benchmark(py(code), runs=2)
    assert [r.status for r in rs.measured] == ["failed", "failed"]
    assert rs.measured[0].returncode == 3
    assert "CUDA out of memory" in rs.measured[0].error
    assert len(rs.failures) == 2 and rs.samples() == {}


def test_timeout_kills_the_process_group(tmp_path: Path) -> None:
    marker = tmp_path / "child-alive"
    child = tmp_path / "child.py"
    child.write_text(f"import time\ntime.sleep(3)\nopen({str(marker)!r}, 'w').close()\n")
    code = (
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, {str(child)!r}])\n"
        "time.sleep(30)\n"
    )
    start = time.monotonic()
    rs = run_benchmark(py(code), runs=1, timeout_s=1.0)
    assert time.monotonic() - start < 10
    r = rs.measured[0]
    assert r.status == "timeout" and "timeout" in r.error
    time.sleep(3.5)
    assert not marker.exists()  # the grandchild was killed too


def test_no_metrics_and_malformed_metrics() -> None:
    rs = run_benchmark(py("print('hello')"), runs=1)
    assert rs.measured[0].status == "no-metrics"
    rs = run_benchmark(py("print('{\"latency_ms\": \"fast\"}')"), runs=1)
    assert rs.measured[0].status == "no-metrics" and "not a number" in rs.measured[0].error
    code = "import os; open(os.environ['MLGATE_BENCH_OUTPUT'], 'w').write('{truncated')"
    rs = run_benchmark(py(code), runs=1)
    assert rs.measured[0].status == "no-metrics" and "malformed" in rs.measured[0].error


def test_missing_executable_is_a_failed_run(tmp_path: Path) -> None:
    rs = run_benchmark([str(tmp_path / "does-not-exist")], runs=1)
    assert rs.measured[0].status == "failed" and "cannot start" in rs.measured[0].error


def test_callable_benchmark() -> None:
    calls = iter([{"acc": 0.9}, {"acc": 0.91}, {"acc": 0.92}])
    rs = run_benchmark(lambda: next(calls), runs=2, warmup=1)
    assert rs.samples() == {"acc": [0.91, 0.92]}

    def broken() -> dict[str, float]:
        raise RuntimeError("device lost")

    rs = run_benchmark(broken, runs=1)
    assert rs.measured[0].status == "failed" and "device lost" in rs.measured[0].error


def test_bad_arguments() -> None:
    with pytest.raises(UsageError):
        run_benchmark(py("pass"), runs=0)
    with pytest.raises(UsageError):
        run_benchmark([], runs=1)


@pytest.mark.parametrize("bad", [
    [], {"x": []}, {"x": True}, {"x": float("nan")}, {"x": {"unit": "ms"}},
    {"x": {"value": 1, "better": "faster"}}, {},
])
def test_parse_metrics_rejects(bad: object) -> None:
    with pytest.raises(InputError):
        parse_metrics(bad)


def test_last_json_line_skips_non_objects() -> None:
    assert last_json_line('{"a": 1}\n[1, 2]\n{not json}\nplain') == {"a": 1}
    assert last_json_line("") is None


def test_deeply_nested_metrics_json_is_no_metrics_not_a_crash() -> None:
    # JSON nesting attack on stdout and in $MLGATE_BENCH_OUTPUT: RecursionError in json.loads
    assert last_json_line('{"a": ' + "[" * 100000 + "]" * 100000 + "}") is None
    deep = "'{\"a\": ' + '[' * 100000 + ']' * 100000 + '}'"  # built by the benchmark itself
    rs = run_benchmark(py(f"print({deep})"), runs=1)
    assert [r.status for r in rs.measured] == ["no-metrics"]
    code = f"import os\nopen(os.environ['MLGATE_BENCH_OUTPUT'], 'w').write({deep})\n"
    rs = run_benchmark(py(code), runs=1)
    assert [r.status for r in rs.measured] == ["no-metrics"]
    assert "malformed metrics" in rs.measured[0].error
