"""Benchmark results files and stored baselines.

A results file (written by ``mlgate bench --results``) and a baseline are the same JSON
document: every run (failed ones included), the samples per metric with unit and direction,
the device fingerprint, the commit and the time. A baseline location is a file, or a
directory holding one file per benchmark name and device fingerprint
(``<name>-<fingerprint>.json``), so one directory serves a fleet of runner types.

Baselines are written only from trusted runs (the default branch): writing one from a pull or
merge request is refused, because a pull request could otherwise lower the bar it is measured
against.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgate.bench.device import DeviceInfo
from mlgate.bench.runner import MetricMeta, RunSet
from mlgate.core.errors import InputError, ToolError, UsageError
from mlgate.core.findings import utc_now

RESULTS_SCHEMA = 1
MAX_RESULTS_FILE = 64 * 1024 * 1024


@dataclass(frozen=True)
class MetricSamples:
    samples: tuple[float, ...]
    unit: str = ""
    better: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"unit": self.unit, "better": self.better, "samples": list(self.samples)}


@dataclass(frozen=True)
class BenchResults:
    name: str
    metrics: Mapping[str, MetricSamples]
    device: DeviceInfo
    command: tuple[str, ...] = ()
    runs: tuple[Mapping[str, Any], ...] = ()
    failed_runs: int = 0
    commit: str = ""
    created: str = field(default_factory=utc_now)

    def to_json(self) -> dict[str, Any]:
        return {
            "mlgate_bench_results": RESULTS_SCHEMA,
            "name": self.name,
            "created": self.created,
            "commit": self.commit,
            "command": list(self.command),
            "device": self.device.to_json(),
            "failed_runs": self.failed_runs,
            "metrics": {k: v.to_json() for k, v in self.metrics.items()},
            "runs": [dict(r) for r in self.runs],
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2) + "\n"

    @classmethod
    def from_json(cls, data: Any, source: str = "<results>") -> BenchResults:
        if not isinstance(data, Mapping) or "mlgate_bench_results" not in data:
            raise InputError(f"{source}: not an mlgate bench results file")
        if data["mlgate_bench_results"] != RESULTS_SCHEMA:
            raise InputError(
                f"{source}: results schema {data['mlgate_bench_results']!r} is not supported",
                hint=f"this mlgate reads version {RESULTS_SCHEMA}",
            )
        try:
            metrics: dict[str, MetricSamples] = {}
            for name, m in (data.get("metrics") or {}).items():
                samples = tuple(float(v) for v in m["samples"])
                better = m.get("better")
                if better not in (None, "lower", "higher"):
                    raise ValueError(f"metric {name!r}: better={better!r}")
                metrics[str(name)] = MetricSamples(samples, str(m.get("unit") or ""), better)
            runs = tuple(r for r in data.get("runs") or [] if isinstance(r, Mapping))
            return cls(
                name=str(data["name"]),
                metrics=metrics,
                device=DeviceInfo.from_json(data.get("device") or {}),
                command=tuple(str(c) for c in data.get("command") or []),
                runs=runs,
                failed_runs=int(data.get("failed_runs") or 0),
                commit=str(data.get("commit") or ""),
                created=str(data.get("created") or ""),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"{source}: malformed bench results: {exc}") from exc


def results_from_runs(
    name: str,
    runset: RunSet,
    device: DeviceInfo,
    directions: Mapping[str, str],
    units: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> BenchResults:
    env = os.environ if environ is None else environ
    meta: dict[str, MetricMeta] = runset.meta()
    metrics: dict[str, MetricSamples] = {}
    for metric, samples in runset.samples().items():
        m = meta.get(metric, MetricMeta())
        unit = (units or {}).get(metric) or m.unit
        metrics[metric] = MetricSamples(tuple(samples), unit, directions.get(metric) or m.better)
    return BenchResults(
        name=name,
        metrics=metrics,
        device=device,
        command=runset.command,
        runs=tuple(r.to_json() for r in runset.runs),
        failed_runs=len(runset.failures),
        commit=env.get("GITHUB_SHA") or env.get("CI_COMMIT_SHA") or "",
    )


def read_results(path: Path) -> BenchResults:
    try:
        if path.stat().st_size > MAX_RESULTS_FILE:
            raise InputError(f"{path}: larger than {MAX_RESULTS_FILE} bytes")
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such file") from exc
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: cannot read bench results: {exc}") from exc
    return BenchResults.from_json(data, str(path))


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "bench"


def is_directory_location(location: Path) -> bool:
    return location.is_dir() or str(location).endswith(("/", os.sep))


def baseline_path(location: Path, name: str, fingerprint: str) -> Path:
    if is_directory_location(location):
        return location / f"{_safe(name)}-{fingerprint}.json"
    return location


def load_baseline(location: Path, name: str, fingerprint: str) -> BenchResults | None:
    """The baseline for ``name`` on this device class, or (directory location) any baseline of
    ``name`` when none matches the device, so the caller can say "not comparable" instead of
    "no baseline". None when there is none at all."""
    path = baseline_path(location, name, fingerprint)
    if path.is_file():
        return read_results(path)
    if is_directory_location(location) and location.is_dir():
        others = sorted(location.glob(f"{_safe(name)}-*.json"))
        if others:
            return read_results(others[0])
    return None


def untrusted_context(environ: Mapping[str, str]) -> str | None:
    """Why this CI run must not write a baseline (a pull/merge request), or None."""
    event = environ.get("GITHUB_EVENT_NAME", "")
    if event.startswith("pull_request"):
        return f"GitHub event {event!r}"
    if environ.get("CI_MERGE_REQUEST_IID"):
        return f"GitLab merge request !{environ['CI_MERGE_REQUEST_IID']}"
    if environ.get("CI_PIPELINE_SOURCE") in ("merge_request_event", "external_pull_request_event"):
        return f"GitLab pipeline source {environ['CI_PIPELINE_SOURCE']!r}"
    return None


def save_baseline(
    location: Path, results: BenchResults, environ: Mapping[str, str] | None = None
) -> Path:
    env = os.environ if environ is None else environ
    why = untrusted_context(env)
    if why is not None:
        raise UsageError(
            f"refusing to update the baseline from an untrusted run ({why})",
            hint="update baselines only from the default branch (a push or scheduled pipeline)",
        )
    if results.failed_runs:
        raise UsageError(
            f"refusing to store a baseline with {results.failed_runs} failed run(s)",
            hint="fix the benchmark so every run succeeds, then update the baseline",
        )
    if not results.metrics:
        raise UsageError("refusing to store a baseline without any metric")
    path = baseline_path(location, results.name, results.device.fingerprint)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(results.dumps(), encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise ToolError(f"cannot write baseline {path}: {exc.strerror or exc}") from exc
    return path
