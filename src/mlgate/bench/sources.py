"""Metrics from the files other benchmark tools write.

* ``pytest-benchmark`` (``pytest --benchmark-json FILE``): one metric per benchmark, named by
  ``benchmarks[].name`` (``fullname`` when two share a name), in seconds, lower is better (a
  duration, by the format's own definition). The per-round timings in ``stats.data`` are the
  samples (``--benchmark-json`` writes them; files from ``--benchmark-save`` have them only with
  ``--benchmark-save-data``); without them only the summary exists, and its ``stats.mean`` is
  taken as one sample, with a note saying so.
* ``lm-eval`` (lm-evaluation-harness ``results*.json``): ``results.{task}.{metric},{filter}``
  becomes the metric ``{task}.{metric}`` (``{task}.{metric},{filter}`` when the filter is not
  ``none``), with ``{metric}_stderr,{filter}`` as its standard error. No direction is set:
  accuracy-like metrics get one only from the policy or ``--better`` (never a guess).

Every parser is bounded (file size) and turns anything malformed into an InputError.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mlgate.bench.runner import MAX_SAMPLES_PER_METRIC, MetricMeta
from mlgate.core.errors import InputError
from mlgate.core.jsonfile import read_json

MAX_SOURCE_FILE = 64 * 1024 * 1024
SOURCES = ("pytest-benchmark", "lm-eval")

Parsed = tuple[dict[str, tuple[float, ...]], dict[str, MetricMeta]]


def _load(path: Path) -> Any:
    return read_json(path, what="benchmark metrics file", max_bytes=MAX_SOURCE_FILE,
                     allow_symlink=False)


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def parse_pytest_benchmark(data: Any, source: str = "pytest-benchmark JSON") -> Parsed:
    if not isinstance(data, Mapping) or not isinstance(data.get("benchmarks"), list):
        raise InputError(f"{source}: not pytest-benchmark JSON (no 'benchmarks' list)")
    entries = [b for b in data["benchmarks"] if isinstance(b, Mapping)]
    if not entries:
        raise InputError(f"{source}: no benchmarks in the file")
    names = [str(b.get("name") or b.get("fullname") or "") for b in entries]
    metrics: dict[str, tuple[float, ...]] = {}
    meta: dict[str, MetricMeta] = {}
    for b, short in zip(entries, names, strict=True):
        name = short if names.count(short) == 1 else str(b.get("fullname") or short)
        if not name:
            raise InputError(f"{source}: a benchmark without a name")
        if name in metrics:
            raise InputError(f"{source}: benchmark {name!r} appears twice")
        stats = b.get("stats")
        if not isinstance(stats, Mapping):
            raise InputError(f"{source}: benchmark {name!r} has no stats")
        data_list = stats.get("data")
        note = ""
        if isinstance(data_list, list) and data_list:
            if len(data_list) > MAX_SAMPLES_PER_METRIC:
                raise InputError(f"{source}: {name!r}: more than {MAX_SAMPLES_PER_METRIC} samples")
            vals = [_finite(v) for v in data_list]
            if any(v is None for v in vals):
                raise InputError(f"{source}: {name!r}: stats.data holds a non-number")
            samples = tuple(v for v in vals if v is not None)
        else:
            mean = _finite(stats.get("mean"))
            if mean is None:
                raise InputError(f"{source}: {name!r}: neither stats.data nor a numeric stats.mean")
            samples = (mean,)
            rounds = stats.get("rounds")
            note = (f"summary only: the mean of {rounds} rounds is one sample; run pytest with "
                    "--benchmark-save-data for per-round samples")
        metrics[name] = samples
        meta[name] = MetricMeta(unit="s", better="lower", note=note)
    return metrics, meta


def parse_lm_eval(data: Any, source: str = "lm-eval results JSON") -> Parsed:
    if not isinstance(data, Mapping) or not isinstance(data.get("results"), Mapping):
        raise InputError(f"{source}: not lm-evaluation-harness results (no 'results' object)")
    metrics: dict[str, tuple[float, ...]] = {}
    meta: dict[str, MetricMeta] = {}
    for task, values in data["results"].items():
        if not isinstance(values, Mapping):
            continue
        stderrs: dict[tuple[str, str], float] = {}
        plain: dict[tuple[str, str], float] = {}
        for key, raw in values.items():
            value = _finite(raw)
            if value is None or not isinstance(key, str):
                continue  # "alias", "N/A" stderr, nested objects
            metric, _, filt = key.partition(",")
            if metric.endswith("_stderr"):
                stderrs[(metric[: -len("_stderr")], filt)] = value
            else:
                plain[(metric, filt)] = value
        for (metric, filt), value in plain.items():
            name = f"{task}.{metric}" if filt in ("", "none") else f"{task}.{metric},{filt}"
            metrics[name] = (value,)
            meta[name] = MetricMeta(stderr=stderrs.get((metric, filt)))
    if not metrics:
        raise InputError(f"{source}: no numeric results in the file")
    return metrics, meta


PARSERS: Mapping[str, Callable[[Any, str], Parsed]] = {
    "pytest-benchmark": parse_pytest_benchmark,
    "lm-eval": parse_lm_eval,
}


def read_source(kind: str, path: Path) -> Parsed:
    parser = PARSERS.get(kind)
    if parser is None:
        raise InputError(f"unknown metrics source {kind!r}", hint=f"use one of: {', '.join(SOURCES)}")
    return parser(_load(path), str(path))
