"""`mlgate scan PATH...`: find unsafe serialization without loading the model."""

from __future__ import annotations

from pathlib import Path

import click

from mlgate.core.errors import ExitCode
from mlgate.options import format_option, output_option, policy_option

FORMATS = ("text", "json", "markdown", "sarif", "junit")
ENGINE_ALIASES = {"builtin": "mlgate", "all": "both"}


@click.command("scan")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@format_option(FORMATS)
@output_option
@policy_option
@click.option(
    "--engine",
    type=click.Choice(["mlgate", "modelscan", "both", "builtin", "all"], case_sensitive=False),
    default="mlgate",
    show_default=True,
    help="mlgate's own analysis, modelscan as a second opinion, or both (union of findings). "
    "'builtin' and 'all' are aliases of 'mlgate' and 'both'.",
)
@click.option("--shard", "shard_spec", default=None, metavar="I/N",
              help="Scan only shard I of N (files balanced by size); merge the reports with "
              "`mlgate merge`.")
@click.option("--no-hash", "no_hash", is_flag=True, help="Do not compute sha256 of every file.")
@click.option("--fail-on", "fail_on", default=None, metavar="SEVERITY",
              help="Lowest severity that fails the scan (overrides scan.fail_on in the policy; "
              "info, low, medium, high, critical).")
def scan(
    paths: tuple[Path, ...],
    fmt: str,
    output: Path | None,
    policy_spec: str | None,
    engine: str,
    shard_spec: str | None,
    no_hash: bool,
    fail_on: str | None,
) -> int:
    """Scan model files and folders without loading them.

    Exit codes: 0 no finding at or above the fail-on severity, 1 findings, 2 usage error,
    3 tool error.
    """
    from mlgate.core.artifacts import parse_shard
    from mlgate.core.findings import Severity
    from mlgate.core.policy import load_policy
    from mlgate.render import render, write_text
    from mlgate.scan.engine import scan_paths

    policy = load_policy(policy_spec)
    threshold = Severity.parse(fail_on if fail_on is not None else policy.scan.fail_on)
    shard = parse_shard(shard_spec) if shard_spec else None
    engine = ENGINE_ALIASES.get(engine.lower(), engine.lower())
    report = scan_paths(
        list(paths), policy=policy, engine=engine, hash_files=not no_hash, shard=shard
    )
    write_text(render(report, fmt.lower()), output)
    return int(ExitCode.FINDINGS if report.at_or_above(threshold) else ExitCode.OK)
