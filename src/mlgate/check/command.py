"""The `mlgate check` command: parse, call :func:`mlgate.check.run.run_check`, render."""

from __future__ import annotations

import json
from pathlib import Path

import click

from mlgate.options import format_option, output_option, policy_option


@click.command("check")
@click.argument("path", type=click.Path(path_type=Path, exists=False))
@policy_option
@click.option("--stage", default=None, help="Policy stage to decide for (e.g. staging, production).")
@click.option(
    "--offline/--online",
    default=True,
    show_default=True,
    help="Offline (the default) runs every step that needs no network and lists the others as "
    "skipped; --online also checks upstream maturity and online license data.",
)
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("mlgate-out"),
    show_default=True,
    help="Folder for scan.json, bom.cdx.json, license.json, maturity.json, decision.json, "
    "report.sarif, the decision record and summary.md.",
)
@format_option(["text", "json", "markdown"])
@output_option
@click.option("--shard", default=None, metavar="I/N", help="Scan only shard I of N (merge later).")
@click.option("--no-maturity", "no_maturity", is_flag=True, help="Skip the maturity step.")
@click.option("--publish", is_flag=True, help="In CI, post the decision (check run / MR note).")
@click.option(
    "--engine",
    type=click.Choice(["builtin", "modelscan", "all", "mlgate", "both"]),
    default="builtin",
    show_default=True,
    help="Scan engine: builtin (mlgate's own analysis), modelscan, or all (both).",
)
@click.option("--bench-results", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="FILE", help="Results of `mlgate bench run` (e.g. from a GPU job), gated by "
              "the policy's bench section and its baseline.")
@click.option("--report", "extra_reports", type=click.Path(dir_okay=False, path_type=Path),
              multiple=True, metavar="FILE",
              help="A report made by another job (bench.json, maturity.json...) to include in "
              "the decision; repeatable.")
def check(
    path: Path,
    policy_spec: str | None,
    stage: str | None,
    offline: bool,
    out_dir: Path,
    fmt: str,
    output: Path | None,
    shard: str | None,
    no_maturity: bool,
    publish: bool,
    engine: str,
    bench_results: Path | None,
    extra_reports: tuple[Path, ...],
) -> int:
    """Run every gate on the model at PATH under one policy and decide.

    Exit code 0: promote. 1: hold or reject. 2: usage error. 3: tool error.
    """
    from mlgate.check.run import CheckOptions, parse_shard, render_text, run_check
    from mlgate.render import write_text

    opts = CheckOptions(
        path=path,
        policy_spec=policy_spec,
        stage=stage,
        offline=offline,
        out_dir=out_dir,
        shard=parse_shard(shard),
        maturity=not no_maturity,
        publish=publish,
        engine={"builtin": "mlgate", "all": "both"}.get(engine, engine),
        bench_results=bench_results,
        extra_reports=tuple(extra_reports),
    )
    result = run_check(opts)
    if fmt == "json":
        text = json.dumps(result.to_json(), indent=2) + "\n"
    elif fmt == "markdown":
        text = result.summary_md
    else:
        text = render_text(result)
    write_text(text, output)
    return result.exit_code
