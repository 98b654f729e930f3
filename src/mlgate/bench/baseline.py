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
from mlgate.core.jsonfile import read_json

RESULTS_SCHEMA = 1
MAX_RESULTS_FILE = 64 * 1024 * 1024


@dataclass(frozen=True)
class MetricSamples:
    samples: tuple[float, ...]
    unit: str = ""
    better: str | None = None
    stderr: float | None = None
    paired: bool = False
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"unit": self.unit, "better": self.better,
                               "samples": list(self.samples)}
        if self.stderr is not None:
            out["stderr"] = self.stderr
        if self.paired:
            out["paired"] = True
        if self.note:
            out["note"] = self.note
        return out


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
    gpu_missing: bool = False  # a GPU was required; ran on the CPU with --allow-cpu

    def with_directions(self, directions: Mapping[str, str]) -> BenchResults:
        """The same results with ``--better`` directions filled in."""
        from dataclasses import replace

        metrics = {k: replace(v, better=directions.get(k) or v.better)
                   for k, v in self.metrics.items()}
        return replace(self, metrics=metrics)

    def to_json(self) -> dict[str, Any]:
        return {
            "mlgate_bench_results": RESULTS_SCHEMA,
            "name": self.name,
            "created": self.created,
            "commit": self.commit,
            "command": list(self.command),
            "device": self.device.to_json(),
            "failed_runs": self.failed_runs,
            **({"gpu_missing": True, "marked": "cpu"} if self.gpu_missing else {}),
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
                se = m.get("stderr")
                metrics[str(name)] = MetricSamples(
                    samples, str(m.get("unit") or ""), better,
                    stderr=None if se is None else float(se), paired=bool(m.get("paired", False)),
                    note=str(m.get("note") or ""),
                )
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
                gpu_missing=bool(data.get("gpu_missing", False)),
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
        metrics[metric] = MetricSamples(tuple(samples), unit, directions.get(metric) or m.better,
                                        stderr=m.stderr if len(samples) == 1 else None,
                                        paired=m.paired, note=m.note)
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
    data = read_json(path, what="bench results file", max_bytes=MAX_RESULTS_FILE)
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


def _github_default_branch(environ: Mapping[str, str]) -> str | None:
    """``repository.default_branch`` from the event payload GitHub writes for the job."""
    path = environ.get("GITHUB_EVENT_PATH")
    if not path:
        return None
    try:
        with open(path, "rb") as fh:
            payload = json.loads(fh.read(8 * 1024 * 1024).decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    repo = payload.get("repository") if isinstance(payload, Mapping) else None
    branch = repo.get("default_branch") if isinstance(repo, Mapping) else None
    return branch if isinstance(branch, str) and branch else None


def untrusted_context(environ: Mapping[str, str]) -> str | None:
    """Why this run must not write a baseline, or None when it may.

    GitHub Actions: never on ``pull_request*`` events; otherwise ``GITHUB_REF`` must be the
    default branch named in the event payload (``$GITHUB_EVENT_PATH``). GitLab CI: never in a
    merge-request pipeline; otherwise ``CI_COMMIT_BRANCH`` must equal ``CI_DEFAULT_BRANCH``.
    Another CI (``CI=true``): refused, because the branch cannot be verified. Outside CI (a
    developer's machine) the write is allowed."""
    if environ.get("GITHUB_ACTIONS") == "true" or environ.get("GITHUB_EVENT_NAME"):
        event = environ.get("GITHUB_EVENT_NAME", "")
        if event.startswith("pull_request"):
            return f"GitHub event {event!r}"
        default = _github_default_branch(environ)
        if default is None:
            return ("GitHub: cannot tell the default branch (no repository.default_branch in "
                    "the event payload at $GITHUB_EVENT_PATH)")
        ref = environ.get("GITHUB_REF", "")
        if ref != f"refs/heads/{default}":
            return f"GitHub ref {ref or '(unset)'!r} is not the default branch {default!r}"
        return None
    gitlab = environ.get("GITLAB_CI") == "true" or any(
        environ.get(k) for k in ("CI_MERGE_REQUEST_IID", "CI_PIPELINE_SOURCE", "CI_DEFAULT_BRANCH"))
    if gitlab:
        if environ.get("CI_MERGE_REQUEST_IID"):
            return f"GitLab merge request !{environ['CI_MERGE_REQUEST_IID']}"
        source = environ.get("CI_PIPELINE_SOURCE", "")
        if source in ("merge_request_event", "external_pull_request_event"):
            return f"GitLab pipeline source {source!r}"
        branch, default = environ.get("CI_COMMIT_BRANCH", ""), environ.get("CI_DEFAULT_BRANCH", "")
        if not default:
            return "GitLab: CI_DEFAULT_BRANCH is not set, cannot tell the default branch"
        if branch != default:
            return (f"GitLab ref {branch or environ.get('CI_COMMIT_REF_NAME') or '(no branch)'!r} "
                    f"is not the default branch {default!r}")
        return None
    if environ.get("CI", "").lower() in ("true", "1", "yes"):
        return "an unrecognised CI system (CI=true): cannot verify the run is on the default branch"
    return None


def save_baseline(
    location: Path, results: BenchResults, environ: Mapping[str, str] | None = None
) -> Path:
    env = os.environ if environ is None else environ
    why = untrusted_context(env)
    if why is not None:
        raise UsageError(
            f"refusing to update the baseline from an untrusted run ({why})",
            hint="update baselines only from trusted runs on the default branch (a push or "
            "scheduled pipeline on it), never from pull or merge requests",
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
        tmp.write_text(results.dumps(), encoding="utf-8", errors="backslashreplace")
        tmp.replace(path)
    except OSError as exc:
        raise ToolError(f"cannot write baseline {path}: {exc.strerror or exc}") from exc
    return path
