"""Statistics of the bench gate, checked on seeded synthetic runner noise."""

from __future__ import annotations

import math
import random

import pytest
from scipy.stats import binom, mannwhitneyu

from mlgate.bench.stats import (
    CompareSettings,
    Verdict,
    bootstrap_median_ratio_ci,
    compare,
    compare_with_stderr,
    hodges_lehmann,
    look_schedule,
    mann_whitney_u,
    paired_bootstrap,
    quantile_check,
    quantile_lower_rank,
    quantile_upper_rank,
    samples_needed,
    summarize,
)


def runner_noise(rng: random.Random, n: int, spread: float, change: float = 0.0) -> list[float]:
    """Log-normal latency around 10 ms (times 1+change) with an occasional slow outlier."""
    out = []
    for _ in range(n):
        v = 10.0 * math.exp(rng.gauss(0.0, spread)) * (1.0 + change)
        if rng.random() < 0.02:
            v *= 1.5
        out.append(v)
    return out


def verdicts(spread: float, change: float, trials: int, n: int = 15) -> dict[Verdict, int]:
    counts = {v: 0 for v in Verdict}
    for t in range(trials):
        rng = random.Random(1000 + t)
        base = runner_noise(rng, n, spread)
        cand = runner_noise(rng, n, spread, change)
        counts[compare("latency_ms", base, cand, "lower").verdict] += 1
    return counts


def test_true_ten_percent_regression_with_low_noise_is_detected() -> None:
    counts = verdicts(0.05, 0.10, 200)
    assert counts[Verdict.REGRESSION] >= 0.95 * 200
    assert counts[Verdict.PASS] <= 2


def test_pure_noise_is_not_flagged() -> None:
    counts = verdicts(0.05, 0.0, 200)
    assert counts[Verdict.REGRESSION] <= 2  # <= 1 %
    assert counts[Verdict.PASS] >= 0.95 * 200


def test_high_noise_no_change_is_rarely_a_regression() -> None:
    counts = verdicts(0.15, 0.0, 200)
    assert counts[Verdict.REGRESSION] <= 2


def test_higher_is_better_mirrors_direction() -> None:
    rng = random.Random(7)
    base = runner_noise(rng, 20, 0.03)
    worse = [v * 0.8 for v in runner_noise(rng, 20, 0.03)]  # throughput dropped by 20 %
    better = [v * 1.2 for v in runner_noise(rng, 20, 0.03)]
    assert compare("tput", base, worse, "higher").verdict is Verdict.REGRESSION
    assert compare("tput", base, better, "higher").verdict is Verdict.IMPROVEMENT
    # the same numbers judged as latency are the other way round
    assert compare("lat", base, worse, "lower").verdict is Verdict.IMPROVEMENT
    assert compare("lat", base, better, "lower").verdict is Verdict.REGRESSION


def test_real_but_small_change_within_tolerance_passes() -> None:
    rng = random.Random(3)
    base = runner_noise(rng, 60, 0.01)
    cand = runner_noise(rng, 60, 0.01, 0.02)  # a real +2 % that the 5 % tolerance allows
    c = compare("lat", base, cand, "lower")
    assert c.verdict is Verdict.PASS
    assert c.ci_low is not None and c.ci_low > 0  # the change is real ...
    assert c.change is not None and 0.01 < c.change < 0.03  # ... and estimated right


def test_too_few_runs_is_inconclusive_with_reason() -> None:
    c = compare("lat", [10.0, 10.1, 9.9], [20.0, 20.1, 19.9], "lower")
    assert c.verdict is Verdict.INCONCLUSIVE
    assert "too few samples" in c.reason


def test_too_noisy_is_inconclusive_with_reason() -> None:
    rng = random.Random(5)
    base = runner_noise(rng, 20, 0.05)
    cand = runner_noise(rng, 20, 0.8)
    c = compare("lat", base, cand, "lower", CompareSettings(max_cv=0.3))
    assert c.verdict is Verdict.INCONCLUSIVE
    assert "too noisy" in c.reason and "candidate" in c.reason


def test_wide_interval_is_inconclusive_not_pass() -> None:
    rng = random.Random(11)
    base = runner_noise(rng, 6, 0.2)
    cand = runner_noise(rng, 6, 0.2)
    c = compare("lat", base, cand, "lower", CompareSettings(max_cv=1.0))
    assert c.verdict is Verdict.INCONCLUSIVE
    assert "take more samples" in c.reason


def test_missing_or_non_finite_samples_are_not_measured() -> None:
    assert compare("x", [], [1.0] * 10, "lower").verdict is Verdict.NOT_MEASURED
    assert compare("x", [1.0] * 10, [], "lower").verdict is Verdict.NOT_MEASURED
    c = compare("x", [1.0] * 10, [1.0] * 9 + [math.nan], "lower")
    assert c.verdict is Verdict.NOT_MEASURED and "not finite" in c.reason


