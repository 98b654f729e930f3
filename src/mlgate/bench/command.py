"""``mlgate bench``: run a benchmark, compare with a baseline, gate on real regressions.

    mlgate bench --command "python examples/bench/run.py" --runs 10 --warmup 2 \\
        --baseline .mlgate/baselines/ --metric latency_ms:lower --metric throughput:higher
    mlgate bench compare --baseline base.json --candidate results.json --tolerance 5%
    mlgate bench device
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import click

from mlgate.core.errors import ExitCode, ToolError, UsageError
from mlgate.core.findings import Report, Severity
from mlgate.options import format_option, output_option, policy_option

FORMATS = ["text", "json", "markdown", "sarif", "junit"]


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


def _default_name(argv: list[str]) -> str:
    for arg in reversed(argv):
        if arg.endswith((".py", ".sh")):
            return Path(arg).stem
    return Path(argv[0]).name if argv else "bench"


def _baseline_location(raw: str | None) -> Path | None:
    """A path; one ending in a separator is a directory (created if missing)."""
    if raw is None:
        return None
    path = Path(raw)
    if raw.endswith(("/", os.sep)) and not path.exists():
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ToolError(f"cannot create baseline directory {path}: {exc.strerror or exc}") from exc
    return path


@click.group(invoke_without_command=True)
@click.option("--command", "command", default=None, metavar="CMD",
              help="Benchmark command (split like a shell would, but run without one).")
@click.option("--name", default=None, help="Benchmark name: the baseline key (default: from CMD).")
@click.option("--runs", type=int, default=None, help="Measured runs (default: bench.runs, 10).")
@click.option("--warmup", type=int, default=None, help="Discarded warm-up runs (default 2).")
@click.option("--timeout", "timeout_s", type=float, default=None, help="Seconds per run.")
@click.option("--baseline", "baseline_arg", default=None, metavar="FILE|DIR/",
              help="Baseline file, or directory (existing, or ending in /) of "
              "<name>-<device>.json baselines.")
@click.option("--update-baseline", is_flag=True,
              help="Store this run as the baseline (refused on pull/merge requests).")
@click.option("--metric", "--better", "metrics", multiple=True, metavar="NAME:lower|higher",
              help="Gate this metric with this direction (repeatable).")
@click.option("--tolerance", default=None, help="Relative tolerance, e.g. 5% or 0.05.")
@click.option("--results", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the raw results (every run, samples, device) to this file.")
@click.option("--allow-cpu", is_flag=True, help="Run even when a required GPU is missing.")
@click.option("--require-gpu", is_flag=True, help="Fail when no GPU is found (or bench.require_gpu).")
@policy_option
@format_option(FORMATS)
@output_option
@click.pass_context
def bench(
    ctx: click.Context, command: str | None, name: str | None, runs: int | None,
    warmup: int | None, timeout_s: float | None, baseline_arg: str | None, update_baseline: bool,
    metrics: tuple[str, ...], tolerance: str | None, results: Path | None, allow_cpu: bool,
    require_gpu: bool, policy_spec: str | None, fmt: str, output: Path | None,
) -> int:
    """Run a benchmark command N times and gate on statistically real regressions."""
    if ctx.invoked_subcommand is not None:
        return 0
    if command is None:
        raise UsageError("nothing to run", hint='give --command "python bench.py" or a subcommand')
    from mlgate.bench.baseline import load_baseline, results_from_runs, save_baseline
    from mlgate.bench.device import probe_device
    from mlgate.bench.gate import GateOptions, gate, gated_metrics, parse_tolerance
    from mlgate.bench.runner import run_benchmark
    from mlgate.core.policy import load_policy

    policy = load_policy(policy_spec).bench
    baseline = _baseline_location(baseline_arg)
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise UsageError(f"cannot split --command: {exc}") from exc
    if not argv:
        raise UsageError("empty --command")
    if update_baseline and baseline is None:
        raise UsageError("--update-baseline needs --baseline FILE|DIR")
    directions = _directions(metrics)
    tol = parse_tolerance(tolerance) if tolerance is not None else None
    device = probe_device()
    gpu_missing = False
    if (require_gpu or policy.require_gpu) and not device.has_gpu:
        if not allow_cpu:
            raise ToolError(
                f"this benchmark requires a GPU and none was found ({device.gpu_status})",
                hint="run the job on a GPU runner, or pass --allow-cpu to measure on the CPU",
            )
        gpu_missing = True
    bench_name = name or _default_name(argv)

    def progress(r: object) -> None:
        from mlgate.bench.runner import RunResult

        assert isinstance(r, RunResult)
        kind = "warm-up" if r.warmup else "run"
        click.echo(f"bench: {kind} {r.index + 1}: {r.status} ({r.duration_s:.2f} s)"
                   + (f" {r.error}" if r.error else ""), err=True)

    runset = run_benchmark(
        argv,
        runs=runs if runs is not None else policy.runs,
        warmup=warmup if warmup is not None else policy.warmup,
        timeout_s=timeout_s if timeout_s is not None else policy.timeout_s,
        on_run=progress,
    )
    units = {k: m.unit for k, m in policy.metrics.items() if m.unit}
    policy_dirs = {k: m.better for k, m in policy.metrics.items() if m.better}
    res = results_from_runs(bench_name, runset, device, {**policy_dirs, **directions}, units)
    options = GateOptions(directions=directions, tolerance=tol,
                          baseline_source=str(baseline) if baseline else "", gpu_missing=gpu_missing)
    if results is not None:
        from mlgate.render import write_text

        write_text(res.dumps(), results)
    if update_baseline:
        assert baseline is not None
        gated_metrics(res, policy, options)  # every gated metric needs a direction
        path = save_baseline(baseline, res, os.environ)
        click.echo(f"bench: baseline stored at {path}", err=True)
        report = gate(res, None, policy, options, record_only=True)
        report = Report(kind="bench", target=res.name, findings=report.findings,
                        evidence={**report.evidence, "baseline_updated": str(path)})
        return _render(report, fmt, output)
    base = load_baseline(baseline, bench_name, device.fingerprint) if baseline else None
    report = gate(res, base, policy, options)
    return _render(report, fmt, output)


@bench.command("compare")
@click.option("--baseline", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Baseline results file.")
@click.option("--candidate", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Candidate results file (from --results).")
@click.option("--metric", "--better", "metrics", multiple=True, metavar="NAME:lower|higher")
@click.option("--tolerance", default=None, help="Relative tolerance, e.g. 5% or 0.05.")
@policy_option
@format_option(FORMATS)
@output_option
def compare_cmd(
    baseline: Path, candidate: Path, metrics: tuple[str, ...], tolerance: str | None,
    policy_spec: str | None, fmt: str, output: Path | None,
) -> int:
    """Compare two results files (no benchmark is run)."""
    from mlgate.bench.baseline import read_results
    from mlgate.bench.gate import GateOptions, gate, parse_tolerance
    from mlgate.core.policy import load_policy

    policy = load_policy(policy_spec).bench
    options = GateOptions(
        directions=_directions(metrics),
        tolerance=parse_tolerance(tolerance) if tolerance is not None else None,
        baseline_source=str(baseline),
    )
    report = gate(read_results(candidate), read_results(baseline), policy, options)
    return _render(report, fmt, output)


@bench.command("device")
@output_option
def device_cmd(output: Path | None) -> int:
    """Print this machine's device fingerprint as JSON."""
    from mlgate.bench.device import probe_device
    from mlgate.render import write_text

    write_text(json.dumps(probe_device().to_json(), indent=2) + "\n", output)
    return 0
