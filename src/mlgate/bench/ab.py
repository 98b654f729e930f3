"""Same-job A/B: baseline and candidate commands interleaved on one machine.

Pairs of runs alternate their order (A B, B A, A B, ...), so a slow drift of the machine (heat,
clocks, a neighbour job starting) lands on both sides equally. With a budget (``max_repeat`` >
``repeat``) the judge looks after ``repeat``, ``2 x repeat``, ... pairs up to ``max_repeat``,
each look at ``alpha / number of looks`` (the sequential rule of ``mlgate.bench.stats``), and
stops as soon as no metric is inconclusive.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from mlgate.bench.runner import RunResult, RunSet, run_command_once
from mlgate.bench.stats import look_schedule
from mlgate.core.errors import UsageError


@dataclass(frozen=True)
class AbRuns:
    baseline: RunSet
    candidate: RunSet
    looks: tuple[int, ...]  # the planned looks, in pairs
    pairs: int  # measured pairs actually run
    order: tuple[str, ...]  # "A"/"B" in the order the measured runs happened


def pair_order(i: int) -> tuple[str, str]:
    """Order of pair ``i``: A B for even pairs, B A for odd ones."""
    return ("A", "B") if i % 2 == 0 else ("B", "A")


def run_ab(
    baseline_cmd: Sequence[str],
    candidate_cmd: Sequence[str],
    *,
    repeat: int,
    max_repeat: int | None = None,
    warmup: int = 0,
    timeout_s: float = 600.0,
    source: tuple[str, Path] | None = None,
    undecided: Callable[[AbRuns], bool] | None = None,
    on_run: Callable[[RunResult], None] | None = None,
) -> AbRuns:
    """Run ``warmup`` then ``repeat`` interleaved pairs; with a budget keep adding ``repeat``
    pairs while ``undecided(runs so far)`` says so, up to ``max_repeat`` pairs."""
    if not baseline_cmd or not candidate_cmd:
        raise UsageError("bench ab needs both --baseline-cmd and --candidate-cmd")
    if repeat < 1:
        raise UsageError("--repeat must be at least 1")
    if warmup < 0:
        raise UsageError("--warmup cannot be negative")
    budget = repeat if max_repeat is None else max_repeat
    if budget < repeat:
        raise UsageError("--max-repeat cannot be smaller than --repeat")
    looks = tuple(look_schedule(repeat, repeat, budget))
    cmds = {"A": tuple(baseline_cmd), "B": tuple(candidate_cmd)}
    roles = {"A": "baseline", "B": "candidate"}
    runs: dict[str, list[RunResult]] = {"A": [], "B": []}
    order: list[str] = []

    def one(side: str, is_warm: bool) -> None:
        r = run_command_once(cmds[side], index=len(runs[side]), warmup=is_warm,
                             timeout_s=timeout_s, source=source)
        r = replace(r, role=roles[side])
        runs[side].append(r)
        if not is_warm:
            order.append(side)
        if on_run is not None:
            on_run(r)

    def snapshot(pairs: int) -> AbRuns:
        return AbRuns(RunSet(cmds["A"], tuple(runs["A"])), RunSet(cmds["B"], tuple(runs["B"])),
                      looks, pairs, tuple(order))

    for i in range(warmup):
        for side in pair_order(i):
            one(side, True)
    done = 0
    for look in looks:
        while done < look:
            for side in pair_order(done):
                one(side, False)
            done += 1
        state = snapshot(done)
        if state.baseline.failures or state.candidate.failures:
            return state  # a broken command: more runs would not help
        if undecided is None or not undecided(state):
            return state
    return snapshot(done)
