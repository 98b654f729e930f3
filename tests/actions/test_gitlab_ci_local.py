"""The GitLab components run for real in a local pipeline (gitlab-ci-local, shell executor).

A throw-away project includes the component templates with ``include: local:`` + ``inputs:``
(the same interpolation GitLab does for ``include: component:``), runs their jobs with this
checkout's Python on PATH (the shell executor ignores ``image:``), and checks what GitLab would
collect: every file named under ``artifacts:reports`` of the expanded jobs, the exit statuses,
and the dotenv variables a downstream job receives.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.actions._tools import ROOT, missing, tool

PIPELINE = """\
stages: [test, report]
include:
  - local: templates/scan.yml
    inputs:
      path: model
      out-dir: out-scan
      tags: [mlgate-test]
  - local: templates/bom.yml
    inputs:
      path: model
      out-dir: out-bom
      tags: [mlgate-test]
  - local: templates/check.yml
    inputs:
      path: model
      out-dir: out-check
      offline: true
      tags: [mlgate-test]

# a second scan job (on a model with a dangerous pickle) from the same component
mlgate-scan-bad:
  extends: mlgate-scan
  variables:
    INPUT_PATH: bad
    INPUT_OUT_DIR: out-bad
  artifacts:
    when: always
    paths: [out-bad/]
    reports:
      dotenv: mlgate.env
      codequality: out-bad/gl-code-quality-report.json

downstream:
  stage: report
  needs: [mlgate-check]
  tags: [mlgate-test]
  script:
    - echo "decision=$MLGATE_DECISION findings=$MLGATE_FINDINGS"
    - test "$MLGATE_DECISION" = promote
"""


def _gitlab_ci_local() -> str:
    return tool("gitlab-ci-local")


def _project(tmp: Path) -> Path:
    proj = tmp / "proj"
    proj.mkdir()
    shutil.copytree(ROOT / "gitlab-components" / "templates", proj / "templates")
    shutil.copytree(ROOT / "fixtures" / "example-model", proj / "model")
    bad = proj / "bad"
    bad.mkdir()
    # a pickle whose only global is os.system (built with the pickle protocol's opcodes, never
    # by pickling a live object; nothing here or in the job loads it)
    bad.joinpath("model.pkl").write_bytes(
        b"\x80\x04\x95\x1b\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x94\x8c\x06system\x94\x93\x94"
        b"\x8c\x02id\x94\x85\x94R\x94."
    )
    (proj / ".gitlab-ci.yml").write_text(PIPELINE, encoding="utf-8")
    git = shutil.which("git")
    if git is None:
        missing("git")
        raise AssertionError("unreachable")
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    for argv in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "init"]):
        subprocess.run([git, *argv], cwd=proj, check=True, env=env, capture_output=True)
    return proj


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    gcl = _gitlab_ci_local()
    if shutil.which("rsync") is None:
        missing("rsync")
    proj = _project(tmp_path_factory.mktemp("gcl"))
    # this checkout's interpreter first on PATH: the job script runs `python -m mlgate...`
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITLAB_", "CI_", "GITHUB_"))}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["HOME"] = str(proj.parent / "home")  # gitlab-ci-local keeps state under $HOME
    proc = subprocess.run(
        [gcl, "--force-shell-executor", "--shell-isolation", "--no-color",
         "--max-job-name-padding", "0"],
        cwd=proj, env=env, capture_output=True, text=True, timeout=600,
    )
    return proj, proc


def _expanded(proj: Path) -> dict[str, Any]:
    data = yaml.safe_load((proj / ".gitlab-ci-local" / "expanded-gitlab-ci.yml").read_text("utf-8"))
    assert isinstance(data, dict)
    return data


def _artifact(proj: Path, job: str, rel: str) -> Path:
    return proj / ".gitlab-ci-local" / "artifacts" / job / rel


def _dotenv(proj: Path, job: str) -> dict[str, str]:
    path = _artifact(proj, job, ".gitlab-ci-reports/dotenv/mlgate.env")
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition("=")
        out[key] = value
    return out


def test_the_pipeline_runs_and_each_job_has_the_expected_status(pipeline: Any) -> None:
    _, proc = pipeline
    log = proc.stdout + proc.stderr
    # the bad model makes its scan job fail; everything else passes
    assert proc.returncode != 0, log
    for job in ("mlgate-scan", "mlgate-bom", "mlgate-check", "downstream"):
        assert f"PASS  {job}" in log, log
    assert "FAIL  mlgate-scan-bad" in log, log
    assert "decision=promote" in log, log


def test_inputs_reach_the_jobs_as_variables(pipeline: Any) -> None:
    proj, _ = pipeline
    jobs = _expanded(proj)
    check = jobs["mlgate-check"]
    assert check["variables"]["INPUT_PATH"] == "model"
    assert check["variables"]["INPUT_OFFLINE"] == "true"
    assert check["tags"] == ["mlgate-test"]
    assert check["script"] == ["python -m mlgate.check.action check"]


@pytest.mark.parametrize("job", ["mlgate-scan", "mlgate-bom", "mlgate-check", "mlgate-scan-bad"])
def test_every_declared_report_exists(pipeline: Any, job: str) -> None:
    proj, _ = pipeline
    reports = _expanded(proj)[job]["artifacts"]["reports"]
    assert "dotenv" in reports
    for kind, rel in reports.items():
        if kind == "dotenv":
            path = _artifact(proj, job, f".gitlab-ci-reports/dotenv/{rel}")
        else:
            path = _artifact(proj, job, rel)
        assert path.is_file(), f"{job}: artifacts:reports:{kind} {rel} missing"
        assert path.stat().st_size > 0


def test_report_contents(pipeline: Any) -> None:
    proj, _ = pipeline
    bom = json.loads(_artifact(proj, "mlgate-bom", "out-bom/bom.cdx.json").read_text("utf-8"))
    assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.6"
    junit = ET.parse(_artifact(proj, "mlgate-check", "out-check/junit.xml")).getroot()
    assert junit.tag in ("testsuites", "testsuite")
    quality = json.loads(_artifact(proj, "mlgate-check", "out-check/gl-code-quality-report.json")
                         .read_text("utf-8"))
    assert quality == []  # the example model is clean
    env = _dotenv(proj, "mlgate-check")
    assert env["MLGATE_DECISION"] == "promote"
    assert env["MLGATE_EXIT_CODE"] == "0"
    assert env["MLGATE_BOM"] == "out-check/bom.cdx.json"


def test_findings_fail_the_job_and_land_in_the_code_quality_report(pipeline: Any) -> None:
    proj, _ = pipeline
    env = _dotenv(proj, "mlgate-scan-bad")
    assert env["MLGATE_EXIT_CODE"] == "1"
    assert int(env["MLGATE_CRITICAL"]) >= 1
    issues = json.loads(_artifact(proj, "mlgate-scan-bad", "out-bad/gl-code-quality-report.json")
                        .read_text("utf-8"))
    assert issues, "the dangerous pickle must be reported"
    top = [i for i in issues if i["severity"] == "blocker"]
    assert top and top[0]["location"]["path"] == "bad/model.pkl"
    assert top[0]["check_name"].startswith("MLG-SCAN-")
