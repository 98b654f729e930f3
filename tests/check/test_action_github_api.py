"""The action entry points run as the runner runs them -- a separate process, ``INPUT_*``
variables (container spelling with hyphens, composite ``env:`` spelling with underscores),
``GITHUB_*`` variables, a real ``pull_request`` event payload, ``GITHUB_OUTPUT`` and
``GITHUB_STEP_SUMMARY`` files -- against a local server answering like GitHub's REST API."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from mlgate.decide.view import MARKER
from tests.platforms.fake_github import FakeGitHub

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "fixtures" / "example-model"
HEAD = "9f2c4e1b7a3d5f60718293a4b5c6d7e8f9012345"
MERGE = "0d1e2f3a4b5c6d7e8f9012345a6b7c8d9e0f1a2b"
BASE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

# GitHub-hosted runners' names for things; the container spelling keeps hyphens in INPUT_ names
PULL_REQUEST_EVENT: dict[str, Any] = {
    "action": "synchronize",
    "number": 7,
    "before": "1" * 40,
    "after": HEAD,
    "pull_request": {
        "url": "https://api.github.com/repos/acme/models/pulls/7",
        "id": 2001,
        "number": 7,
        "state": "open",
        "locked": False,
        "title": "Fine-tune on the v2 data",
        "user": {"login": "octocat", "id": 583231, "type": "User"},
        "draft": False,
        "head": {"label": "acme:feature", "ref": "feature", "sha": HEAD,
                 "repo": {"id": 1296269, "name": "models", "full_name": "acme/models", "fork": False,
                          "private": False, "owner": {"login": "acme", "type": "Organization"}}},
        "base": {"label": "acme:main", "ref": "main", "sha": BASE,
                 "repo": {"id": 1296269, "name": "models", "full_name": "acme/models", "fork": False,
                          "private": False, "owner": {"login": "acme", "type": "Organization"}}},
        "author_association": "MEMBER",
        "merged": False,
        "commits": 3,
    },
    "repository": {"id": 1296269, "name": "models", "full_name": "acme/models", "fork": False,
                   "default_branch": "main", "owner": {"login": "acme", "type": "Organization"}},
    "sender": {"login": "octocat", "id": 583231, "type": "User"},
}


@pytest.fixture
def gh(httpserver: HTTPServer) -> Iterator[FakeGitHub]:
    fake = FakeGitHub(base=httpserver.url_for("").rstrip("/"))
    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake.handle)
    yield fake


def runner_env(gh: FakeGitHub, tmp: Path, inputs: dict[str, str]) -> dict[str, str]:
    event = tmp / "event.json"
    event.write_text(json.dumps(PULL_REQUEST_EVENT), encoding="utf-8")
    (tmp / "output.txt").touch()
    (tmp / "summary.md").touch()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GITHUB_", "GITLAB_", "CI_", "INPUT_", "RUNNER_"))}
    env.pop("CI", None)
    env.update({
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_API_URL": gh.api,
        "GITHUB_SERVER_URL": gh.base,
        "GITHUB_REPOSITORY": gh.repo,
        "GITHUB_SHA": MERGE,
        "GITHUB_REF": "refs/pull/7/merge",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_RUN_ID": "4242",
        "GITHUB_ACTOR": "octocat",
        "GITHUB_WORKSPACE": str(tmp),
        "GITHUB_OUTPUT": str(tmp / "output.txt"),
        "GITHUB_STEP_SUMMARY": str(tmp / "summary.md"),
        "RUNNER_TEMP": str(tmp),
    })
    env.update(inputs)
    return env


def run_entry(step: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mlgate.check.action", step], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def outputs(path: Path) -> dict[str, str]:
    """$GITHUB_OUTPUT's heredoc form; a name written twice keeps the last value (as the runner)."""
    out: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        name, delim = lines[i].split("<<", 1)
        end = lines.index(delim, i + 1)
        out[name] = "\n".join(lines[i + 1:end])
        i = end + 1
    return out


def test_check_with_publish_posts_check_run_and_comment(gh: FakeGitHub, tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "model")
    # the root action is composite: its env: block spells inputs with underscores
    env = runner_env(gh, tmp_path, {"INPUT_PATH": "model", "INPUT_OFFLINE": "true",
                                    "INPUT_PUBLISH": "true", "INPUT_OUT_DIR": "mlgate-out",
                                    "INPUT_GITHUB_TOKEN": gh.token})
    proc = run_entry("check", env, tmp_path)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log
    assert f"::add-mask::{gh.token}" in proc.stdout

    (run,) = gh.check_runs
    assert run["head_sha"] == HEAD  # the PR's head commit, not the merge commit
    assert run["name"] == "mlgate" and run["conclusion"] == "success"
    ours = [c for c in gh.comments if MARKER in c["body"]]
    assert len(ours) == 1 and ours[0]["issue"] == 7
    auth = {c.headers.get("Authorization") for c in gh.calls}
    assert auth == {f"token {gh.token}"} or auth == {f"Bearer {gh.token}"}

    out = outputs(tmp_path / "output.txt")
    assert out["decision"] == "promote" and out["exit-code"] == "0"
    for key in ("sarif", "bom", "decision-file", "decision-record", "summary", "codequality", "junit"):
        assert (tmp_path / out[key]).is_file(), key
    assert out["findings"] == "0"
    assert "mlgate check" in (tmp_path / "summary.md").read_text(encoding="utf-8")
    check = json.loads((tmp_path / "mlgate-out" / "check.json").read_text(encoding="utf-8"))
    assert {"step": "publish", "status": "ran", "detail": "posted to github", "output": None} \
        in check["steps"]
    for f in (tmp_path / "output.txt", tmp_path / "summary.md", *(tmp_path / "mlgate-out").iterdir()):
        assert gh.token not in f.read_text(encoding="utf-8", errors="replace"), f
    assert gh.token not in log.replace(f"::add-mask::{gh.token}", "")


