"""`mlgate bom`, `mlgate lock`, `mlgate verify`, `mlgate fetch`: thin commands."""

from __future__ import annotations

from pathlib import Path

import click

from mlgate.core.errors import UsageError
from mlgate.options import format_option, output_option

REPORT_FORMATS = ("text", "json", "markdown", "sarif", "junit")


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@format_option(["cyclonedx-json", "json", "cyclonedx-xml"], default="cyclonedx-json")
@output_option
@click.option("--spec-version", type=click.Choice(["1.6"]), default="1.6", show_default=True,
              help="CycloneDX specification version (only 1.6).")
@click.option("--model-version", "model_version", default=None, help="Version of the model.")
@click.option("--hf-repo", default=None, metavar="ORG/NAME",
              help="The Hub repo the folder came from (gives a pkg:huggingface purl).")
@click.option("--revision", default=None, help="The Hub commit the folder came from.")
@click.option("--mlflow-model", default=None, metavar="NAME",
              help="Registered MLflow model name (gives a pkg:mlflow purl).")
@click.option("--mlflow-version", default=None, metavar="N",
              help="Version of the registered MLflow model.")
@click.option("--mlflow-uri", default=None, metavar="URL",
              help="MLflow registry URL (purl repository_url; credentials are dropped).")
@click.option("--env", "include_env", is_flag=True,
              help="Add versions and licenses of the libraries installed in this environment.")
def bom(path: Path, fmt: str, output: Path | None, spec_version: str,
        model_version: str | None, hf_repo: str | None, revision: str | None,
        mlflow_model: str | None, mlflow_version: str | None, mlflow_uri: str | None,
        include_env: bool) -> int:
    """Write a CycloneDX 1.6 ML-BOM of the model at PATH (validated before it is written)."""
    from mlgate.bom.build import build_bom
    from mlgate.bom.mlflow import MlflowRef
    from mlgate.render import write_text

    mlflow = None
    if mlflow_model is not None:
        if not mlflow_version:
            raise UsageError("--mlflow-model needs --mlflow-version",
                             hint="pass the registry's model version, e.g. --mlflow-version 3")
        mlflow = MlflowRef(mlflow_model, mlflow_version, mlflow_uri or "")
    elif mlflow_version or mlflow_uri:
        raise UsageError("--mlflow-version and --mlflow-uri need --mlflow-model NAME")
    text = build_bom(path, version=model_version, hf_repo=hf_repo, revision=revision,
                     include_env=include_env, mlflow=mlflow, fmt=fmt)
    write_text(text, output)
    return 0


@click.command()
@click.argument("target")
@format_option(["json"], default="json")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("mlgate.lock"), show_default=True, help="Where to write the lock.")
def lock(target: str, fmt: str, output: Path) -> int:
    """Pin TARGET (a model folder, or hf:org/name[@revision]) in a lockfile."""
    from mlgate.bom.lock import lock_folder
    from mlgate.render import write_text

    if target.startswith("hf:"):
        from mlgate.bom.fetch import lock_hub, parse_hf_ref

        repo, rev = parse_hf_ref(target)
        result = lock_hub(repo, rev)
    else:
        result = lock_folder(Path(target))
    write_text(result.to_text(), output)
    if str(output) != "-":
        click.echo(f"locked {len(result.files)} files -> {output}", err=True)
    return 0


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--lock", "lock_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Lockfile (default: PATH/mlgate.lock, else ./mlgate.lock).")
@format_option(REPORT_FORMATS)
@output_option
def verify(path: Path, lock_path: Path | None, fmt: str, output: Path | None) -> int:
    """Check a model folder against its lockfile (exit 1 on any difference)."""
    from mlgate.bom.lock import LOCK_NAME, verify_lock
    from mlgate.render import render, write_text

    if lock_path is None:
        for cand in (path / LOCK_NAME, Path(LOCK_NAME)):
            if cand.is_file():
                lock_path = cand
                break
        else:
            raise UsageError("no mlgate.lock found", hint="pass --lock FILE or run `mlgate lock`")
    report = verify_lock(path, lock_path)
    write_text(render(report, fmt), output)
    return 1 if report.findings else 0


@click.command()
@click.option("--lock", "lock_path", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("mlgate.lock"), show_default=True, help="Lockfile to fetch.")
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Content-addressed cache (default: $MLGATE_CACHE, else "
              "$MLGATE_CACHE_DIR/blobs, else $XDG_CACHE_HOME/mlgate/blobs, "
                   "else ~/.cache/mlgate/blobs).")
@click.option("--dest", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also assemble the model folder here (files copied from the cache).")
@format_option(REPORT_FORMATS)
@output_option
def fetch(lock_path: Path, cache_dir: Path | None, dest: Path | None, fmt: str,
          output: Path | None) -> int:
    """Download a locked Hub model at its pinned revision and verify every byte."""
    from mlgate.bom.fetch import default_cache, fetch_locked
    from mlgate.bom.lock import read_lock
    from mlgate.render import render, write_text

    report = fetch_locked(read_lock(lock_path), cache_dir or default_cache(), dest=dest)
    write_text(render(report, fmt), output)
    return 1 if report.findings else 0
