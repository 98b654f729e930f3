"""`mlgate scan PATH...`: find unsafe serialization without loading the model."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from mlgate.core.errors import ExitCode
from mlgate.options import format_option, output_option, policy_option

FORMATS = ("text", "json", "markdown", "sarif", "junit")
ENGINES = ("builtin", "modelscan", "all")
_HIDDEN_ALIASES = {"mlgate": "builtin", "both": "all"}  # earlier names, still accepted


if TYPE_CHECKING:  # click >= 8.2 makes Choice generic; 8.1 does not subscript at run time
    _ChoiceBase = click.Choice[str]
else:
    _ChoiceBase = click.Choice


class _EngineChoice(_ChoiceBase):
    """``builtin|modelscan|all`` in --help; the earlier ``mlgate``/``both`` still work."""

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        if isinstance(value, str):
            value = _HIDDEN_ALIASES.get(value.lower(), value)
        return str(super().convert(value, param, ctx))


@click.command("scan")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@format_option(FORMATS)
@output_option
@policy_option
@click.option(
    "--engine",
    type=_EngineChoice(ENGINES, case_sensitive=False),
    default="builtin",
    show_default=True,
    help="builtin: mlgate's own analysis; modelscan: modelscan as a second opinion; all: both, "
    "union of findings (each finding names its engine).",
)
@click.option("--jobs", "-j", "jobs", type=click.IntRange(min=1), default=None, metavar="N",
              help="Scan N files at once in worker processes (1: in this process). Default: "
              "one worker per CPU (at most 8) when two or more files are 64 MiB or larger, "
              "else in this process.")
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
    jobs: int | None,
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
    from mlgate.scan.engine import ENGINE_NAMES, scan_paths

    policy = load_policy(policy_spec)
    threshold = Severity.parse(fail_on if fail_on is not None else policy.scan.fail_on)
    shard = parse_shard(shard_spec) if shard_spec else None
    report = scan_paths(
        list(paths), policy=policy, engine=ENGINE_NAMES[str(engine).lower()],
        hash_files=not no_hash, shard=shard, jobs=jobs,
    )
    write_text(render(report, fmt.lower()), output)
    return int(ExitCode.FINDINGS if report.at_or_above(threshold) else ExitCode.OK)
