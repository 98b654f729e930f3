"""`mlgate publish` and `mlgate release`."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from mlgate.core.errors import InputError, ToolError, UsageError
from mlgate.core.jsonfile import read_json
from mlgate.decide.decision import Decision, canonical_json, sha256_hex
from mlgate.options import format_option, output_option
from mlgate.platforms.base import Platform, PublishResult, ReleaseAsset

SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)
NAME = re.compile(r"^[a-z0-9](?:[a-z0-9._/-]{0,98}[a-z0-9])?$")
STAGE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
MAX_DECISION_BYTES = 64 * 1024 * 1024


def read_decision(path: Path) -> Decision:
    data = read_json(path, what="decision", max_bytes=MAX_DECISION_BYTES)
    try:
        return Decision.from_json(data)
    except InputError as exc:
        raise InputError(f"{path}: {exc.message}", hint=exc.hint) from exc


def _adapter(environ: Mapping[str, str], out_dir: Path | None, name: str, path_prefix: str,
             pr: int | None) -> Platform:
    from mlgate.platforms.detect import detect_platform, platform_name

    kind = platform_name(environ)
    if kind == "github":
        from mlgate.platforms.github import GitHubPlatform

        return GitHubPlatform(environ, out_dir=out_dir, check_name=name, path_prefix=path_prefix,
                              pr_override=pr)
    if kind == "gitlab":
        from mlgate.platforms.gitlab import GitLabPlatform

        return GitLabPlatform(environ, out_dir=out_dir, status_name=name)
    return detect_platform(environ, out_dir=out_dir)


def _result_text(res: PublishResult, decision: Decision) -> str:
    lines = [f"mlgate publish ({res.platform}): {decision.outcome} for stage {decision.stage}"]
    lines += [f"  posted: {p}" for p in res.posted]
    lines += [f"  not posted: {s}" for s in res.skipped]
    lines += [f"  wrote: {f}" for f in res.files]
    return "\n".join(lines) + "\n"


@click.command()
@click.argument("decision_path", metavar="DECISION.json", type=click.Path(path_type=Path))
@click.option("--name", default="mlgate", show_default=True, help="Check run / commit status name.")
@click.option("--path-prefix", default="", help="The model folder's path in the repository (annotations).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the files written (markdown, dotenv, JUnit). Default: mlgate-out.")
@click.option("--from-artifact", is_flag=True,
              help="The decision comes from another (possibly a fork's) run: post it marked "
              "unverified, as hold at best.")
@click.option("--pr", "pr_number", type=int, default=None,
              help="Pull request to comment on (with --from-artifact in a workflow_run job); used only "
              "when its head commit is the run's head commit.")
@format_option(["text", "json"], default="text")
@output_option
def publish(decision_path: Path, name: str, path_prefix: str, out_dir: Path | None, from_artifact: bool,
            pr_number: int | None, fmt: str, output: Path | None) -> int:
    """Post DECISION.json (from `mlgate decide --format json`) to GitHub or GitLab, else write files.

    Exits 0 when it posted what it could (the gate is `decide`'s exit code and the check run),
    3 when the API still fails after retries."""
    from mlgate.decide.decision import mark_unverified
    from mlgate.render import write_text

    decision = read_decision(decision_path)
    if from_artifact:
        decision = mark_unverified(
            decision, "taken from another run's artifact: a fork's run controls its own workflow, "
            "so this decision is shown but cannot promote",
        )
    elif not decision.verified:
        raise UsageError("this decision is marked unverified", hint="publish it with --from-artifact")
    adapter = _adapter(os.environ, out_dir, name, path_prefix, pr_number)
    res = adapter.publish(decision=decision, report_paths={"decision-json": str(decision_path)})
    if fmt == "json":
        text = json.dumps({"platform": res.platform, "decision": decision.outcome, "posted": list(res.posted),
                           "skipped": list(res.skipped), "files": list(res.files), "urls": dict(res.urls)},
                          indent=2) + "\n"
    else:
        text = _result_text(res, decision)
    write_text(text, output)
    return 0


# --- release ---------------------------------------------------------------------------------
def _git(repo: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    try:
        proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=60,
                              env=dict(env) if env is not None else None, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolError(f"git {args[0]} failed: {exc}") from exc
    if proc.returncode != 0:
        raise ToolError(f"git {' '.join(args[:2])} failed: {proc.stderr.strip()[:500]}")
    return proc.stdout.strip()


def _git_env(repo: Path) -> dict[str, str]:
    """An annotated tag needs a tagger: fall back to 'mlgate' when the runner has none set."""
    env = dict(os.environ)
    probe = subprocess.run(["git", "-C", str(repo), "config", "user.name"], capture_output=True,
                           text=True, timeout=30, check=False)
    if not probe.stdout.strip() and "GIT_COMMITTER_NAME" not in env:
        env["GIT_COMMITTER_NAME"] = "mlgate"
        env["GIT_COMMITTER_EMAIL"] = "mlgate@localhost"
    return env


def next_stage_number(tags: Sequence[str], model: str, stage: str) -> int:
    prefix = f"{model}#{stage}#"
    nums = [int(t[len(prefix):]) for t in tags if t.startswith(prefix) and t[len(prefix):].isdigit()]
    return max(nums, default=0) + 1


def _file_digest(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        if path.exists() and not path.is_file():  # a FIFO would block the read forever
            raise InputError(f"{path} is not a regular file")
        return sha256_hex(path.read_bytes())
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc


def version_record(
    *, model: str, tag: str, commit: str, decision: Decision | None, record: Path | None, bom: Path | None,
    rollback_of: str | None = None, reason: str | None = None, actor: str = "",
) -> dict[str, Any]:
    """What the tag message carries: the multi-dimensional version a semver cannot hold."""
    subjects: list[Any] = []
    record_sha = _file_digest(record)
    if record is not None:
        from mlgate.decide.record import load_record

        subj = load_record(record).get("subject")
        subjects = subj if isinstance(subj, list) else []
    out: dict[str, Any] = {
        "mlgate_version_record": 1,
        "model": model,
        "tag": tag,
        "code_commit": commit,
        "model_digest": {"sha256": sha256_hex(canonical_json(subjects))} if subjects else None,
        "model_files": len(subjects),
        "bom": {"sha256": _file_digest(bom)} if bom else None,
        "decision_record": {"sha256": record_sha} if record_sha else None,
    }
    if decision is not None:
        out.update({"decision": decision.outcome, "stage": decision.stage,
                    "policy": {"sha256": decision.policy_sha256},
                    "evidence": [{"kind": i.kind, "sha256": i.sha256} for i in decision.inputs]})
    if rollback_of is not None:
        out.update({"rollback": True, "rollback_to": rollback_of, "reason": reason, "actor": actor})
    return out


@click.command()
@click.argument("decision_path", metavar="[DECISION.json]", required=False, type=click.Path(path_type=Path))
@click.option("--model", required=True, help="Model name used in the tag (lowercase, e.g. sentiment-bert).")
@click.option("--version", "version", default=None, help="Semantic version: tag <model>@v<version>.")
@click.option("--stage", default=None, help="Stage assignment tag <model>#<stage>#<n> (default: the "
              "decision's stage, when no --version is given).")
@click.option("--record", "record_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The decision record (attached, and its digest goes in the tag).")
@click.option("--bom", "bom_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The CycloneDX BOM (attached, and its digest goes in the tag).")
@click.option("--repo", "repo_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              help="The git checkout to tag.")
@click.option("--push", is_flag=True, help="Push the tag to origin and create the GitHub / GitLab release.")
@click.option("--rollback-to", "rollback_to", default=None, metavar="VERSION",
              help="Emergency cut-out: assign --stage back to <model>@v<VERSION> (needs --reason).")
@click.option("--reason", default=None, help="Why (required with --rollback-to).")
@format_option(["text", "json"], default="text")
@output_option
def release(decision_path: Path | None, model: str, version: str | None, stage: str | None,
            record_path: Path | None, bom_path: Path | None, repo_dir: Path, push: bool,
            rollback_to: str | None, reason: str | None, fmt: str, output: Path | None) -> int:
    """Tag a promoted model (GTO-compatible tag) and create the GitHub / GitLab release.

    Refuses (exit 1) unless DECISION.json says promote. With --rollback-to, moves a stage back
    to an earlier version, recorded in the tag message like any decision."""
    from mlgate.render import write_text

    if not NAME.match(model) or "@" in model or "#" in model or ".." in model:
        raise UsageError(f"invalid model name {model!r}",
                         hint="lowercase letters, digits, '.', '_', '-', '/'")
    if version is not None and not SEMVER.match(version):
        raise UsageError(f"{version!r} is not a semantic version (e.g. 1.2.0)")
    decision: Decision | None = None
    rollback_tag: str | None = None
    if rollback_to is not None:
        if not SEMVER.match(rollback_to):
            raise UsageError(f"{rollback_to!r} is not a semantic version")
        if not stage or not reason:
            raise UsageError("--rollback-to needs --stage and --reason")
        rollback_tag = f"{model}@v{rollback_to}"
    else:
        if decision_path is None:
            raise UsageError("give the DECISION.json to release (or --rollback-to)")
        decision = read_decision(decision_path)
        if decision.outcome != "promote" or not decision.verified:
            click.echo(f"release refused: the decision is {decision.outcome}"
                       f"{'' if decision.verified else ' (unverified)'}, not promote", err=True)
            return 1
        if stage is not None and stage != decision.stage:
            click.echo(f"release refused: the decision promotes to stage {decision.stage!r}, not "
                       f"{stage!r}; decide for {stage!r} first (mlgate decide --stage {stage})",
                       err=True)
            return 1
        stage = stage or (None if version else decision.stage)
    if stage is not None and not STAGE.match(stage):
        raise UsageError(f"invalid stage name {stage!r}")

    repo = repo_dir.resolve()
    existing = _git(repo, "tag", "--list", f"{model}*").splitlines()
    if rollback_tag is not None:
        if rollback_tag not in existing:
            raise UsageError(f"no tag {rollback_tag} to roll back to")
        commit = _git(repo, "rev-list", "-n", "1", rollback_tag)
    else:
        commit = _git(repo, "rev-parse", "HEAD")
    if version is not None and rollback_tag is None:
        tag = f"{model}@v{version}"
    else:
        assert stage is not None
        tag = f"{model}#{stage}#{next_stage_number(existing, model, stage)}"
    if tag in existing:
        raise UsageError(f"tag {tag} already exists", hint="versions are immutable: release a new version")
    actor = os.environ.get("GITHUB_ACTOR") or os.environ.get("GITLAB_USER_LOGIN") or ""
    vrec = version_record(model=model, tag=tag, commit=commit, decision=decision, record=record_path,
                          bom=bom_path, rollback_of=rollback_tag, reason=reason, actor=actor)
    head = f"{'rollback ' if rollback_tag else ''}{tag}"
    message = f"{head}\n\n{json.dumps(vrec, indent=2, sort_keys=True)}\n"
    _git(repo, "tag", "-a", tag, "-m", message, commit, env=_git_env(repo))
    done = [f"tag {tag} at {commit[:12]}"]
    url = ""
    if push:
        _git(repo, "push", "origin", f"refs/tags/{tag}")
        done.append("tag pushed to origin")
        assets = [ReleaseAsset(p, p.name) for p in (record_path, bom_path) if p is not None]
        adapter = _adapter(os.environ, None, "mlgate", "", None)
        if adapter.name != "local":
            body = f"```json\n{json.dumps(vrec, indent=2)}\n```\n"
            url = adapter.create_release(tag=tag, title=head, body=body, commit=commit, assets=assets)
            done.append(f"{adapter.name} release {url}".strip())
    if fmt == "json":
        text = json.dumps({"tag": tag, "commit": commit, "release_url": url, "record": vrec}, indent=2) + "\n"
    else:
        text = "mlgate release:\n" + "".join(f"  {d}\n" for d in done)
    write_text(text, output)
    return 0
