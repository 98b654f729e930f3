"""Tell a real regression from runner noise (standard library only).

Per metric the comparison works on the log of the values (a ratio scale: "10 % slower" means
the same thing at 2 ms and at 200 ms) and uses rank statistics, which shrug off the occasional
outlier a shared CI runner produces:

* the estimated change is the Hodges-Lehmann shift (median of all candidate-minus-baseline
  pairwise differences), reported as a relative change ``exp(shift) - 1``;
* its confidence interval is the distribution-free Moses interval that belongs to the
  Mann-Whitney test (exact null distribution for small untied samples, normal approximation
  with tie correction otherwise);
* the two-sided Mann-Whitney p-value is reported alongside.

A verdict needs both: a **regression** is a change whose interval excludes zero (it is real) and
whose estimate is beyond the tolerance (it matters); a **pass** needs the interval to rule out a
change larger than ``pass_margin`` x tolerance in the bad direction; an **improvement** mirrors a
regression. Anything else (too few samples, too much noise, an interval too wide to rule out a
large change) is **inconclusive**, with the reason.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Literal

Better = Literal["lower", "higher"]

# Thin very large samples to this many order statistics before the pairwise step (memory bound).
MAX_SAMPLES_PER_SIDE = 1000
EXACT_LIMIT = 50  # exact Mann-Whitney null distribution up to this many samples per side


class Verdict(str, Enum):
    PASS = "pass"  # noqa: S105 - a verdict, not a password
    REGRESSION = "regression"
    IMPROVEMENT = "improvement"
    INCONCLUSIVE = "inconclusive"
    NOT_MEASURED = "not measured"


@dataclass(frozen=True)
class CompareSettings:
    """How strict a comparison is. ``tolerance`` is relative (0.05 = 5 %); ``alpha`` is the
    two-sided error rate of the interval (0.01 -> a 99 % interval)."""

    tolerance: float = 0.05
    alpha: float = 0.01
    pass_margin: float = 2.0
    min_samples: int = 5
    max_cv: float = 0.30
    bootstrap_resamples: int = 0  # 0: no bootstrap interval in the evidence
    seed: int = 0


@dataclass(frozen=True)
class Summary:
    n: int
    median: float
    mad: float
    robust_cv: float
    minimum: float
    maximum: float

    def to_json(self) -> dict[str, float | int | None]:
        return {
            "n": self.n,
            "median": _num(self.median),
            "mad": _num(self.mad),
            "robust_cv": _num(self.robust_cv),
            "min": _num(self.minimum),
            "max": _num(self.maximum),
        }


@dataclass(frozen=True)
class Comparison:
    """The result for one metric. ``change`` and the interval are relative (0.1 = +10 %) in the
    metric's own direction of numbers (candidate vs baseline), whatever "better" is."""

    metric: str
    better: Better
    verdict: Verdict
    reason: str
    baseline: Summary | None = None
    candidate: Summary | None = None
    change: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    tolerance: float = 0.05
    scale: str = "log"
    extra: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "metric": self.metric,
            "better": self.better,
            "verdict": self.verdict.value,
            "reason": self.reason,
            "baseline": self.baseline.to_json() if self.baseline else None,
            "candidate": self.candidate.to_json() if self.candidate else None,
            "change": _num(self.change),
            "ci": [_num(self.ci_low), _num(self.ci_high)] if self.ci_low is not None else None,
            "p_value": _num(self.p_value),
            "tolerance": self.tolerance,
            "scale": self.scale,
            **({"extra": {k: _num(v) for k, v in self.extra.items()}} if self.extra else {}),
        }


def _num(value: float | None) -> float | None:
    """JSON-safe number: non-finite values (an unbounded interval) become null."""
    return value if value is not None and math.isfinite(value) else None


# ----------------------------------------------------------------------------- descriptive


def summarize(values: Sequence[float]) -> Summary:
    if not values:
        raise ValueError("no values")
    med = statistics.median(values)
    mad = statistics.median([abs(v - med) for v in values])
    cv = (1.4826 * mad / abs(med)) if med != 0 else math.inf
    return Summary(len(values), med, mad, cv, min(values), max(values))


