"""The one entry point every GitHub action and GitLab component runs: ``python -m mlgate.check.action STEP``.

Inputs arrive as environment variables, exactly as the runners hand them over:

- container actions: the runner sets ``INPUT_<NAME>`` (upper-cased, hyphens kept:
  ``INPUT_GITHUB-TOKEN``);
- composite actions and GitLab components: the step's ``env:`` / the job's ``variables:`` set
  ``INPUT_<NAME>`` with underscores (``INPUT_GITHUB_TOKEN``) -- inputs never reach a shell
  script as text, so they cannot inject commands.

Both spellings are read. Outputs go to ``$GITHUB_OUTPUT`` (GitHub), to a dotenv file
(``$MLGATE_DOTENV``, default ``mlgate.env`` under GitLab CI) and the markdown summary to
``$GITHUB_STEP_SUMMARY``. The step's mlgate exit code becomes the process exit code unless
``fail-on-findings`` is false (then findings exit 0; usage and tool errors still fail).
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mlgate.core.errors import ExitCode

STEPS = ("check", "scan", "bom", "license", "maturity", "decide", "publish", "release", "bench")
_SEVERITIES = ("critical", "high", "medium", "low", "info")
_TOKEN_INPUTS = ("github-token", "gitlab-token", "hf-token")


class ActionInputError(Exception):
    """An input has a value the step cannot use (exit 2)."""


@dataclass
class StepRun:
    """What one step did: the mlgate argv it ran, its exit code, the outputs it produced."""

    argv: list[str]
    exit_code: int = 0
    outputs: dict[str, str] = field(default_factory=dict)
    summary: str = ""


def get_input(env: Mapping[str, str], name: str, default: str = "") -> str:
    """``name`` is the kebab-case input name. Empty means not given."""
    upper = name.upper()
    for key in (f"INPUT_{upper}", f"INPUT_{upper.replace('-', '_')}"):
        value = env.get(key)
        if value is not None and value.strip() != "":
            return value.strip()
    return default


def get_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = get_input(env, name, "true" if default else "false").lower()
    if raw in ("true", "1", "yes", "on"):
        return True
    if raw in ("false", "0", "no", "off"):
        return False
    raise ActionInputError(f"input {name!r} must be true or false, not {raw!r}")


def get_list(env: Mapping[str, str], name: str) -> list[str]:
    """A list input: one item per line (commas also separate)."""
    raw = get_input(env, name)
    items = [p.strip() for line in raw.splitlines() for p in line.split(",")]
    return [i for i in items if i]


def _common(env: Mapping[str, str], argv: list[str], *, stage: bool = False) -> None:
    policy = get_input(env, "policy")
    if policy:
        argv += ["--policy", policy]
    if stage and get_input(env, "stage"):
        argv += ["--stage", get_input(env, "stage")]


def _report_outputs(run: StepRun, name: str, path: Path) -> None:
    """Read counts from a JSON report the step wrote; a missing file leaves them out."""
    run.outputs[name] = str(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    summary = data.get("summary") if isinstance(data, dict) else None
    if isinstance(summary, dict):
        for sev in _SEVERITIES:
            run.outputs[sev] = str(int(summary.get(sev, 0)))
        run.outputs["findings"] = str(sum(int(summary.get(s, 0)) for s in _SEVERITIES))


def plan(step: str, env: Mapping[str, str]) -> StepRun:
    """The mlgate command line for ``step`` from the inputs (no side effects)."""
    out = Path(get_input(env, "out-dir", "mlgate-out"))
    path = get_input(env, "path", ".")
    extra = shlex.split(get_input(env, "args"))
    if step == "check":
        fmt = get_input(env, "format", "text")
        if fmt not in ("text", "json", "markdown"):
            raise ActionInputError(f"input 'format' must be text, json or markdown, not {fmt!r}")
        argv = ["check", path, "--out-dir", str(out), "--format", fmt]
        _common(env, argv, stage=True)
        argv.append("--offline" if get_bool(env, "offline", False) else "--online")
        if not get_bool(env, "maturity", True):
            argv.append("--no-maturity")
        if get_bool(env, "publish", False):
            argv.append("--publish")
        if get_input(env, "shard"):
            argv += ["--shard", get_input(env, "shard")]
        if get_input(env, "bench-results"):
            argv += ["--bench-results", get_input(env, "bench-results")]
    elif step == "scan":
        argv = ["scan", *(get_list(env, "path") or ["."]), "--format", "json",
                "--output", str(out / "scan.json")]
        _common(env, argv)
        if get_input(env, "shard"):
            argv += ["--shard", get_input(env, "shard")]
    elif step == "bom":
        argv = ["bom", path, "--output", str(out / "bom.cdx.json")]
    elif step == "license":
        argv = ["license", path, "--format", "json", "--output", str(out / "license.json")]
        _common(env, argv)
    elif step == "maturity":
        sources = get_list(env, "sources")
        if not sources:
            from mlgate.check.run import maturity_sources

            sources = maturity_sources(Path(path))
        if not sources:
            raise ActionInputError("maturity: no sources given and the model card names none")
        argv = ["maturity", *sources, "--format", "json", "--output", str(out / "maturity.json")]
        _common(env, argv)
    elif step == "decide":
        reports = get_list(env, "reports")
        if not reports:
            reports = [str(p) for p in sorted(out.glob("*.json"))
                       if p.name in ("scan.json", "license.json", "maturity.json", "bench.json")]
        if not reports:
            raise ActionInputError(f"decide: no reports given and none found in {out}")
        argv = ["decide", *reports, "--format", "json", "--output", str(out / "decision.json"),
                "--record", str(out / "decision-record.intoto.json")]
        _common(env, argv, stage=True)
    elif step == "publish":
        argv = ["publish", get_input(env, "decision", str(out / "decision.json")),
                "--out", str(out), "--format", "json", "--output", str(out / "publish.json")]
        for name in ("name", "path-prefix", "pr"):
            if get_input(env, name):
                argv += [f"--{name}", get_input(env, name)]
        if get_input(env, "pr") and not get_input(env, "pr").isdigit():
            raise ActionInputError("input 'pr' must be a pull request number")
        if get_bool(env, "from-artifact", False):
            argv.append("--from-artifact")
    elif step == "release":
        model = get_input(env, "model")
        rollback = get_input(env, "rollback-to")
        if not model:
            raise ActionInputError("release: input 'model' is required")
        argv = ["release"]
        if not rollback:
            argv.append(get_input(env, "decision", str(out / "decision.json")))
        argv += ["--model", model, "--format", "json", "--output", str(out / "release.json")]
        for name in ("version", "stage", "repo", "rollback-to", "reason"):
            if get_input(env, name):
                argv += [f"--{name}", get_input(env, name)]
        # the record and BOM of an earlier check/decide job are attached when they are there
        for name, fname in (("record", "decision-record.intoto.json"), ("bom", "bom.cdx.json")):
            given = get_input(env, name)
            if given:
                argv += [f"--{name}", given]
            elif (out / fname).is_file():
                argv += [f"--{name}", str(out / fname)]
        if get_bool(env, "push", False):
            argv.append("--push")
    elif step == "bench":
        argv = [step]
        _common(env, argv)
    else:
        raise ActionInputError(f"unknown step {step!r}; steps: {', '.join(STEPS)}")
    argv += extra
    return StepRun(argv=argv, outputs={"report-dir": str(out)})


def collect(step: str, run: StepRun, env: Mapping[str, str]) -> None:
    """Fill ``run.outputs`` and ``run.summary`` from the files the step wrote."""
    out = Path(run.outputs["report-dir"])
    run.outputs["exit-code"] = str(run.exit_code)
    if step == "check":
        names = {"scan-report": "scan.json", "bom": "bom.cdx.json", "license-report": "license.json",
                 "maturity-report": "maturity.json", "decision-file": "decision.json",
                 "decision-record": "decision-record.intoto.json", "sarif": "report.sarif",
                 "junit": "junit.xml", "codequality": "gl-code-quality-report.json",
                 "summary": "summary.md"}
        for key, fname in names.items():
            if (out / fname).is_file():
                run.outputs[key] = str(out / fname)
        try:
            data = json.loads((out / "check.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        if isinstance(data, dict):
            run.outputs["decision"] = str(data.get("outcome", "error"))
            counts = data.get("counts") if isinstance(data.get("counts"), dict) else {}
            assert isinstance(counts, dict)
            for sev in _SEVERITIES:
                run.outputs[sev] = str(int(counts.get(sev, 0)))
            run.outputs["findings"] = str(sum(int(counts.get(s, 0)) for s in _SEVERITIES))
        run.outputs.setdefault("decision", "error")
        if (out / "summary.md").is_file():
            run.summary = (out / "summary.md").read_text(encoding="utf-8")
    elif step in ("scan", "license", "maturity"):
        report = out / f"{step}.json"
        _report_outputs(run, f"{step}-report", report)
        if step == "scan" and report.is_file():
            sarif = _sarif_from(report, out / "report.sarif")
            if sarif is not None:
                run.outputs["sarif"] = str(sarif)
            quality = _codequality_from(report, out / "gl-code-quality-report.json")
            if quality is not None:
                run.outputs["codequality"] = str(quality)
        run.summary = _markdown_from(report)
    elif step == "bom":
        if (out / "bom.cdx.json").is_file():
            run.outputs["bom"] = str(out / "bom.cdx.json")
    elif step == "decide":
        dec = out / "decision.json"
        run.outputs["decision-file"] = str(dec)
        if (out / "decision-record.intoto.json").is_file():
            run.outputs["decision-record"] = str(out / "decision-record.intoto.json")
        try:
            data = json.loads(dec.read_text(encoding="utf-8"))
            run.outputs["decision"] = str(data.get("decision") or data.get("outcome") or "error")
        except (OSError, ValueError, AttributeError):
            run.outputs["decision"] = "error"
    elif step == "publish":
        data = _json_file(out / "publish.json")
        run.outputs["publish-report"] = str(out / "publish.json")
        run.outputs["decision"] = str(data.get("decision") or "error")
        posted = data.get("posted")
        run.outputs["posted"] = ", ".join(str(x) for x in posted) if isinstance(posted, list) else ""
        urls = data.get("urls")
        for key, value in (urls.items() if isinstance(urls, dict) else ()):
            run.outputs[f"{str(key).replace(' ', '-').replace('_', '-')}-url"] = str(value)
    elif step == "release":
        data = _json_file(out / "release.json")
        run.outputs["release-report"] = str(out / "release.json")
        for key in ("tag", "commit"):
            run.outputs[key] = str(data.get(key) or "")
        run.outputs["release-url"] = str(data.get("release_url") or "")


def _json_file(path: Path) -> dict[str, object]:
    """A JSON object the step wrote; anything else (missing, not JSON) is empty."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _sarif_from(report: Path, dest: Path) -> Path | None:
    from mlgate.core.errors import MlgateError
    from mlgate.core.findings import Report
    from mlgate.render import REGISTRY, render

    if "sarif" not in REGISTRY:
        return None
    try:
        rep = Report.from_json(json.loads(report.read_text(encoding="utf-8")))
        dest.write_text(render(rep, "sarif"), encoding="utf-8", errors="backslashreplace")
    except (OSError, ValueError, MlgateError, ModuleNotFoundError):
        return None
    return dest


