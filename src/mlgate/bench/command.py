"""``mlgate bench``: run benchmarks, compare, gate on real regressions, keep baselines.

    mlgate bench run --repeat 15 --warmup 2 --output results.json -- python bench.py
    mlgate bench compare --baseline base.json --candidate results.json --tolerance 5%
    mlgate bench gate results.json                       # the policy's bench section
    mlgate bench ab --baseline-cmd "python bench.py --old" --candidate-cmd "python bench.py"
    mlgate bench baseline update results.json --baseline .mlgate/baselines/
    mlgate bench device
"""

from __future__ import annotations

import json
import os
import shlex
import time
from pathlib import Path
from typing import Any

import click

from mlgate.core.errors import ExitCode, ToolError, UsageError
from mlgate.core.findings import Report, Severity
from mlgate.options import format_option, output_option, policy_option

REPORT_FORMATS = ["text", "json", "markdown", "sarif", "junit"]

_better_option = click.option(
    "--better", "--metric", "betters", multiple=True, metavar="NAME=lower|higher",
    help="Which direction is better for a metric (repeatable; NAME:lower also accepted).",
)
_tolerance_option = click.option(
    "--tolerance", default=None, help="Relative tolerance: 5% or 0.05 (default: the policy's)."
)
_from_option = click.option(
    "--from", "from_", nargs=2, type=(click.Choice(["pytest-benchmark", "lm-eval"]),
                                      click.Path(dir_okay=False, path_type=Path)),
    default=None, metavar="KIND FILE",
    help="Read metrics from FILE in this format (pytest-benchmark JSON, lm-evaluation-harness "
    "results) after each run; without a command, import FILE as one run.",
)


def _policy(ctx: click.Context, spec: str | None) -> Any:
    from mlgate.core.policy import load_policy

    group_spec = (ctx.find_root().obj or {}).get("bench_policy") if ctx.find_root().obj else None
    parent = ctx.parent.params.get("policy_spec") if ctx.parent is not None else None
    return load_policy(spec or parent or group_spec).bench


def _render(report: Report, fmt: str, output: Path | None) -> int:
    from mlgate.bench.gate import summary_table
    from mlgate.render import render, write_text

    text = render(report, fmt)
    if fmt == "text" and report.evidence.get("metrics"):
        text += summary_table(report.evidence["metrics"])
    write_text(text, output)
    return int(ExitCode.FINDINGS) if report.at_or_above(Severity.MEDIUM) else int(ExitCode.OK)


def _directions(specs: tuple[str, ...]) -> dict[str, str]:
    from mlgate.bench.gate import parse_metric_spec

    return dict(parse_metric_spec(s) for s in specs)


def _default_name(argv: list[str] | tuple[str, ...]) -> str:
    for arg in reversed(argv):
        if arg.endswith((".py", ".sh")):
            return Path(arg).stem
    return Path(argv[0]).name if argv else "bench"


def _split(text: str, option: str) -> list[str]:
    try:
        argv = shlex.split(text)
    except ValueError as exc:
        raise UsageError(f"cannot split {option}: {exc}") from exc
    if not argv:
        raise UsageError(f"empty {option}")
    return argv


def _location(raw: str | None, *, create: bool = False) -> Path | None:
    """A baseline path; one ending in a separator is a directory (created when writing)."""
    if raw is None or raw == "":
        return None
    path = Path(raw)
    if create and raw.endswith(("/", os.sep)) and not path.exists():
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ToolError(f"cannot create baseline directory {path}: {exc.strerror or exc}") from exc
    return path


def _progress(r: object) -> None:
    from mlgate.bench.runner import RunResult

    assert isinstance(r, RunResult)
    kind = "warm-up" if r.warmup else "run"
    role = f"{r.role} " if r.role else ""
    click.echo(f"bench: {role}{kind} {r.index + 1}: {r.status} ({r.duration_s:.2f} s)"
               + (f" {r.error}" if r.error else ""), err=True)


