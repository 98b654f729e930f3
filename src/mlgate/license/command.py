"""`mlgate license`: check model, dataset and dependency licenses against the policy."""

from __future__ import annotations

from pathlib import Path

import click

from mlgate.core.findings import Severity
from mlgate.options import format_option, output_option, policy_option


@click.command("license")
@click.argument("path", type=click.Path(path_type=Path))
@policy_option
@format_option(["text", "json", "markdown", "sarif", "junit"])
@output_option
@click.option("--offline/--online", default=True, show_default=True,
              help="--online looks up dataset licenses on the Hub (HF_ENDPOINT, HF_TOKEN).")
@click.option("--data-cards", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder with dataset cards as DIR/<org>/<name>/README.md (offline).")
@click.option("--bom", "bom", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CycloneDX JSON BOM (from `mlgate bom`): check its Python dependencies too.")
def license_cmd(path: Path, policy_spec: str | None, fmt: str, output: Path | None,
                offline: bool, data_cards: Path | None, bom: Path | None) -> int:
    """Find the licenses of the model at PATH, its datasets and dependencies; apply the policy.

    Exit 1 when a finding is medium or worse (denied, not allowed, unknown under
    `unknown: fail`, conflicting statements).
    """
    from mlgate.core.policy import load_policy
    from mlgate.license.check import check_licenses
    from mlgate.render import render, write_text

    policy = load_policy(policy_spec)
    report = check_licenses(path, policy, offline=offline, data_cards=data_cards, bom=bom)
    write_text(render(report, fmt), output)
    return 1 if report.at_or_above(Severity.MEDIUM) else 0
