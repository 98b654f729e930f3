"""The `mlgate` command line. Thin: each command parses, calls one capability, renders.

Commands live with their capability and are imported only when invoked, so `mlgate --help`
and `mlgate --version` stay fast (no github/gitlab/cyclonedx/numpy import at start).
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

import click

from mlgate import __version__
from mlgate.core.errors import ExitCode, MlgateError

# command name -> ("module:attribute", one-line help shown by `mlgate --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "check": ("mlgate.check.command:check", "Run every gate on a model and decide (the main job)."),
    "scan": ("mlgate.scan.command:scan", "Find unsafe serialization without loading the model."),
    "bom": ("mlgate.bom.command:bom", "Write a CycloneDX 1.6 ML-BOM of a model folder."),
    "lock": ("mlgate.bom.command:lock", "Pin a model's revision and file hashes in mlgate.lock."),
    "verify": ("mlgate.bom.command:verify", "Check a model folder against mlgate.lock."),
    "fetch": ("mlgate.bom.command:fetch", "Download a locked model into a verified cache."),
    "license": ("mlgate.license.command:license_cmd", "Check model, data and dependency licenses."),
    "maturity": ("mlgate.maturity.command:maturity", "Check the health of upstream sources."),
    "bench": ("mlgate.bench.command:bench", "Run benchmarks and gate on regressions."),
    "decide": ("mlgate.decide.command:decide", "Turn reports into promote / hold / reject."),
    "merge": ("mlgate.decide.command:merge", "Merge reports from parallel jobs into one."),
    "publish": ("mlgate.platforms.command:publish", "Post a decision to GitHub or GitLab."),
    "release": ("mlgate.platforms.command:release", "Tag and release a promoted model."),
    "policy": ("mlgate.policy_command:policy", "Show the effective policy or export its JSON Schema."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module_name, attr = entry[0].split(":")
        module = importlib.import_module(module_name)
        cmd: click.Command = getattr(module, attr)
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # short help from the table: no import of every capability just to print --help
        rows = [(name, help_) for name, (_, help_) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="mlgate")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """mlgate: gate ML models through CI/CD like any other software artifact.

    Exit codes: 0 pass, 1 findings (reject/hold), 2 usage error, 3 tool error.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code (testable without a subprocess)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("MLGATE_DEBUG") == "1"
    try:
        rv: Any = cli.main(args=args, prog_name="mlgate", standalone_mode=False)
    except MlgateError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        click.echo(f"error: {exc.message}", err=True)
        if exc.hint:
            click.echo(f"hint: {exc.hint}", err=True)
        return int(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return ExitCode.USAGE if exc.exit_code == 2 else int(exc.exit_code)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except Exception as exc:  # the last line of defence: never a bare traceback
        if debug:
            raise
        click.echo(f"internal error: {type(exc).__name__}: {exc}", err=True)
        click.echo("hint: run with --debug for a traceback and report it", err=True)
        return int(ExitCode.TOOL)
    if isinstance(rv, int):
        return rv
    return int(ExitCode.OK)


def entrypoint() -> None:
    sys.exit(main())