def _device_check(require_gpu: bool, allow_cpu: bool) -> tuple[Any, bool]:
    from mlgate.bench.device import probe_device

    device = probe_device()
    if require_gpu and not device.has_gpu:
        if not allow_cpu:
            raise ToolError(
                f"this benchmark requires a GPU and none was found ({device.gpu_status})",
                hint="run the job on a GPU runner (runs-on labels / tags), or pass --allow-cpu "
                "to measure on the CPU and mark the results CPU",
            )
        click.echo("bench: no GPU found; running on the CPU (--allow-cpu), results marked CPU",
                   err=True)
        return device, True
    return device, False


@click.group()
@policy_option
@click.pass_context
def bench(ctx: click.Context, policy_spec: str | None) -> None:
    """Run benchmarks and gate on statistically real regressions."""
    ctx.ensure_object(dict)
    ctx.obj["bench_policy"] = policy_spec


# ----------------------------------------------------------------------------- run


@bench.command("run", context_settings={"allow_interspersed_args": False})
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.option("--repeat", type=int, default=None, help="Measured runs (default: bench.runs, 10).")
@click.option("--warmup", type=int, default=None, help="Discarded warm-up runs (default 2).")
@click.option("--max-repeat", type=int, default=None,
              help="Budget: keep running (up to N runs) while a metric has too few samples or "
              "is too noisy (robust CV above bench.max_cv).")
@click.option("--time-budget", type=float, default=None, metavar="SECONDS",
              help="Stop the extra runs of --max-repeat after this many seconds.")
@click.option("--timeout", "timeout_s", type=float, default=None, help="Seconds per run.")
@click.option("--name", default=None, help="Benchmark name: the baseline key (default: from COMMAND).")
@_better_option
@_from_option
@click.option("--allow-cpu", is_flag=True, help="Run even when a required GPU is missing (marked CPU).")
@click.option("--require-gpu", is_flag=True, help="Fail when no GPU is found (or bench.require_gpu).")
@policy_option
@format_option(["json", "text"], default="json")
@output_option
@click.pass_context
def run_cmd(
    ctx: click.Context, command: tuple[str, ...], repeat: int | None, warmup: int | None,
    max_repeat: int | None, time_budget: float | None, timeout_s: float | None, name: str | None,
    betters: tuple[str, ...], from_: tuple[str, Path] | None, allow_cpu: bool, require_gpu: bool,
    policy_spec: str | None, fmt: str, output: Path | None,
) -> int:
    """Run COMMAND (after --) with warm-ups and repetitions and write a results file.

    Metrics come from the last JSON line of stdout, the file in $MLGATE_BENCH_OUTPUT, or
    --from pytest-benchmark|lm-eval FILE. Exit 1 when a measured run failed."""
    from mlgate.bench.baseline import results_from_runs
    from mlgate.bench.runner import import_file, run_benchmark
    from mlgate.bench.stats import summarize

    policy = _policy(ctx, policy_spec)
    directions = _directions(betters)
    argv = list(command)
    if not argv and from_ is None:
        raise UsageError("nothing to run", hint="mlgate bench run [options] -- python bench.py")
    device, gpu_missing = _device_check(require_gpu or policy.require_gpu, allow_cpu)
    if argv:
        min_runs, max_cv = policy.min_runs, policy.max_cv
        start = time.monotonic()

        def keep_going(rs: Any) -> bool:
            if time_budget is not None and time.monotonic() - start > time_budget:
                return False
            samples = rs.samples()
            if not samples:
                return not rs.failures
            return any(len(v) < min_runs or summarize(v).robust_cv > max_cv
                       for v in samples.values())

        runset = run_benchmark(
            argv,
            runs=repeat if repeat is not None else policy.runs,
            warmup=warmup if warmup is not None else policy.warmup,
            timeout_s=timeout_s if timeout_s is not None else policy.timeout_s,
            on_run=_progress, source=from_, max_runs=max_repeat, keep_going=keep_going,
        )
        bench_name = name or _default_name(argv)
    else:
        assert from_ is not None
        runset = import_file(*from_)
        bench_name = name or from_[1].stem
    units = {k: m.unit for k, m in policy.metrics.items() if m.unit}
    policy_dirs = {k: m.better for k, m in policy.metrics.items() if m.better}
    res = results_from_runs(bench_name, runset, device, {**policy_dirs, **directions}, units)
    if gpu_missing:
        from dataclasses import replace

        res = replace(res, gpu_missing=True)
    unknown = sorted(k for k, m in res.metrics.items() if m.better is None)
    if unknown:
        click.echo(f"bench: direction unknown for {', '.join(unknown)}: give --better NAME="
                   "lower|higher (or the policy) before comparing; it is never guessed", err=True)
    from mlgate.render import write_text

    if fmt == "json":
        write_text(res.dumps(), output)
    else:
        lines = [f"{bench_name} on {device.label()} [{device.fingerprint}]"]
        for k, m in res.metrics.items():
            s = summarize(m.samples)
            lines.append(f"  {k}: median {s.median:.6g}{' ' + m.unit if m.unit else ''} over {s.n} "
                         f"sample(s), robust CV {s.robust_cv:.1%}, better: {m.better or 'unknown'}"
                         + (f" ({m.note})" if m.note else ""))
        lines.append(f"  runs: {len(runset.measured)} measured, {len(runset.failures)} failed")
        write_text("\n".join(lines) + "\n", output)
    return int(ExitCode.FINDINGS) if runset.failures or not res.metrics else int(ExitCode.OK)


