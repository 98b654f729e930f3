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


def look_schedule(start: int, step: int, max_samples: int) -> list[int]:
    """The planned looks of the sequential rule (``start``, ``start + step``, ...,
    ``max_samples``). Each look uses ``alpha / len(looks)``."""
    if start < 1 or step < 1 or max_samples < start:
        raise ValueError("need 1 <= start <= max_samples and step >= 1")
    looks = list(range(start, max_samples + 1, step))
    if looks[-1] != max_samples:
        looks.append(max_samples)
    return looks


# ----------------------------------------------------------------------------- shared verdict


def _judge(
    metric: str, better: Better, change: float, lo: float, hi: float, cfg: CompareSettings,
    *, what: str, **common: object,
) -> Comparison:
    """The verdict rule shared by every estimator: significance and magnitude."""
    tol = cfg.tolerance
    if better == "lower":
        worse, worse_lo, worse_hi = change, lo, hi
    else:
        worse, worse_lo, worse_hi = -change, -hi, -lo
    conf = f"{1 - cfg.alpha:.0%}"
    ci_txt = f"[{lo:+.1%}, {hi:+.1%}]" if math.isfinite(lo) and math.isfinite(hi) else "unbounded"
    head = f"{change:+.1%} ({what}, {conf} CI {ci_txt})"
    limit = cfg.pass_margin * tol
    if worse_lo > 0 and worse > tol:
        verdict, reason = Verdict.REGRESSION, f"{head} is a real change beyond the {tol:.1%} tolerance"
    elif worse_hi < 0 and -worse > tol:
        verdict, reason = (Verdict.IMPROVEMENT,
                           f"{head} is a real improvement beyond the {tol:.1%} tolerance")
    elif worse <= tol and worse_hi < limit:
        verdict, reason = Verdict.PASS, f"{head} rules out a worsening of {limit:.1%} or more"
    else:
        verdict, reason = (
            Verdict.INCONCLUSIVE,
            f"{head}: the data can neither show a real regression beyond {tol:.1%} nor rule out "
            f"one of {limit:.1%}; take more samples",
        )
    return Comparison(metric, better, verdict, reason, change=change, ci_low=lo, ci_high=hi,
                      tolerance=tol, **common)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- paired bootstrap


def paired_bootstrap(
    metric: str,
    baseline: Sequence[float],
    candidate: Sequence[float],
    better: Better,
    settings: CompareSettings | None = None,
    *,
    resamples: int = 2000,
    seed: int = 0,
) -> Comparison:
    """Per-example quality scores (example i of the baseline and of the candidate are the same
    input): a seeded percentile bootstrap of the mean per-example difference. The change is
    relative to the baseline mean (absolute when that mean is 0)."""
    cfg = settings or CompareSettings()
    tol = cfg.tolerance
    base = [float(v) for v in baseline]
    cand = [float(v) for v in candidate]
    if not all(math.isfinite(v) for v in (*base, *cand)):
        return Comparison(metric, better, Verdict.NOT_MEASURED,
                          "per-example scores contain NaN/inf", tolerance=tol, scale="paired")
    if not base or not cand:
        side = "baseline" if not base else "candidate"
        return Comparison(metric, better, Verdict.NOT_MEASURED, f"no {side} scores",
                          tolerance=tol, scale="paired")
    if len(base) != len(cand):
        return Comparison(
            metric, better, Verdict.NOT_MEASURED,
            f"paired scores need the same examples on both sides (baseline {len(base)}, "
            f"candidate {len(cand)})", tolerance=tol, scale="paired",
        )
    sb, sc = summarize(base), summarize(cand)
    if len(base) < cfg.min_samples:
        return Comparison(metric, better, Verdict.INCONCLUSIVE,
                          f"too few examples ({len(base)}; at least {cfg.min_samples} are needed)",
                          sb, sc, tolerance=tol, scale="paired")
    diffs = [c - b for b, c in zip(base, cand, strict=True)]
    n = len(diffs)
    mean_base = math.fsum(base) / n
    denom = abs(mean_base) if mean_base != 0 else 1.0
    mean_diff = math.fsum(diffs) / n
    rng = random.Random(seed)  # noqa: S311 - reproducible resampling, not security
    boots = sorted(math.fsum(rng.choices(diffs, k=n)) / n for _ in range(max(100, resamples)))
    lo = boots[max(0, math.floor(cfg.alpha / 2 * len(boots)))]
    hi = boots[min(len(boots) - 1, math.ceil((1 - cfg.alpha / 2) * len(boots)) - 1)]
    return _judge(
        metric, better, mean_diff / denom, lo / denom, hi / denom, cfg,
        what=f"paired bootstrap over {n} examples",
        baseline=sb, candidate=sc, scale="paired",
        extra={"mean_difference": mean_diff, "baseline_mean": mean_base,
               "candidate_mean": math.fsum(cand) / n},
    )


