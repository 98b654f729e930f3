"""Options shared by every command: --format, --output, --policy."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def format_option(choices: Sequence[str], default: str = "text") -> Callable[[F], F]:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(choices), case_sensitive=False),
        default=default,
        show_default=True,
        help="Output format.",
    )


def output_option(f: F) -> F:
    return click.option(
        "--output",
        "-o",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Write to FILE instead of standard output.",
    )(f)


def policy_option(f: F) -> F:
    return click.option(
        "--policy",
        "policy_spec",
        default=None,
        metavar="FILE|PRESET",
        help="Policy file or preset (permissive, commercial-safe, research). "
        "Default: ./mlgate.yml if present, else commercial-safe.",
    )(f)