# ----------------------------------------------------------------------------- compare / gate


@bench.command("compare")
@click.option("--baseline", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Baseline results file.")
@click.option("--candidate", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Candidate results file (from bench run).")
@_better_option
@_tolerance_option
@policy_option
@format_option(REPORT_FORMATS)
@output_option
@click.pass_context
def compare_cmd(
    ctx: click.Context, baseline: Path, candidate: Path, betters: tuple[str, ...],
    tolerance: str | None, policy_spec: str | None, fmt: str, output: Path | None,
) -> int:
    """Compare two results files. Exit 0 when every metric passes or improves, 1 otherwise."""
    from mlgate.bench.baseline import read_results
    from mlgate.bench.gate import GateOptions, gate, parse_tolerance

    policy = _policy(ctx, policy_spec)
    options = GateOptions(
        directions=_directions(betters),
        tolerance=parse_tolerance(tolerance) if tolerance is not None else None,
        baseline_source=str(baseline),
    )
    report = gate(read_results(candidate), read_results(baseline), policy, options)
    return _render(report, fmt, output)


@bench.command("gate")
@click.argument("results", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--baseline", "baseline_arg", default=None, metavar="FILE|DIR/",
              help="Baseline file or directory (default: bench.baseline in the policy).")
@_better_option
@_tolerance_option
@policy_option
@format_option(REPORT_FORMATS)
@output_option
@click.pass_context
def gate_cmd(
    ctx: click.Context, results: Path, baseline_arg: str | None, betters: tuple[str, ...],
    tolerance: str | None, policy_spec: str | None, fmt: str, output: Path | None,
) -> int:
    """Judge RESULTS by the policy's bench section (metrics, gates, baseline location)."""
    from mlgate.bench.baseline import load_baseline, read_results
    from mlgate.bench.gate import GateOptions, gate, parse_tolerance

    policy = _policy(ctx, policy_spec)
    cand = read_results(results)
    location = _location(baseline_arg if baseline_arg is not None else policy.baseline)
    base = load_baseline(location, cand.name, cand.device.fingerprint) if location else None
    options = GateOptions(
        directions=_directions(betters),
        tolerance=parse_tolerance(tolerance) if tolerance is not None else None,
        baseline_source=str(location) if location else "",
    )
    return _render(gate(cand, base, policy, options), fmt, output)


# ----------------------------------------------------------------------------- ab


@bench.command("ab")
@click.option("--baseline-cmd", required=True, metavar="CMD", help="The baseline command (A).")
@click.option("--candidate-cmd", required=True, metavar="CMD", help="The candidate command (B).")
@click.option("--repeat", type=int, default=None, help="Interleaved pairs (default: bench.runs).")
@click.option("--max-repeat", type=int, default=None,
              help="Budget in pairs: while a metric is inconclusive, add --repeat more pairs "
              "(sequential rule, alpha split over the planned looks).")
@click.option("--warmup", type=int, default=None, help="Warm-up pairs (default: bench.warmup).")
@click.option("--timeout", "timeout_s", type=float, default=None, help="Seconds per run.")
@click.option("--name", default=None, help="Benchmark name (default: from the candidate command).")
@_better_option
@_tolerance_option
@_from_option
@click.option("--results-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write baseline.json and candidate.json results files here.")
@click.option("--allow-cpu", is_flag=True, help="Run even when a required GPU is missing.")
@click.option("--require-gpu", is_flag=True, help="Fail when no GPU is found (or bench.require_gpu).")
@policy_option
@format_option(REPORT_FORMATS)
@output_option
@click.pass_context
def ab_cmd(
    ctx: click.Context, baseline_cmd: str, candidate_cmd: str, repeat: int | None,
    max_repeat: int | None, warmup: int | None, timeout_s: float | None, name: str | None,
    betters: tuple[str, ...], tolerance: str | None, from_: tuple[str, Path] | None,
    results_dir: Path | None, allow_cpu: bool, require_gpu: bool, policy_spec: str | None,
    fmt: str, output: Path | None,
) -> int:
    """Run baseline and candidate interleaved (A B, B A, ...) in this job and compare them."""
    from dataclasses import replace

    from mlgate.bench.ab import AbRuns, run_ab
    from mlgate.bench.baseline import BenchResults, results_from_runs
    from mlgate.bench.gate import GateOptions, gate, parse_tolerance

    policy = _policy(ctx, policy_spec)
    a_argv = _split(baseline_cmd, "--baseline-cmd")
    b_argv = _split(candidate_cmd, "--candidate-cmd")
    directions = _directions(betters)
    options = GateOptions(
        directions=directions,
        tolerance=parse_tolerance(tolerance) if tolerance is not None else None,
        baseline_source="same job (bench ab)",
    )
    device, gpu_missing = _device_check(require_gpu or policy.require_gpu, allow_cpu)
    bench_name = name or _default_name(b_argv)
    reps = repeat if repeat is not None else policy.runs
    units = {k: m.unit for k, m in policy.metrics.items() if m.unit}
    dirs = {**{k: m.better for k, m in policy.metrics.items() if m.better}, **directions}

    def build(state: AbRuns) -> tuple[BenchResults, BenchResults]:
        base = results_from_runs(bench_name, state.baseline, device, dirs, units)
        cand = results_from_runs(bench_name, state.candidate, device, dirs, units)
        return base, replace(cand, gpu_missing=gpu_missing)

    def judge(state: AbRuns) -> Report:
        look_policy = policy.model_copy(update={"alpha": policy.alpha / len(state.looks)})
        base, cand = build(state)
        return gate(cand, base, look_policy, options)

    def undecided(state: AbRuns) -> bool:
        rows = judge(state).evidence.get("metrics") or []
        return any(r.get("verdict") == "inconclusive" for r in rows)

    state = run_ab(
        a_argv, b_argv, repeat=reps, max_repeat=max_repeat,
        warmup=warmup if warmup is not None else policy.warmup,
        timeout_s=timeout_s if timeout_s is not None else policy.timeout_s,
        source=from_, undecided=undecided, on_run=_progress,
    )
    report = judge(state)
    base, cand = build(state)
    if results_dir is not None:
        from mlgate.render import write_text

        write_text(base.dumps(), results_dir / "baseline.json")
        write_text(cand.dumps(), results_dir / "candidate.json")
    evidence = {**report.evidence, "ab": {
        "pairs": state.pairs, "planned_looks": list(state.looks),
        "alpha_per_look": policy.alpha / len(state.looks),
        "order": "".join(state.order),
        "commands": {"baseline": a_argv, "candidate": b_argv},
    }}
    report = Report(kind="bench", target=report.target, findings=report.findings,
                    evidence=evidence, complete=report.complete)
    return _render(report, fmt, output)


# ----------------------------------------------------------------------------- baselines


@bench.group("baseline")
def baseline_group() -> None:
    """Manage stored baselines (written only from trusted default-branch runs)."""


@baseline_group.command("update")
@click.argument("results", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--baseline", "baseline_arg", default=None, metavar="FILE|DIR/",
              help="Where to store it (default: bench.baseline in the policy).")
@policy_option
@format_option(["text", "json"])
@output_option
@click.pass_context
def baseline_update_cmd(
    ctx: click.Context, results: Path, baseline_arg: str | None, policy_spec: str | None,
    fmt: str, output: Path | None,
) -> int:
    """Store RESULTS as the baseline. Refused on pull/merge requests and off the default branch."""
    from mlgate.bench.baseline import read_results, save_baseline, untrusted_context
    from mlgate.render import write_text

    policy = _policy(ctx, policy_spec)
    raw = baseline_arg if baseline_arg is not None else policy.baseline
    if not raw:
        raise UsageError("no baseline location", hint="give --baseline FILE|DIR/ or bench.baseline")
    why = untrusted_context(os.environ)
    if why is not None:  # before touching the disk, even to create a directory
        raise UsageError(
            f"refusing to update the baseline from an untrusted run ({why})",
            hint="update baselines only from trusted runs on the default branch (a push or "
            "scheduled pipeline on it), never from pull or merge requests",
        )
    res = read_results(results)
    location = _location(raw, create=True)
    assert location is not None
    path = save_baseline(location, res, os.environ)
    info = {"baseline": str(path), "name": res.name, "device": res.device.fingerprint,
            "metrics": sorted(res.metrics)}
    write_text(json.dumps(info, indent=2) + "\n" if fmt == "json"
               else f"baseline for {res.name!r} on {res.device.label()} stored at {path}\n", output)
    return 0


# ----------------------------------------------------------------------------- device


@bench.command("device")
@format_option(["json", "text"], default="json")
@output_option
def device_cmd(fmt: str, output: Path | None) -> int:
    """Print this machine's device fingerprint."""
    from mlgate.bench.device import probe_device
    from mlgate.render import write_text

    d = probe_device()
    if fmt == "json":
        write_text(json.dumps(d.to_json(), indent=2) + "\n", output)
    else:
        lines = [f"device: {d.label()} [{d.fingerprint}]", f"gpu status: {d.gpu_status}"
                 + (f" (via {d.gpu_source})" if d.gpu_source else "")]
        lines += [f"gpu {i}: {g.name}, {g.memory_total_mib} MiB, driver {g.driver_version or '-'}"
                  for i, g in enumerate(d.gpus)]
        lines += [f"cuda: {d.cuda_version or '-'}", f"cpu: {d.cpu_model} ({d.cpu_cores} cores)",
                  f"python: {d.python}",
                  "frameworks: " + (", ".join(f"{k} {v}" for k, v in d.frameworks.items()) or "-"),
                  "runner: " + (", ".join(f"{k}={v}" for k, v in d.runner.items()) or "-")]
        write_text("\n".join(lines) + "\n", output)
    return 0