def _codequality_from(report: Path, dest: Path) -> Path | None:
    from mlgate.core.errors import MlgateError
    from mlgate.core.findings import Report
    from mlgate.render.gitlab_codequality import render

    try:
        rep = Report.from_json(json.loads(report.read_text(encoding="utf-8")))
        dest.write_text(render(rep), encoding="utf-8", errors="backslashreplace")
    except (OSError, ValueError, MlgateError):
        return None
    return dest


def _markdown_from(report: Path) -> str:
    from mlgate.core.errors import MlgateError
    from mlgate.core.findings import Report
    from mlgate.render.markdown import render

    try:
        return render(Report.from_json(json.loads(report.read_text(encoding="utf-8"))))
    except (OSError, ValueError, MlgateError):
        return ""


def write_outputs(outputs: Mapping[str, str], env: Mapping[str, str]) -> None:
    """GitHub: ``$GITHUB_OUTPUT`` (heredoc form with a random delimiter, so no value can
    smuggle in another output). GitLab: a dotenv file (``MLGATE_`` + upper snake-case names)."""
    gh = env.get("GITHUB_OUTPUT")
    if gh:
        with open(gh, "a", encoding="utf-8") as fh:
            for key, value in outputs.items():
                delim = f"MLGATE_{secrets.token_hex(8)}"
                fh.write(f"{key}<<{delim}\n{value}\n{delim}\n")
    dotenv = env.get("MLGATE_DOTENV") or ("mlgate.env" if env.get("GITLAB_CI") else "")
    if dotenv:
        with open(dotenv, "a", encoding="utf-8") as fh:
            for key, value in outputs.items():
                clean = value.replace("\n", " ").replace("\r", " ")
                fh.write(f"MLGATE_{key.upper().replace('-', '_')}={clean}\n")


