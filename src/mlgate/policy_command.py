"""`mlgate policy`: validate a policy, show it resolved, or print its JSON Schema."""

from __future__ import annotations

import click

from mlgate.core.policy import json_schema, load_policy
from mlgate.options import policy_option


@click.group()
def policy() -> None:
    """Work with mlgate.yml policies."""


@policy.command("schema")
def schema() -> int:
    """Print the JSON Schema of mlgate.yml (for editors and CI validation)."""
    click.echo(json_schema(), nl=False)
    return 0


@policy.command("show")
@policy_option
def show(policy_spec: str | None) -> int:
    """Validate a policy and print it resolved (presets and `extends` applied) as YAML."""
    import yaml

    pol = load_policy(policy_spec)
    click.echo(f"# source: {pol.source}")
    click.echo(yaml.safe_dump(pol.model_dump(mode="json", exclude={"source"}), sort_keys=False))
    return 0
