"""The ``bench`` section of mlgate.yml (owned by the bench capability)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class BenchMetricPolicy(BaseModel):
    """How one metric is judged."""

    model_config = ConfigDict(extra="forbid")

    better: Literal["lower", "higher"] | None = Field(
        None, description="Which direction is better. Required somewhere (here, --metric, or "
        "the metric object the benchmark prints): an unknown direction is an error, not a guess."
    )
    unit: str = Field("", description="Unit shown in reports (ms, items/s, ...).")
    tolerance: float | None = Field(
        None, ge=0, lt=1, description="Relative tolerance for this metric (default: bench.tolerance)."
    )
    min: float | None = Field(None, description="Absolute floor for the candidate median.")
    max: float | None = Field(None, description="Absolute ceiling for the candidate median.")
    required: bool = Field(True, description="A missing metric holds the gate.")
    paired: bool = Field(
        False, description="Samples are per-example quality scores (example i is the same input "
        "on both sides): compared with a seeded paired bootstrap of the mean difference."
    )


class BenchPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tolerance: float = Field(
        0.05, ge=0, lt=1, description="Default relative tolerance (0.05 = 5 %): a regression "
        "must be both statistically real and larger than this."
    )
    alpha: float = Field(
        0.01, gt=0, lt=0.5, description="Two-sided error rate of the confidence interval "
        "(0.01 = 99 % interval; about 0.5 % false alarms per metric)."
    )
    pass_margin: float = Field(
        2.0, ge=1, description="A pass needs the interval to rule out a worsening of "
        "pass_margin x tolerance; otherwise the verdict is inconclusive."
    )
    min_runs: int = Field(5, ge=2, description="Fewer samples per side is inconclusive.")
    max_cv: float = Field(
        0.30, gt=0, description="Robust coefficient of variation (1.4826 MAD / median) above "
        "which a sample is too noisy to judge (inconclusive)."
    )
    runs: int = Field(10, ge=1, description="Measured runs of the benchmark command.")
    warmup: int = Field(2, ge=0, description="Discarded warm-up runs before measuring.")
    timeout_s: float = Field(600.0, gt=0, description="Time limit of one run, in seconds.")
    allow_device_mismatch: bool = Field(
        False, description="Compare against a baseline from a different device class "
        "(otherwise such a comparison holds as not comparable)."
    )
    require_gpu: bool = Field(
        False, description="Fail (tool error) when no GPU is found, unless --allow-cpu."
    )
    metrics: dict[str, BenchMetricPolicy] = Field(
        default_factory=dict, description="Per-metric direction, unit, tolerance and limits."
    )
    gates: list[str] = Field(
        default_factory=list, description="Conditions, one per string: absolute "
        "('accuracy >= 0.82', on the candidate median), relative to the baseline "
        "('throughput >= -3% vs baseline', 'latency_ms <= +5% vs baseline') or a tail limit "
        "('p99(latency_ms) <= 50', judged with an order-statistic confidence bound)."
    )
    confidence: float = Field(
        0.95, gt=0.5, lt=1, description="Confidence of the tail-quantile bounds (p90/p99 limits)."
    )
    baseline: str | None = Field(
        None, description="Where `mlgate bench gate` finds the baseline: a results file, or a "
        "directory of <name>-<device>.json baselines (a trailing / marks a directory)."
    )