def write_summary(text: str, env: Mapping[str, str]) -> None:
    dest = env.get("GITHUB_STEP_SUMMARY")
    if dest and text:
        with open(dest, "a", encoding="utf-8") as fh:
            fh.write(text if text.endswith("\n") else text + "\n")


def mask_secrets(env: Mapping[str, str], echo: Callable[[str], None]) -> None:
    if env.get("GITHUB_ACTIONS") != "true":
        return
    for name in _TOKEN_INPUTS:
        value = get_input(env, name)
        if value:
            echo(f"::add-mask::{value}")


def token_env(env: Mapping[str, str]) -> dict[str, str]:
    """Tokens given as inputs, exported under the names mlgate reads (never logged)."""
    out: dict[str, str] = {}
    for name, var in (("github-token", "GITHUB_TOKEN"), ("gitlab-token", "GITLAB_TOKEN"),
                      ("hf-token", "HF_TOKEN")):
        value = get_input(env, name)
        if value:
            out[var] = value
    return out


def run_step(step: str, env: Mapping[str, str] | None = None,
             cli_main: Callable[[Sequence[str]], int] | None = None) -> int:
    """Run one step as the runner would and return the process exit code."""
    environ = dict(os.environ if env is None else env)

    def echo(line: str) -> None:
        print(line, flush=True)

    try:
        mask_secrets(environ, echo)
        run = plan(step, environ)
        fail = get_bool(environ, "fail-on-findings", True)
    except ActionInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return int(ExitCode.USAGE)
    out = Path(run.outputs["report-dir"])
    out.mkdir(parents=True, exist_ok=True)
    os.environ.update(token_env(environ))
    runner: Callable[[Sequence[str]], int]
    if cli_main is None:
        from mlgate.cli import main as runner
    else:
        runner = cli_main
    echo("mlgate " + shlex.join(run.argv))
    run.exit_code = runner(run.argv)
    collect(step, run, environ)
    write_outputs(run.outputs, environ)
    write_summary(run.summary, environ)
    if run.exit_code == ExitCode.FINDINGS and not fail:
        echo("mlgate: findings reported; not failing the step (fail-on-findings: false)")
        return int(ExitCode.OK)
    return run.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or args[0] not in STEPS:
        print(f"usage: python -m mlgate.check.action {{{','.join(STEPS)}}}", file=sys.stderr)
        return int(ExitCode.USAGE)
    return run_step(args[0])


if __name__ == "__main__":
    sys.exit(main())