def _decision(tmp: Path) -> Path:
    """decision.json and its record from a check of the example model (no CI variables)."""
    shutil.copytree(EXAMPLE, tmp / "model")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GITHUB_", "GITLAB_", "INPUT_"))}
    env.pop("CI", None)
    proc = subprocess.run([sys.executable, "-m", "mlgate", "check", "model", "--out-dir", "mlgate-out"],
                          cwd=tmp, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return tmp / "mlgate-out" / "decision.json"


def test_publish_container_action_posts_the_decision(gh: FakeGitHub, tmp_path: Path) -> None:
    decision = _decision(tmp_path)
    gh.add_comment(7, "LGTM")
    # a container action: the runner passes inputs as INPUT_<NAME> with the hyphens kept
    env = runner_env(gh, tmp_path, {"INPUT_DECISION": "mlgate-out/decision.json",
                                    "INPUT_OUT-DIR": "mlgate-out", "INPUT_NAME": "mlgate / model",
                                    "INPUT_PATH-PREFIX": "model",
                                    "INPUT_GITHUB-TOKEN": gh.token})
    proc = run_entry("publish", env, tmp_path)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log
    assert decision.is_file()
    (run,) = gh.check_runs
    assert run["name"] == "mlgate / model" and run["head_sha"] == HEAD
    assert [c for c in gh.comments if MARKER in c["body"]]
    out = outputs(tmp_path / "output.txt")
    assert out["decision"] == "promote"
    assert out["exit-code"] == "0"
    assert "check run" in out["posted"]
    assert out["check-run-url"].startswith(gh.base)
    assert (tmp_path / out["publish-report"]).is_file()


def test_publish_refuses_a_token_the_api_rejects_without_leaking_it(gh: FakeGitHub, tmp_path: Path) -> None:
    _decision(tmp_path)
    env = runner_env(gh, tmp_path, {"INPUT_GITHUB-TOKEN": "ghs_WrongWrongWrong"})
    proc = run_entry("publish", env, tmp_path)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 3, log
    assert gh.check_runs == [] and gh.calls  # the request was made and refused
    assert "ghs_WrongWrongWrong" not in log.replace("::add-mask::ghs_WrongWrongWrong", "")
    assert outputs(tmp_path / "output.txt")["exit-code"] == "3"


def test_release_tags_pushes_and_creates_the_release(gh: FakeGitHub, tmp_path: Path) -> None:
    _decision(tmp_path)
    git = shutil.which("git")
    assert git is not None
    genv = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    origin = tmp_path / "origin.git"
    subprocess.run([git, "init", "-q", "--bare", str(origin)], check=True, capture_output=True)
    for argv in (["init", "-q", "-b", "main"], ["add", "model"], ["commit", "-q", "-m", "model"],
                 ["remote", "add", "origin", str(origin)]):
        subprocess.run([git, *argv], cwd=tmp_path, check=True, env=genv, capture_output=True)
    env = runner_env(gh, tmp_path, {"INPUT_MODEL": "sentiment-bert", "INPUT_VERSION": "1.2.0",
                                    "INPUT_PUSH": "true", "INPUT_GITHUB-TOKEN": gh.token})
    env.update({k: v for k, v in genv.items() if k.startswith("GIT_")})
    proc = run_entry("release", env, tmp_path)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log
    tags = subprocess.run([git, "tag", "--list"], cwd=origin, capture_output=True, text=True).stdout
    assert "sentiment-bert@v1.2.0" in tags.split()
    (rel,) = gh.releases
    assert rel["tag_name"] == "sentiment-bert@v1.2.0"
    # the record and BOM of the check in the same out-dir are attached without being named
    assert sorted(a["name"] for a in gh.assets) == ["bom.cdx.json", "decision-record.intoto.json"]
    out = outputs(tmp_path / "output.txt")
    assert out["tag"] == "sentiment-bert@v1.2.0"
    assert re.fullmatch(r"[0-9a-f]{40}", out["commit"])
    assert out["release-url"].startswith(gh.base)


def test_release_without_a_model_input_is_a_usage_error(gh: FakeGitHub, tmp_path: Path) -> None:
    env = runner_env(gh, tmp_path, {"INPUT_GITHUB-TOKEN": gh.token})
    proc = run_entry("release", env, tmp_path)
    assert proc.returncode == 2
    assert "model" in proc.stderr
    assert gh.calls == []