def _ranks(values: Sequence[float]) -> tuple[list[float], list[int]]:
    """Mid-ranks (1-based) and the sizes of tie groups."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    ties: list[int] = []
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        mid = (i + j) / 2 + 1
        for k in range(i, j + 1):
            ranks[order[k]] = mid
        if j > i:
            ties.append(j - i + 1)
        i = j + 1
    return ranks, ties


# ----------------------------------------------------------------------------- Mann-Whitney


def _u_counts(n: int, m: int) -> list[int]:
    """Number of arrangements giving each U = 0..n*m under H0 (coefficients of the Gaussian
    binomial coefficient [n+m choose n]_q)."""
    size = n * m + 1
    poly = [0] * size
    poly[0] = 1
    for i in range(1, n + 1):
        # multiply by (1 - q^(m+i)), then divide by (1 - q^i)
        step = m + i
        for k in range(size - 1, step - 1, -1):
            poly[k] -= poly[k - step]
        for k in range(i, size):
            poly[k] += poly[k - i]
    return poly


def _u_cdf(n: int, m: int) -> list[float]:
    counts = _u_counts(n, m)
    total = math.comb(n + m, n)
    out: list[float] = []
    acc = 0
    for c in counts:
        acc += c
        out.append(acc / total)
    return out


def _norm_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def mann_whitney_u(
    x: Sequence[float], y: Sequence[float], *, method: str = "auto"
) -> tuple[float, float]:
    """Two-sided Mann-Whitney U test. Returns (U of ``x``, p-value).

    ``method``: "exact" (no ties required for an exact answer), "asymptotic" (normal
    approximation with tie and continuity correction) or "auto" (exact when both samples are
    at most EXACT_LIMIT long and untied)."""
    n, m = len(x), len(y)
    if n == 0 or m == 0:
        raise ValueError("both samples need at least one value")
    ranks, ties = _ranks([*x, *y])
    r1 = sum(ranks[:n])
    u1 = r1 - n * (n + 1) / 2
    u2 = n * m - u1
    if method == "auto":
        method = "exact" if (max(n, m) <= EXACT_LIMIT and not ties) else "asymptotic"
    if method == "exact":
        cdf = _u_cdf(n, m)
        k = math.floor(max(u1, u2) + 1e-9)
        # P(U >= k) = 1 - P(U <= k-1)
        upper = 1.0 - cdf[k - 1] if k >= 1 else 1.0
        return u1, min(1.0, 2.0 * upper)
    if method != "asymptotic":
        raise ValueError(f"unknown method {method!r}")
    big_n = n + m
    tie_term = sum(t**3 - t for t in ties)
    var = n * m / 12.0 * ((big_n + 1) - tie_term / (big_n * (big_n - 1)))
    if var <= 0:
        return u1, 1.0
    z = (max(u1, u2) - n * m / 2.0 - 0.5) / math.sqrt(var)
    return u1, min(1.0, 2.0 * _norm_sf(z))


def _norm_ppf(p: float) -> float:
    return statistics.NormalDist().inv_cdf(p)


def _moses_k(n: int, m: int, alpha: float, tied: bool) -> int:
    """Number of pairwise differences to trim from each end for a (1-alpha) interval
    (0: the sample is too small for that confidence)."""
    if not tied and max(n, m) <= EXACT_LIMIT:
        cdf = _u_cdf(n, m)
        k = 0
        # largest k with P(U <= k-1) <= alpha/2
        while k < len(cdf) and cdf[k] <= alpha / 2:
            k += 1
        return k
    z = _norm_ppf(1 - alpha / 2)
    k = math.floor(n * m / 2 - z * math.sqrt(n * m * (n + m + 1) / 12.0))
    return max(k, 0)


def hodges_lehmann(
    x: Sequence[float], y: Sequence[float], alpha: float
) -> tuple[float, float, float]:
    """Shift estimate of ``y`` relative to ``x`` and its Moses (1-alpha) interval.
    The interval is (-inf, inf) when the samples are too small for that confidence."""
    diffs = sorted(b - a for a in x for b in y)
    est = statistics.median(diffs)
    tied = len(set(x) | set(y)) < len(x) + len(y)
    k = _moses_k(len(x), len(y), alpha, tied)
    if k < 1:
        return est, -math.inf, math.inf
    return est, diffs[k - 1], diffs[len(diffs) - k]


def bootstrap_median_ratio_ci(
    x: Sequence[float], y: Sequence[float], *, alpha: float, resamples: int, seed: int
) -> tuple[float, float]:
    """Percentile bootstrap interval of median(y)/median(x) - 1 (seeded, deterministic)."""
    rng = random.Random(seed)  # noqa: S311 - reproducible resampling, not security
    ratios: list[float] = []
    for _ in range(resamples):
        bx = statistics.median(rng.choices(x, k=len(x)))
        by = statistics.median(rng.choices(y, k=len(y)))
        if bx == 0:
            continue
        ratios.append(by / bx - 1)
    if not ratios:
        return -math.inf, math.inf
    ratios.sort()
    lo = ratios[max(0, math.floor(alpha / 2 * len(ratios)))]
    hi = ratios[min(len(ratios) - 1, math.ceil((1 - alpha / 2) * len(ratios)) - 1)]
    return lo, hi


def _thin(values: Sequence[float]) -> list[float]:
    s = sorted(values)
    if len(s) <= MAX_SAMPLES_PER_SIDE:
        return s
    step = (len(s) - 1) / (MAX_SAMPLES_PER_SIDE - 1)
    return [s[round(i * step)] for i in range(MAX_SAMPLES_PER_SIDE)]


# ----------------------------------------------------------------------------- the verdict


def compare(
    metric: str,
    baseline: Sequence[float],
    candidate: Sequence[float],
    better: Better,
    settings: CompareSettings | None = None,
) -> Comparison:
    """Compare two samples of one metric and return a verdict with its reason."""
    cfg = settings or CompareSettings()
    tol = cfg.tolerance
    base = [float(v) for v in baseline if math.isfinite(float(v))]
    cand = [float(v) for v in candidate if math.isfinite(float(v))]
    dropped = (len(baseline) - len(base)) + (len(candidate) - len(cand))
    if dropped:
        return Comparison(
            metric, better, Verdict.NOT_MEASURED,
            f"{dropped} sample(s) are not finite numbers (NaN/inf): the measurement is broken",
            tolerance=tol,
        )
    if not base or not cand:
        side = "baseline" if not base else "candidate"
        return Comparison(metric, better, Verdict.NOT_MEASURED, f"no {side} samples", tolerance=tol)
    sb, sc = summarize(base), summarize(cand)
    if len(base) < cfg.min_samples or len(cand) < cfg.min_samples:
        return Comparison(
            metric, better, Verdict.INCONCLUSIVE,
            f"too few samples (baseline {len(base)}, candidate {len(cand)}; "
            f"at least {cfg.min_samples} per side are needed)",
            sb, sc, tolerance=tol,
        )
    positive = all(v > 0 for v in base) and all(v > 0 for v in cand)
    if not positive and sb.median == 0:
        return Comparison(
            metric, better, Verdict.NOT_MEASURED,
            "values are not all positive and the baseline median is 0: "
            "a relative change is undefined",
            sb, sc, tolerance=tol,
        )
    noisy = [name for name, s in (("baseline", sb), ("candidate", sc)) if s.robust_cv > cfg.max_cv]
    if noisy:
        return Comparison(
            metric, better, Verdict.INCONCLUSIVE,
            f"too noisy: robust CV of {' and '.join(noisy)} above {cfg.max_cv:.0%} "
            f"(baseline {sb.robust_cv:.1%}, candidate {sc.robust_cv:.1%})",
            sb, sc, tolerance=tol,
        )
    if positive:
        scale = "log"
        tb = _thin([math.log(v) for v in base])
        tc = _thin([math.log(v) for v in cand])

        def to_rel(d: float) -> float:
            if not math.isfinite(d):
                return d
            return math.inf if d > 700 else math.expm1(d)
    else:
        scale = "linear"
        denom = abs(sb.median)
        tb = _thin(base)
        tc = _thin(cand)

        def to_rel(d: float) -> float:
            return d / denom

    est, lo, hi = hodges_lehmann(tb, tc, cfg.alpha)
    _, p = mann_whitney_u(tb, tc)
    change, ci_low, ci_high = to_rel(est), to_rel(lo), to_rel(hi)
    # "worse" orientation: positive = the candidate is worse
    if better == "lower":
        worse, worse_lo, worse_hi = change, ci_low, ci_high
    else:
        worse, worse_lo, worse_hi = -change, -ci_high, -ci_low
    extra: dict[str, float] = {}
    if cfg.bootstrap_resamples > 0:
        blo, bhi = bootstrap_median_ratio_ci(
            base, cand, alpha=cfg.alpha, resamples=cfg.bootstrap_resamples, seed=cfg.seed
        )
        extra = {"bootstrap_ci_low": blo, "bootstrap_ci_high": bhi}
    pct = f"{change:+.1%}"
    ci_txt = f"[{ci_low:+.1%}, {ci_high:+.1%}]" if math.isfinite(lo) else "unbounded"
    conf = f"{1 - cfg.alpha:.0%}"
    common = dict(
        baseline=sb, candidate=sc, change=change, ci_low=ci_low, ci_high=ci_high,
        p_value=p, tolerance=tol, scale=scale, extra=extra,
    )
    if worse_lo > 0 and worse > tol:
        return Comparison(
            metric, better, Verdict.REGRESSION,
            f"{pct} ({conf} CI {ci_txt}) is a real change beyond the {tol:.1%} tolerance",
            **common,  # type: ignore[arg-type]
        )
    if worse_hi < 0 and -worse > tol:
        return Comparison(
            metric, better, Verdict.IMPROVEMENT,
            f"{pct} ({conf} CI {ci_txt}) is a real improvement beyond the {tol:.1%} tolerance",
            **common,  # type: ignore[arg-type]
        )
    limit = cfg.pass_margin * tol
    if worse <= tol and worse_hi < limit:
        return Comparison(
            metric, better, Verdict.PASS,
            f"{pct} ({conf} CI {ci_txt}) rules out a worsening of {limit:.1%} or more",
            **common,  # type: ignore[arg-type]
        )
    return Comparison(
        metric, better, Verdict.INCONCLUSIVE,
        f"{pct} ({conf} CI {ci_txt}): the data can neither show a real regression beyond "
        f"{tol:.1%} nor rule out one of {limit:.1%}; take more samples",
        **common,  # type: ignore[arg-type]
    )


def sequential_compare(
    metric: str,
    draw: Callable[[int], tuple[Sequence[float], Sequence[float]]],
    better: Better,
    settings: CompareSettings | None = None,
    *,
    start: int = 15,
    step: int = 15,
    max_samples: int = 150,
) -> tuple[Comparison, int]:
    """Keep sampling until the verdict is not inconclusive or the budget is spent.

    ``draw(k)`` returns k more baseline and k more candidate samples (interleaved A/B runs).
    The looks are planned in advance (``start``, ``start + step``, ... ``max_samples`` per side)
    and each uses ``alpha / number_of_looks`` (a Bonferroni split), so looking repeatedly does
    not inflate the false-alarm rate beyond ``alpha``. Returns the verdict and the samples per
    side it took."""
    cfg = settings or CompareSettings()
    if start < 1 or step < 1 or max_samples < start:
        raise ValueError("need 1 <= start <= max_samples and step >= 1")
    looks = list(range(start, max_samples + 1, step))
    if looks[-1] != max_samples:
        looks.append(max_samples)
    per_look = replace(cfg, alpha=cfg.alpha / len(looks))
    base: list[float] = []
    cand: list[float] = []
    result: Comparison | None = None
    for n in looks:
        more_b, more_c = draw(n - len(base))
        base.extend(more_b)
        cand.extend(more_c)
        result = compare(metric, base, cand, better, per_look)
        if result.verdict is not Verdict.INCONCLUSIVE:
            return result, len(base)
    assert result is not None
    return result, len(base)