def compare_with_stderr(
    metric: str,
    baseline: float,
    baseline_se: float,
    candidate: float,
    candidate_se: float,
    better: Better,
    settings: CompareSettings | None = None,
) -> Comparison:
    """One value per side with its standard error (e.g. lm-evaluation-harness accuracy and
    ``acc_stderr``): a normal interval on the difference, relative to the baseline."""
    cfg = settings or CompareSettings()
    if baseline == 0 or not all(math.isfinite(v) for v in (baseline, candidate, baseline_se,
                                                             candidate_se)):
        return Comparison(metric, better, Verdict.NOT_MEASURED,
                          "value or standard error missing, not finite, or a zero baseline",
                          tolerance=cfg.tolerance, scale="stderr")
    z = _norm_ppf(1 - cfg.alpha / 2)
    se = math.hypot(baseline_se, candidate_se) / abs(baseline)
    change = (candidate - baseline) / abs(baseline)
    return _judge(
        metric, better, change, change - z * se, change + z * se, cfg,
        what="normal interval from the reported standard errors",
        baseline=summarize([baseline]), candidate=summarize([candidate]), scale="stderr",
        extra={"baseline_stderr": baseline_se, "candidate_stderr": candidate_se},
    )


# ----------------------------------------------------------------------------- tail quantiles


def _binom_pmfs(n: int, p: float) -> list[float]:
    """P(X = i) for X ~ Binomial(n, p), i = 0..n (log space, no overflow)."""
    if p <= 0 or p >= 1:
        raise ValueError("p must be strictly between 0 and 1")
    lp, lq = math.log(p), math.log1p(-p)
    lg = math.lgamma(n + 1)
    return [math.exp(lg - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * lp + (n - i) * lq)
            for i in range(n + 1)]


def binom_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    return min(1.0, math.fsum(_binom_pmfs(n, p)[: k + 1]))


def quantile_upper_rank(n: int, q: float, confidence: float) -> int | None:
    """The smallest k (1-based) such that P(Binomial(n, q) < k) >= confidence: the k-th
    smallest of n samples is then an upper confidence bound for the q-quantile (MLPerf-style
    early stopping). None when even the largest sample is not enough."""
    acc = 0.0
    for k, pmf in enumerate(_binom_pmfs(n, q)[:n], start=1):
        acc += pmf  # P(X <= k - 1)
        if acc >= confidence:
            return k
    return None


def quantile_lower_rank(n: int, q: float, confidence: float) -> int | None:
    """The largest j such that P(Binomial(n, q) >= j) >= confidence: the j-th smallest sample is
    then a lower confidence bound for the q-quantile. None when the smallest is not enough."""
    pmfs = _binom_pmfs(n, q)
    tail = 0.0
    for j in range(n, 0, -1):
        tail += pmfs[j]  # P(X >= j)
        if tail >= confidence:
            return j
    return None


def samples_needed(q: float, confidence: float) -> int:
    """Fewest samples for which an upper bound of the q-quantile exists: 1 - q**n >= conf."""
    n = max(1, math.ceil(math.log1p(-confidence) / math.log(q)))
    while 1 - q**n < confidence:
        n += 1
    while n > 1 and 1 - q ** (n - 1) >= confidence:
        n -= 1
    return n


