"""Statistical quality of the bench gate, measured by simulation (prints Markdown tables).

Synthetic runner noise: log-normal latency around 10 ms with a spread of 5 % or 15 % (sigma of
the log), plus an occasional slow outlier (2 % of samples are 1.5x slower). Baseline and
candidate get 15 samples each; the candidate is slower by the true regression. Tolerance 5 %.

For each case the table gives how often the gate says regression / pass / inconclusive, next to
a fixed-ratio rule on the mean (alarm when mean(candidate) / mean(baseline) > threshold), the
rule most continuous-benchmark actions use. Then the sequential rule with a sample budget.

Usage: python benchmarks/gate_power.py [--trials 1000] [--seed 1]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time

from mlgate.bench.stats import CompareSettings, Verdict, compare, sequential_compare

TOLERANCE = 0.05
SAMPLES = 15
CHANGES = (0.0, 0.02, 0.05, 0.10, 0.20)
SPREADS = (0.05, 0.15)
RATIOS = (1.10, 2.00)


def noise(rng: random.Random, n: int, spread: float, change: float) -> list[float]:
    out = []
    for _ in range(n):
        v = 10.0 * math.exp(rng.gauss(0.0, spread)) * (1.0 + change)
        if rng.random() < 0.02:
            v *= 1.5
        out.append(v)
    return out


def fixed_n_table(trials: int, seed: int) -> list[str]:
    settings = CompareSettings(tolerance=TOLERANCE)
    head = ("| spread | true change | regression | pass | inconclusive | improvement | "
            + " | ".join(f"ratio>{r:.0%} alarm" for r in RATIOS) + " |")
    lines = [head, "|" + "---|" * (6 + len(RATIOS))]
    for spread in SPREADS:
        for change in CHANGES:
            counts = {v: 0 for v in Verdict}
            alarms = dict.fromkeys(RATIOS, 0)
            for t in range(trials):
                rng = random.Random(seed * 1_000_003 + t)
                base = noise(rng, SAMPLES, spread, 0.0)
                cand = noise(rng, SAMPLES, spread, change)
                counts[compare("latency_ms", base, cand, "lower", settings).verdict] += 1
                ratio = statistics.fmean(cand) / statistics.fmean(base)
                for r in RATIOS:
                    alarms[r] += ratio > r
            pct = {k: f"{100 * v / trials:.1f} %" for k, v in counts.items()}
            lines.append(
                f"| {spread:.0%} | {change:+.0%} | {pct[Verdict.REGRESSION]} | {pct[Verdict.PASS]} | "
                f"{pct[Verdict.INCONCLUSIVE]} | {pct[Verdict.IMPROVEMENT]} | "
                + " | ".join(f"{100 * alarms[r] / trials:.1f} %" for r in RATIOS) + " |"
            )
    return lines


def sequential_table(trials: int, seed: int, budget: int) -> list[str]:
    settings = CompareSettings(tolerance=TOLERANCE)
    lines = [
        "| spread | true change | right verdict | wrong verdict | still inconclusive | "
        "median samples/side | 95th pct samples/side |",
        "|---|---|---|---|---|---|---|",
    ]
    for spread in SPREADS:
        for change, right in ((0.0, Verdict.PASS), (0.10, Verdict.REGRESSION)):
            ok = wrong = undecided = 0
            used: list[int] = []
            for t in range(trials):
                rng = random.Random(seed * 7_000_001 + t)

                def draw(
                    k: int, rng: random.Random = rng, spread: float = spread, change: float = change
                ) -> tuple[list[float], list[float]]:
                    return noise(rng, k, spread, 0.0), noise(rng, k, spread, change)

                c, n = sequential_compare("latency_ms", draw, "lower", settings,
                                          start=SAMPLES, step=SAMPLES, max_samples=budget)
                used.append(n)
                if c.verdict is right:
                    ok += 1
                elif c.verdict is Verdict.INCONCLUSIVE:
                    undecided += 1
                else:
                    wrong += 1
            used.sort()
            lines.append(
                f"| {spread:.0%} | {change:+.0%} | {100 * ok / trials:.1f} % | "
                f"{100 * wrong / trials:.1f} % | "
                f"{100 * undecided / trials:.1f} % | {used[len(used) // 2]} | "
                f"{used[min(len(used) - 1, int(0.95 * len(used)))]} |"
            )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--budget", type=int, default=150, help="max samples per side (sequential)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    print(f"## Fixed sample: {SAMPLES} per side, tolerance {TOLERANCE:.0%}, alpha 0.01, "
          f"{args.trials} trials per row\n")
    print("\n".join(fixed_n_table(args.trials, args.seed)))
    print(f"\n## Sequential rule: looks every {SAMPLES} samples per side up to {args.budget}, "
          f"alpha split over the looks\n")
    print("\n".join(sequential_table(max(100, args.trials // 2), args.seed, args.budget)))
    print(f"\n({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
