"""`mlgate decide` and `mlgate merge`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from mlgate.core.errors import InputError
from mlgate.core.findings import FileRecord, Report, merge_reports
from mlgate.core.jsonfile import read_json_bytes
from mlgate.options import format_option, output_option, policy_option

MAX_REPORT_BYTES = 512 * 1024 * 1024


def read_report_file(path: Path) -> tuple[Report, bytes]:
    """Read one JSON report; every problem is an InputError naming the file."""
    doc, data = read_json_bytes(path, what="report", max_bytes=MAX_REPORT_BYTES)
    if isinstance(doc, dict) and doc.get("bomFormat") == "CycloneDX":
        return _bom_report(doc, path), data
    try:
        return Report.from_json(doc), data
    except InputError as exc:
        raise InputError(f"{path}: {exc.message}", hint=exc.hint) from exc


def _bom_report(doc: dict[str, object], path: Path) -> Report:
    """A CycloneDX JSON BOM (``mlgate bom``) read as a report of kind ``bom``: its files."""
    files: list[FileRecord] = []
    comps = doc.get("components")
    for c in comps if isinstance(comps, list) else []:
        if not isinstance(c, dict) or c.get("type") != "file" or not isinstance(c.get("name"), str):
            continue
        hashes = c.get("hashes")
        sha = next((h["content"] for h in (hashes if isinstance(hashes, list) else [])
                    if isinstance(h, dict) and h.get("alg") == "SHA-256"
                    and isinstance(h.get("content"), str)), None)
        raw = c.get("properties")
        props = {p.get("name"): p.get("value") for p in (raw if isinstance(raw, list) else [])
                 if isinstance(p, dict)}
        size = str(props.get("mlgate:size", ""))
        ok = size.isascii() and size.isdigit() and len(size) < 19
        files.append(FileRecord(c["name"], int(size) if ok else 0, sha))
    return Report(kind="bom", target=str(path), files=tuple(files), evidence={"bom": str(path)})


def _read_reports(paths: Sequence[Path]) -> tuple[list[Report], dict[str, bytes]]:
    reports: list[Report] = []
    files: dict[str, bytes] = {}
    for p in paths:
        rep, data = read_report_file(p)
        reports.append(rep)
        files[p.name if p.name not in files else str(p)] = data
    return reports, files


@click.command()
@click.argument("reports", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--stage", default=None, help="Target stage (default: dev, or the policy's first stage).")
@click.option("--record", "record_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the decision record (in-toto Statement v1) to FILE.")
@policy_option
@format_option(["text", "json", "markdown", "junit"], default="text")
@output_option
def decide(
    reports: tuple[Path, ...],
    stage: str | None,
    record_path: Path | None,
    policy_spec: str | None,
    fmt: str,
    output: Path | None,
) -> int:
    """Turn REPORT.json files into promote / hold / reject (exit 0 promote, 1 hold or reject).

    With --output and no --format, the decision is written as JSON."""
    from mlgate.core.policy import load_policy
    from mlgate.decide.decision import decide as run_decide
    from mlgate.decide.record import build_record, dumps_record
    from mlgate.decide.view import render_markdown, render_text
    from mlgate.render import write_text

    ctx = click.get_current_context()
    if output is not None and ctx.get_parameter_source("fmt") is click.core.ParameterSource.DEFAULT:
        fmt = "json"  # a decision written to a file is for `mlgate publish`: JSON unless asked
    policy = load_policy(policy_spec)
    loaded, files = _read_reports(reports)
    decision = run_decide(loaded, policy, stage=stage)
    if record_path is not None:
        write_text(dumps_record(build_record(decision, loaded, evidence_files=files)), record_path)
    if fmt == "json":
        text = decision.dumps()
    elif fmt == "markdown":
        text = render_markdown(decision)
    elif fmt == "junit":
        from mlgate.render.junit import render_many

        text = render_many([decision.to_report(), *loaded])
    else:
        text = render_text(decision)
    write_text(text, output)
    return decision.exit_code


@click.command()
@click.argument("reports", nargs=-1, required=True, type=click.Path(path_type=Path))
@format_option(["json", "text", "markdown", "junit"], default="json")
@output_option
def merge(reports: tuple[Path, ...], fmt: str, output: Path | None) -> int:
    """Merge JSON reports of one kind from parallel jobs (e.g. scan shards) into one."""
    from mlgate.render import render, write_text

    loaded, _ = _read_reports(reports)
    merged = merge_reports(loaded)
    write_text(render(merged, fmt), output)
    return 0