@dataclass(frozen=True)
class QuantileCheck:
    """``pQQ(metric) <= limit`` (or ``>=``) judged with order-statistic confidence bounds."""

    metric: str
    quantile: float
    op: str
    limit: float
    confidence: float
    verdict: Verdict
    reason: str
    n: int
    sample_quantile: float | None = None
    upper: float | None = None
    lower: float | None = None
    needed: int | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "metric": self.metric, "quantile": self.quantile, "op": self.op, "limit": self.limit,
            "confidence": self.confidence, "verdict": self.verdict.value, "reason": self.reason,
            "n": self.n, "sample_quantile": _num(self.sample_quantile),
            "upper_bound": _num(self.upper), "lower_bound": _num(self.lower),
            "samples_needed": self.needed,
        }


def quantile_check(
    metric: str, samples: Sequence[float], quantile: float, op: str, limit: float,
    confidence: float = 0.95,
) -> QuantileCheck:
    """A tail limit on the q-quantile. ``<=``: pass when the upper confidence bound is within the
    limit, fail when even the lower bound is above it, else inconclusive. ``>=`` mirrors it.
    Too few samples for a bound is inconclusive, with the number needed."""
    if not 0 < quantile < 1:
        raise ValueError("quantile must be strictly between 0 and 1")
    if op not in ("<=", ">="):
        raise ValueError(f"unknown comparison {op!r}")
    vals = sorted(float(v) for v in samples)
    label = f"p{quantile * 100:g}({metric}) {op} {limit:g}"
    if not vals:
        return QuantileCheck(metric, quantile, op, limit, confidence, Verdict.NOT_MEASURED,
                             f"{label}: no samples", 0)
    if not all(math.isfinite(v) for v in vals):
        return QuantileCheck(metric, quantile, op, limit, confidence, Verdict.NOT_MEASURED,
                             f"{label}: samples contain NaN/inf", len(vals))
    n = len(vals)
    raw = vals[min(n - 1, max(0, math.ceil(quantile * n) - 1))]
    up_k = quantile_upper_rank(n, quantile, confidence)
    lo_k = quantile_lower_rank(n, quantile, confidence)
    upper = vals[up_k - 1] if up_k else None
    lower = vals[lo_k - 1] if lo_k else None
    # the side that would prove the limit is met
    deciding, needed = (upper, samples_needed(quantile, confidence)) if op == "<=" else (
        lower, samples_needed(1 - quantile, confidence))
    conf = f"{confidence:.0%}"
    common = dict(n=n, sample_quantile=raw, upper=upper, lower=lower)
    if op == "<=":
        if upper is not None and upper <= limit:
            return QuantileCheck(metric, quantile, op, limit, confidence, Verdict.PASS,
                                 f"{label}: {conf} upper bound {upper:.6g} is within the limit "
                                 f"(sample value {raw:.6g}, n={n})", **common)  # type: ignore[arg-type]
        if lower is not None and lower > limit:
            return QuantileCheck(metric, quantile, op, limit, confidence, Verdict.REGRESSION,
                                 f"{label}: even the {conf} lower bound {lower:.6g} is above the "
                                 f"limit (sample value {raw:.6g}, n={n})", **common)  # type: ignore[arg-type]
    else:
        if lower is not None and lower >= limit:
            return QuantileCheck(metric, quantile, op, limit, confidence, Verdict.PASS,
                                 f"{label}: {conf} lower bound {lower:.6g} meets the limit "
                                 f"(sample value {raw:.6g}, n={n})", **common)  # type: ignore[arg-type]
        if upper is not None and upper < limit:
            return QuantileCheck(metric, quantile, op, limit, confidence, Verdict.REGRESSION,
                                 f"{label}: even the {conf} upper bound {upper:.6g} is below the "
                                 f"limit (sample value {raw:.6g}, n={n})", **common)  # type: ignore[arg-type]
    if deciding is None:
        return QuantileCheck(
            metric, quantile, op, limit, confidence, Verdict.INCONCLUSIVE,
            f"{label}: not enough samples for a {conf} bound ({n}; at least {needed} needed; "
            f"sample value {raw:.6g})", needed=needed, **common,  # type: ignore[arg-type]
        )
    return QuantileCheck(
        metric, quantile, op, limit, confidence, Verdict.INCONCLUSIVE,
        f"{label}: the {conf} bounds [{_fmtb(lower)}, {_fmtb(upper)}] contain the limit; "
        f"take more samples (sample value {raw:.6g}, n={n})", **common,  # type: ignore[arg-type]
    )


def _fmtb(v: float | None) -> str:
    return "-" if v is None else f"{v:.6g}"
