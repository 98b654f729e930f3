"""Renderers: one module per output format, found through one registry.

A renderer is a callable ``(Report) -> str``. Capabilities with their own document formats
(e.g. the CycloneDX BOM) render those themselves; everything that is a Report goes through here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from mlgate.core.errors import ToolError, UsageError
from mlgate.core.findings import Report

Renderer = Callable[[Report], str]

# format name -> "module:function", imported only when used (keeps `mlgate --help` fast)
REGISTRY: dict[str, str] = {
    "text": "mlgate.render.text:render",
    "json": "mlgate.render.json:render",
    "markdown": "mlgate.render.markdown:render",
    "sarif": "mlgate.render.sarif:render",
    "junit": "mlgate.render.junit:render",
}


def get_renderer(fmt: str) -> Renderer:
    try:
        target = REGISTRY[fmt]
    except KeyError as exc:
        raise UsageError(f"unknown format {fmt!r}", hint=f"formats: {', '.join(REGISTRY)}") from exc
    module_name, attr = target.split(":")
    fn: Renderer = getattr(importlib.import_module(module_name), attr)
    return fn


def render(report: Report, fmt: str) -> str:
    return get_renderer(fmt)(report)


def write_text(text: str, output: Path | None) -> None:
    """Write to ``output`` (atomically: temp file then rename) or to stdout."""
    if output is None:
        import click

        click.echo(text, nl=not text.endswith("\n"))
        return
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        tmp = output.with_name(output.name + ".tmp")
        tmp.write_text(text, encoding="utf-8", errors="backslashreplace")  # non-UTF-8 paths
        tmp.replace(output)
    except OSError as exc:
        raise ToolError(f"cannot write {output}: {exc.strerror or exc}") from exc
