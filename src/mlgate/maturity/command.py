"""`mlgate maturity`: check the health of upstream sources against the policy."""

from __future__ import annotations

from pathlib import Path

import click

from mlgate.options import format_option, output_option, policy_option


@click.command("maturity")
@click.argument("sources", nargs=-1)
@click.option("--model", "model_path", type=click.Path(path_type=Path), default=None,
              help="Model folder (or card file): derive sources from its model card when no "
              "SOURCES are given.")
@click.option("--bom", "bom", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CycloneDX JSON BOM (from `mlgate bom`): also check the repositories and Hub "
              "repos its components name (purls, vcs / website references).")
@click.option("--offline", is_flag=True, help="Do not call any API (each source is a finding).")
@format_option(["text", "json", "markdown", "sarif", "junit"])
@output_option
@policy_option
def maturity(sources: tuple[str, ...], model_path: Path | None, bom: Path | None, offline: bool,
             fmt: str, output: Path | None, policy_spec: str | None) -> int:
    """Check upstream SOURCES (github:owner/repo, gitlab:group/project, hf:org/name,
    hf:datasets/org/name or their URLs) against the maturity thresholds of the policy.

    Tokens: GITHUB_TOKEN / GH_TOKEN, GITLAB_TOKEN / CI_JOB_TOKEN, HF_TOKEN.
    Exit 1 when a finding reaches maturity.fail_on.
    """
    from mlgate.core.artifacts import require_model_path
    from mlgate.core.findings import Severity
    from mlgate.core.policy import load_policy
    from mlgate.maturity.check import check_maturity
    from mlgate.render import render, write_text

    if model_path is not None:
        require_model_path(model_path)
    pol = load_policy(policy_spec)
    report = check_maturity(list(sources), pol, offline=offline, model_path=model_path, bom=bom)
    write_text(render(report, fmt), output)
    threshold = Severity.parse(pol.maturity.fail_on)
    return 1 if report.at_or_above(threshold) else 0