def test_non_positive_values_use_linear_scale() -> None:
    base = [-1.0, -1.1, -0.9, -1.0, -1.05, -0.95, -1.02, -0.98]
    cand = [v - 0.5 for v in base]  # 50 % of |median| lower: for "higher is better" a regression
    c = compare("score", base, cand, "higher")
    assert c.scale == "linear"
    assert c.verdict is Verdict.REGRESSION
    assert c.change == pytest.approx(-0.5, abs=0.05)


def test_zero_baseline_median_with_non_positive_values_is_not_measured() -> None:
    c = compare("delta", [0.0] * 8, [0.0, 1.0, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0], "lower")
    assert c.verdict is Verdict.NOT_MEASURED


@pytest.mark.parametrize("n,m", [(3, 4), (6, 6), (7, 10), (15, 15), (20, 9)])
def test_mann_whitney_exact_matches_scipy(n: int, m: int) -> None:
    rng = random.Random(n * 100 + m)
    x = [rng.gauss(0, 1) for _ in range(n)]
    y = [rng.gauss(0.7, 1) for _ in range(m)]
    u, p = mann_whitney_u(x, y, method="exact")
    ref = mannwhitneyu(x, y, alternative="two-sided", method="exact")
    assert u == pytest.approx(float(ref.statistic))
    assert p == pytest.approx(float(ref.pvalue), rel=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_mann_whitney_asymptotic_with_ties_matches_scipy(seed: int) -> None:
    rng = random.Random(seed)
    x = [float(rng.randint(0, 6)) for _ in range(25)]
    y = [float(rng.randint(1, 7)) for _ in range(30)]
    u, p = mann_whitney_u(x, y, method="asymptotic")
    ref = mannwhitneyu(x, y, alternative="two-sided", method="asymptotic", use_continuity=True)
    assert u == pytest.approx(float(ref.statistic))
    assert p == pytest.approx(float(ref.pvalue), rel=1e-9)


def test_mann_whitney_auto_uses_exact_without_ties() -> None:
    x, y = [1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]
    _, p = mann_whitney_u(x, y)
    assert p == pytest.approx(2 / math.comb(8, 4))


def test_moses_interval_covers_true_shift() -> None:
    """The 95 % interval covers the true shift in about 95 % of seeded trials."""
    covered = 0
    for t in range(200):
        rng = random.Random(t)
        x = [rng.gauss(0, 1) for _ in range(12)]
        y = [rng.gauss(0.5, 1) for _ in range(12)]
        _, lo, hi = hodges_lehmann(x, y, 0.05)
        covered += lo <= 0.5 <= hi
    assert 0.92 * 200 <= covered <= 0.99 * 200


def test_bootstrap_interval_is_deterministic_and_sensible() -> None:
    rng = random.Random(2)
    x = runner_noise(rng, 20, 0.02)
    y = runner_noise(rng, 20, 0.02, 0.10)
    a = bootstrap_median_ratio_ci(x, y, alpha=0.05, resamples=500, seed=42)
    b = bootstrap_median_ratio_ci(x, y, alpha=0.05, resamples=500, seed=42)
    assert a == b
    assert a[0] < 0.10 < a[1] or abs(a[0] - 0.10) < 0.03
    assert a[0] > 0.0
    c = compare("lat", x, y, "lower", CompareSettings(bootstrap_resamples=300, seed=1))
    assert "bootstrap_ci_low" in c.extra


def test_summary_robust_cv() -> None:
    s = summarize([10.0, 10.0, 10.0, 11.0, 9.0])
    assert s.median == 10.0 and s.mad == 0.0 and s.robust_cv == 0.0
    assert summarize([1.0, 2.0, 3.0]).robust_cv == pytest.approx(1.4826 * 1 / 2)


@pytest.mark.parametrize("scale", [5e-324, 1e-300, 1e300, 8e307])
def test_extreme_magnitudes_never_raise(scale: float) -> None:
    rng = random.Random(9)
    base = [scale * (1 + rng.random()) for _ in range(8)]
    cand = [1.0 + rng.random() for _ in range(8)]
    c = compare("x", base, cand, "lower", CompareSettings(max_cv=100))
    assert c.verdict in set(Verdict)
    assert c.change is not None


# ----------------------------------------------------------------------------- tail bounds

@pytest.mark.parametrize("q", [0.5, 0.9, 0.95, 0.99])
@pytest.mark.parametrize("conf", [0.9, 0.95, 0.99])
@pytest.mark.parametrize("n", [1, 10, 29, 100, 299, 300, 1000, 2500])
def test_upper_rank_matches_scipy_binomial(q: float, conf: float, n: int) -> None:
    k = quantile_upper_rank(n, q, conf)
    expected = next((k2 for k2 in range(1, n + 1) if binom.cdf(k2 - 1, n, q) >= conf), None)
    assert k == expected
    if k is not None:
        assert binom.cdf(k - 1, n, q) >= conf
        assert k == 1 or binom.cdf(k - 2, n, q) < conf


@pytest.mark.parametrize("q", [0.5, 0.9, 0.99])
@pytest.mark.parametrize("n", [5, 50, 400])
def test_lower_rank_matches_scipy_binomial(q: float, n: int) -> None:
    j = quantile_lower_rank(n, q, 0.95)
    expected = max((j2 for j2 in range(1, n + 1) if binom.sf(j2 - 1, n, q) >= 0.95), default=None)
    assert j == expected


def test_samples_needed_for_p99_and_p90() -> None:
    assert samples_needed(0.99, 0.95) == 299  # MLPerf's well-known minimum for a p99 bound
    assert samples_needed(0.90, 0.95) == 29
    for q, c in ((0.99, 0.95), (0.9, 0.99)):
        n = samples_needed(q, c)
        assert quantile_upper_rank(n, q, c) == n and quantile_upper_rank(n - 1, q, c) is None


def test_quantile_check_coverage_by_simulation() -> None:
    """The upper bound really covers the true p90 at least 95 % of the time."""
    import math
    import random

    true_p90 = math.exp(1.2815515655446004 * 0.3)  # lognormal(0, 0.3)
    rng = random.Random(3)
    covered = 0
    for _ in range(400):
        xs = sorted(rng.lognormvariate(0, 0.3) for _ in range(60))
        k = quantile_upper_rank(60, 0.9, 0.95)
        assert k is not None
        covered += xs[k - 1] >= true_p90
    assert covered / 400 >= 0.93


def test_quantile_check_verdicts() -> None:
    fast = [1.0 + i / 1000 for i in range(500)]
    assert quantile_check("lat", fast, 0.99, "<=", 2.0).verdict is Verdict.PASS
    slow = [10.0 + i / 1000 for i in range(500)]
    assert quantile_check("lat", slow, 0.99, "<=", 2.0).verdict is Verdict.REGRESSION
    few = quantile_check("lat", fast[:50], 0.99, "<=", 2.0)
    assert few.verdict is Verdict.INCONCLUSIVE and few.needed == 299 and "299" in few.reason
    # the raw p99 is under the limit but the bound is not: inconclusive, not a pass
    edge = quantile_check("lat", [1.0] * 297 + [3.0] * 3, 0.99, "<=", 2.0)
    assert edge.sample_quantile == 1.0 and edge.verdict is not Verdict.PASS
    assert quantile_check("lat", [], 0.9, "<=", 1.0).verdict is Verdict.NOT_MEASURED
    thr = [100.0 + i for i in range(100)]
    assert quantile_check("tput", thr, 0.1, ">=", 50.0).verdict is Verdict.PASS


# ----------------------------------------------------------------------------- paired bootstrap


def test_paired_bootstrap_detects_a_quality_drop_and_is_seeded() -> None:
    import random

    rng = random.Random(11)
    base = [1.0 if rng.random() < 0.85 else 0.0 for _ in range(1000)]
    # the candidate gets 12 % of the examples the baseline got right wrong
    cand = [0.0 if b == 1.0 and rng.random() < 0.12 else b for b in base]
    c = paired_bootstrap("acc", base, cand, "higher", CompareSettings(tolerance=0.05), seed=1)
    assert c.verdict is Verdict.REGRESSION and c.ci_high is not None and c.ci_high < 0
    again = paired_bootstrap("acc", base, cand, "higher", CompareSettings(tolerance=0.05), seed=1)
    assert (again.ci_low, again.ci_high) == (c.ci_low, c.ci_high)
    same = paired_bootstrap("acc", base, base, "higher", CompareSettings(tolerance=0.05))
    assert same.verdict is Verdict.PASS and same.change == 0


def test_paired_bootstrap_needs_equal_lengths() -> None:
    c = paired_bootstrap("acc", [1.0] * 10, [1.0] * 9, "higher")
    assert c.verdict is Verdict.NOT_MEASURED and "same examples" in c.reason


def test_compare_with_stderr() -> None:
    # lm-eval style: 0.80 +- 0.004 vs 0.70 +- 0.004: a real 12.5 % drop
    c = compare_with_stderr("acc", 0.80, 0.004, 0.70, 0.004, "higher")
    assert c.verdict is Verdict.REGRESSION
    c = compare_with_stderr("acc", 0.80, 0.004, 0.801, 0.004, "higher")
    assert c.verdict is Verdict.PASS
    c = compare_with_stderr("acc", 0.80, 0.05, 0.78, 0.05, "higher")
    assert c.verdict is Verdict.INCONCLUSIVE


def test_look_schedule() -> None:
    assert look_schedule(5, 5, 12) == [5, 10, 12]
    with pytest.raises(ValueError):
        look_schedule(5, 5, 4)
