"""Run a benchmark command repeatedly and collect the metrics it reports.

The command is an argv list (never a shell). Each run gets ``MLGATE_BENCH_OUTPUT`` in its
environment, a path where it may write a JSON object of metrics; if it writes nothing there,
the last line of its stdout that is a JSON object is used. A metric value is a number, a list
of numbers (that many samples) or an object ``{"value": x | [..], "unit": "ms", "better":
"lower"}``.

Every run is recorded, including failed, timed-out and metric-less ones: nothing is silently
dropped. For tests (and Python-level benchmarks) a callable returning the metrics mapping can
stand in for the command.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mlgate.core.errors import InputError, UsageError

OUTPUT_ENV = "MLGATE_BENCH_OUTPUT"
MAX_METRICS_FILE = 4 * 1024 * 1024  # bytes read from the metrics file
STDOUT_TAIL = 256 * 1024  # bytes of stdout searched for the last JSON line
MAX_SAMPLES_PER_METRIC = 100_000

RunStatus = Literal["ok", "failed", "timeout", "no-metrics"]
Benchmark = Sequence[str] | Callable[[], Mapping[str, Any]]


@dataclass(frozen=True)
class MetricMeta:
    unit: str = ""
    better: str | None = None  # "lower" | "higher" | None (unknown)
    stderr: float | None = None  # a reported standard error (one-value quality metrics)
    paired: bool = False  # per-example scores: sample i is example i on every run
    note: str = ""


@dataclass(frozen=True)
class RunResult:
    index: int
    warmup: bool
    status: RunStatus
    duration_s: float
    returncode: int | None = None
    metrics: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    meta: Mapping[str, MetricMeta] = field(default_factory=dict)
    error: str = ""
    role: str = ""  # "baseline" / "candidate" in an A/B job

    def to_json(self) -> dict[str, Any]:
        return {
            **({"role": self.role} if self.role else {}),
            "index": self.index,
            "warmup": self.warmup,
            "status": self.status,
            "duration_s": round(self.duration_s, 6),
            "returncode": self.returncode,
            "metrics": {k: list(v) for k, v in self.metrics.items()},
            "error": self.error,
        }


@dataclass(frozen=True)
class RunSet:
    """All runs of one benchmark (warm-ups included, marked)."""

    command: tuple[str, ...]
    runs: tuple[RunResult, ...]

    @property
    def measured(self) -> tuple[RunResult, ...]:
        return tuple(r for r in self.runs if not r.warmup)

    @property
    def failures(self) -> tuple[RunResult, ...]:
        return tuple(r for r in self.measured if r.status != "ok")

    def samples(self) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {}
        for r in self.measured:
            if r.status != "ok":
                continue
            for name, values in r.metrics.items():
                out.setdefault(name, []).extend(values)
        return out

    def meta(self) -> dict[str, MetricMeta]:
        out: dict[str, MetricMeta] = {}
        for r in self.runs:
            for name, m in r.meta.items():
                prev = out.get(name, MetricMeta())
                out[name] = MetricMeta(
                    unit=prev.unit or m.unit, better=prev.better or m.better,
                    stderr=m.stderr if m.stderr is not None else prev.stderr,
                    paired=prev.paired or m.paired, note=prev.note or m.note,
                )
        return out


def parse_metrics(data: Any) -> tuple[dict[str, tuple[float, ...]], dict[str, MetricMeta]]:
    """Validate a metrics object. Raises InputError on anything malformed."""
    if not isinstance(data, Mapping):
        raise InputError("metrics must be a JSON object of name -> value")
    metrics: dict[str, tuple[float, ...]] = {}
    meta: dict[str, MetricMeta] = {}
    for name, raw in data.items():
        if not isinstance(name, str) or not name or len(name) > 200:
            raise InputError(f"bad metric name {name!r}")
        unit, better, stderr, paired = "", None, None, False
        value = raw
        if isinstance(raw, Mapping):
            if "value" not in raw:
                raise InputError(f"metric {name!r}: object without a 'value'")
            value = raw["value"]
            unit = str(raw.get("unit", ""))
            b = raw.get("better")
            if b is not None:
                if b not in ("lower", "higher"):
                    raise InputError(f"metric {name!r}: better must be 'lower' or 'higher', not {b!r}")
                better = str(b)
            se = raw.get("stderr")
            if se is not None:
                if isinstance(se, bool) or not isinstance(se, (int, float)) or not math.isfinite(se):
                    raise InputError(f"metric {name!r}: stderr {se!r} is not a finite number")
                stderr = float(se)
            pr = raw.get("paired", False)
            if not isinstance(pr, bool):
                raise InputError(f"metric {name!r}: paired must be true or false")
            paired = pr
        values = value if isinstance(value, list) else [value]
        if not values:
            raise InputError(f"metric {name!r}: empty list of samples")
        if len(values) > MAX_SAMPLES_PER_METRIC:
            raise InputError(f"metric {name!r}: more than {MAX_SAMPLES_PER_METRIC} samples")
        floats: list[float] = []
        for v in values:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise InputError(f"metric {name!r}: {v!r} is not a number")
            f = float(v)
            if not math.isfinite(f):
                raise InputError(f"metric {name!r}: {v!r} is not a finite number")
            floats.append(f)
        metrics[name] = tuple(floats)
        meta[name] = MetricMeta(unit=unit, better=better, stderr=stderr, paired=paired)
    if not metrics:
        raise InputError("metrics object is empty")
    return metrics, meta


def last_json_line(text: str) -> Any | None:
    """The last stdout line that parses as a JSON object, or None."""
    for line in reversed(text.splitlines()):
        line = line.strip()
        if not (line.startswith("{") and line.endswith("}")):
            continue
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):  # deep nesting is no metrics line either
            continue
        if isinstance(obj, dict):
            return obj
    return None


def _tail(path: Path, limit: int) -> str:
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - limit))
        return fh.read().decode("utf-8", errors="replace")


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def run_command_once(
    argv: Sequence[str],
    *,
    index: int,
    warmup: bool,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    source: tuple[str, Path] | None = None,
) -> RunResult:
    """One run. ``source`` (kind, file): read the metrics from that file in that format (see
    ``mlgate.bench.sources``); the file is removed before the run so a stale one is never read."""
    if source is not None:
        with contextlib.suppress(FileNotFoundError):
            source[1].unlink()
    with tempfile.TemporaryDirectory(prefix="mlgate-bench-") as tmp:
        tmpdir = Path(tmp)
        out_file = tmpdir / "metrics.json"
        stdout_path = tmpdir / "stdout"
        stderr_path = tmpdir / "stderr"
        run_env = dict(os.environ if env is None else env)
        run_env[OUTPUT_ENV] = str(out_file)
        start = time.perf_counter()
        try:
            with stdout_path.open("wb") as so, stderr_path.open("wb") as se:
                proc = subprocess.Popen(
                    list(argv), stdout=so, stderr=se, stdin=subprocess.DEVNULL,
                    env=run_env, cwd=cwd, start_new_session=True,
                )
                try:
                    rc = proc.wait(timeout=timeout_s)
                except subprocess.TimeoutExpired:
                    _kill_group(proc)
                    return RunResult(
                        index, warmup, "timeout", time.perf_counter() - start, None,
                        error=f"killed after the {timeout_s:g} s timeout",
                    )
        except OSError as exc:
            return RunResult(
                index, warmup, "failed", time.perf_counter() - start, None,
                error=f"cannot start {argv[0]!r}: {exc.strerror or exc}",
            )
        duration = time.perf_counter() - start
        if rc != 0:
            err = _tail(stderr_path, 2000).strip().splitlines()
            last = err[-1] if err else ""
            return RunResult(
                index, warmup, "failed", duration, rc,
                error=f"exit status {rc}" + (f": {last[:300]}" if last else ""),
            )
        if source is not None:
            from mlgate.bench.sources import read_source

            try:
                metrics, meta = read_source(*source)
            except InputError as exc:
                return RunResult(index, warmup, "no-metrics", duration, rc, error=exc.message)
            return RunResult(index, warmup, "ok", duration, rc, metrics, meta)
        where = ""
        data: Any = None
        try:
            if out_file.is_file() and not out_file.is_symlink():
                if out_file.stat().st_size > MAX_METRICS_FILE:
                    raise InputError(f"metrics file larger than {MAX_METRICS_FILE} bytes")
                where = f"${OUTPUT_ENV}"
                data = json.loads(out_file.read_text(encoding="utf-8"))
            else:
                where = "stdout"
                data = last_json_line(_tail(stdout_path, STDOUT_TAIL))
                if data is None:
                    return RunResult(
                        index, warmup, "no-metrics", duration, rc,
                        error=f"no metrics: nothing written to ${OUTPUT_ENV} and no JSON object "
                        "line on stdout",
                    )
            metrics, meta = parse_metrics(data)
        except (ValueError, UnicodeDecodeError, InputError, RecursionError) as exc:
            return RunResult(
                index, warmup, "no-metrics", duration, rc,
                error=f"malformed metrics from {where}: {exc}",
            )
        return RunResult(index, warmup, "ok", duration, rc, metrics, meta)


def run_callable_once(
    fn: Callable[[], Mapping[str, Any]], *, index: int, warmup: bool
) -> RunResult:
    start = time.perf_counter()
    try:
        data = fn()
    except Exception as exc:  # a benchmark that raises is a failed run, recorded as such
        return RunResult(
            index, warmup, "failed", time.perf_counter() - start, None,
            error=f"{type(exc).__name__}: {exc}",
        )
    duration = time.perf_counter() - start
    try:
        metrics, meta = parse_metrics(data)
    except InputError as exc:
        return RunResult(index, warmup, "no-metrics", duration, None, error=str(exc))
    return RunResult(index, warmup, "ok", duration, None, metrics, meta)


def run_benchmark(
    benchmark: Benchmark,
    *,
    runs: int,
    warmup: int = 0,
    timeout_s: float = 600.0,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    on_run: Callable[[RunResult], None] | None = None,
    source: tuple[str, Path] | None = None,
    max_runs: int | None = None,
    keep_going: Callable[[RunSet], bool] | None = None,
) -> RunSet:
    """``warmup`` discarded runs, then ``runs`` measured ones; every run is recorded. With a
    budget (``max_runs``) more runs follow, one at a time, while ``keep_going(runs so far)``."""
    if runs < 1:
        raise UsageError("--repeat must be at least 1")
    if max_runs is not None and max_runs < runs:
        raise UsageError("--max-repeat cannot be smaller than --repeat")
    if warmup < 0:
        raise UsageError("--warmup cannot be negative")
    if timeout_s <= 0:
        raise UsageError("--timeout must be positive")
    results: list[RunResult] = []
    command: tuple[str, ...]
    if callable(benchmark):
        command = (getattr(benchmark, "__qualname__", repr(benchmark)),)
    else:
        command = tuple(benchmark)
        if not command:
            raise UsageError("empty benchmark command")
    i = 0
    limit = warmup + (max_runs if max_runs is not None else runs)
    while i < limit:
        if i >= warmup + runs and (keep_going is None
                                   or not keep_going(RunSet(command, tuple(results)))):
            break
        is_warm = i < warmup
        if callable(benchmark):
            r = run_callable_once(benchmark, index=i, warmup=is_warm)
        else:
            r = run_command_once(
                command, index=i, warmup=is_warm, timeout_s=timeout_s, env=env, cwd=cwd,
                source=source,
            )
        results.append(r)
        if on_run is not None:
            on_run(r)
        i += 1
    return RunSet(command, tuple(results))


def import_file(kind: str, path: Path) -> RunSet:
    """A results file another tool already wrote, taken as one measured run (no command)."""
    from mlgate.bench.sources import read_source

    metrics, meta = read_source(kind, path)
    run = RunResult(0, False, "ok", 0.0, None, metrics, meta)
    return RunSet((f"--from {kind} {path}",), (run,))
