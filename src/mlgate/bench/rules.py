"""Rules of the benchmark gate (MLG-BENCH-NNN)."""

from __future__ import annotations

from mlgate.core.findings import Severity
from mlgate.core.rules import Rule

REGRESSION = Rule(
    "MLG-BENCH-001", Severity.HIGH, "Performance regression",
    "The candidate is worse than the baseline on this metric: the change is statistically real "
    "(its confidence interval excludes zero) and larger than the metric's tolerance.",
    "Find the change that made the model slower or worse, or, if the regression is intended, "
    "update the baseline from the default branch after review.",
)
INCONCLUSIVE = Rule(
    "MLG-BENCH-002", Severity.MEDIUM, "Benchmark inconclusive",
    "The samples are too few or too noisy to show either a regression or the absence of one "
    "larger than the tolerance allows. This holds the gate; it is neither a pass nor a failure.",
    "Run more repetitions (--repeat / --max-repeat, or `mlgate bench ab`), reduce noise on the "
    "runner (dedicated GPU runner, fixed clocks, warm-ups), or widen the tolerance if that is "
    "acceptable.",
)
DEVICE_MISMATCH = Rule(
    "MLG-BENCH-003", Severity.MEDIUM, "Baseline from a different device",
    "The baseline was measured on a different device class (GPU model, count or memory, or CPU "
    "when there is no GPU), so the numbers are not comparable and no verdict was made.",
    "Run the benchmark on the same runner type as the baseline (runner labels or tags), or "
    "store a baseline for this device class from the default branch.",
)
RUN_FAILED = Rule(
    "MLG-BENCH-004", Severity.MEDIUM, "Benchmark run failed",
    "A measured run of the benchmark command failed, timed out or printed no metrics. Failed "
    "runs are never dropped silently: the measurement is incomplete.",
    "Fix the benchmark command so that every run succeeds within the timeout and reports its "
    "metrics as JSON (last stdout line or the file in $MLGATE_BENCH_OUTPUT).",
)
NOT_MEASURED = Rule(
    "MLG-BENCH-005", Severity.MEDIUM, "Metric not measured",
    "A metric the gate needs is missing from the baseline or the candidate, or its samples "
    "cannot be compared. Could not measure is never a pass.",
    "Make the benchmark report the metric in every run, or drop it from bench.metrics.",
)
NO_BASELINE = Rule(
    "MLG-BENCH-006", Severity.MEDIUM, "No baseline to compare with",
    "There is no stored baseline for this benchmark, so no regression check was possible.",
    "Store one from a trusted run on the default branch with `mlgate bench baseline update`.",
)
IMPROVEMENT = Rule(
    "MLG-BENCH-007", Severity.INFO, "Performance improvement",
    "The candidate is better than the baseline beyond the tolerance, and the change is real.",
    "Nothing to fix; consider updating the baseline so later changes are held to the new level.",
)
THRESHOLD = Rule(
    "MLG-BENCH-008", Severity.HIGH, "Metric outside its absolute limit",
    "The candidate's median is outside the absolute limit (min/max) set for the metric in the "
    "policy, whatever the baseline says.",
    "Improve the model on this metric or revisit the limit in mlgate.yml.",
)
NO_GPU = Rule(
    "MLG-BENCH-009", Severity.MEDIUM, "Benchmark ran without a GPU",
    "The policy requires a GPU, none was found, and --allow-cpu marked the results as CPU "
    "results. They are not comparable with GPU baselines.",
    "Route the job to a GPU runner (runs-on labels on GitHub, tags on GitLab).",
)

RULES: list[Rule] = [
    REGRESSION, INCONCLUSIVE, DEVICE_MISMATCH, RUN_FAILED, NOT_MEASURED, NO_BASELINE,
    IMPROVEMENT, THRESHOLD, NO_GPU,
]
