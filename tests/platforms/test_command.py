from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from mlgate.cli import main
from mlgate.core.policy import parse_policy_text
from mlgate.decide.decision import Decision, decide
from mlgate.decide.record import build_record, dumps_record
from mlgate.platforms.command import next_stage_number
from mlgate.platforms.detect import detect_platform, platform_name
from tests.decide.helpers import finding, report, write_model
from tests.platforms.fake_github import FakeGitHub
from tests.platforms.test_github import HEAD, decision


def test_detect_from_runner_variables(tmp_path: Path) -> None:
    assert platform_name({"GITHUB_ACTIONS": "true"}) == "github"
    assert platform_name({"GITLAB_CI": "true"}) == "gitlab"
    assert platform_name({"CI": "true", "JENKINS_URL": "x"}) == "local"
    assert platform_name({"GITHUB_ACTIONS": "false"}) == "local"
    assert detect_platform({}, out_dir=tmp_path).name == "local"
    assert detect_platform({"GITLAB_CI": "true"}).name == "gitlab"


def _decision_file(tmp_path: Path, d: Decision) -> Path:
    p = tmp_path / "decision.json"
    p.write_text(d.dumps())
    return p


def test_publish_local_writes_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    p = _decision_file(tmp_path, decision("hold"))
    assert main(["publish", str(p), "--out", "o", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["platform"] == "local" and out["decision"] == "hold"
    assert (tmp_path / "o" / "decision.md").read_text().startswith("<!-- mlgate:decision -->")


def test_publish_rejects_non_decision(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "x.json"
    p.write_text(report("scan").dumps())
    assert main(["publish", str(p)]) == 2
    assert "not an mlgate decision" in capsys.readouterr().err


@pytest.fixture
def gh(httpserver: HTTPServer) -> Iterator[FakeGitHub]:
    fake = FakeGitHub(base=httpserver.url_for("").rstrip("/"))
    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake.handle)
    yield fake


def test_publish_from_artifact_never_promotes(gh: FakeGitHub, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "completed", "workflow_run": {
        "id": 1, "event": "pull_request", "head_sha": HEAD, "conclusion": "success",
        "head_repository": {"full_name": "mallory/models"}, "pull_requests": []}}))
    for k, v in {"GITHUB_ACTIONS": "true", "GITHUB_API_URL": gh.api, "GITHUB_SERVER_URL": gh.base,
                 "GITHUB_REPOSITORY": "acme/models", "GITHUB_SHA": "f" * 40, "GITHUB_RUN_ID": "5",
                 "GITHUB_EVENT_NAME": "workflow_run", "GITHUB_EVENT_PATH": str(event),
                 "GITHUB_TOKEN": gh.token}.items():
        monkeypatch.setenv(k, v)
    p = _decision_file(tmp_path, decision("promote"))
    assert main(["publish", str(p), "--from-artifact", "--out", str(tmp_path / "o")]) == 0
    (run,) = gh.check_runs
    assert run["head_sha"] == HEAD and run["conclusion"] == "action_required"
    assert "unverified" in run["output"]["title"]
    out = capsys.readouterr().out
    assert gh.token not in out.replace(f"::add-mask::{gh.token}", "")


# --- release -----------------------------------------------------------------------------------
def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    r = tmp_path / "repo"
    r.mkdir()
    _git(r, "init", "-q")
    _git(r, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "init")
    return r


def _promoted(tmp_path: Path) -> tuple[Path, Path]:
    files = write_model(tmp_path / "model")
    scan = report("scan", files=files)
    d = decide([scan], parse_policy_text(""), stage="dev")
    rec = tmp_path / "record.json"
    rec.write_text(dumps_record(build_record(d, [scan], environ={})))
    return _decision_file(tmp_path, d), rec


def test_release_refused_unless_promote(tmp_path: Path, repo: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    d = decide([report("scan", finding())], parse_policy_text(""), stage="dev")
    p = _decision_file(tmp_path, d)
    assert main(["release", str(p), "--model", "bert", "--version", "1.0.0", "--repo", str(repo)]) == 1
    assert "refused" in capsys.readouterr().err
    assert _git(repo, "tag", "--list") == ""


def test_release_tags_version_and_stage_with_version_record(tmp_path: Path, repo: Path) -> None:
    p, rec = _promoted(tmp_path)
    assert main(["release", str(p), "--model", "bert", "--version", "1.2.0", "--record", str(rec),
                 "--repo", str(repo)]) == 0
    msg = _git(repo, "tag", "-l", "--format=%(contents)", "bert@v1.2.0")
    assert _git(repo, "cat-file", "-t", "bert@v1.2.0") == "tag"  # annotated
    body = json.loads(msg.split("\n", 2)[2])
    assert body["decision"] == "promote" and body["code_commit"] == _git(repo, "rev-parse", "HEAD")
    assert len(body["decision_record"]["sha256"]) == 64 and body["model_files"] == 2
    assert main(["release", str(p), "--model", "bert", "--repo", str(repo)]) == 0
    assert main(["release", str(p), "--model", "bert", "--repo", str(repo)]) == 0
    assert sorted(_git(repo, "tag", "--list").splitlines()) == ["bert#dev#1", "bert#dev#2", "bert@v1.2.0"]
    # versions are immutable
    assert main(["release", str(p), "--model", "bert", "--version", "1.2.0", "--repo", str(repo)]) == 2


def test_rollback_moves_stage_back_with_reason(tmp_path: Path, repo: Path) -> None:
    p, _ = _promoted(tmp_path)
    assert main(["release", str(p), "--model", "bert", "--version", "1.0.0", "--repo", str(repo)]) == 0
    first = _git(repo, "rev-parse", "HEAD")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "v2")
    assert main(["release", "--model", "bert", "--rollback-to", "1.0.0", "--stage", "production",
                 "--repo", str(repo)]) == 2  # no reason
    assert main(["release", "--model", "bert", "--rollback-to", "1.0.0", "--stage", "production",
                 "--reason", "latency regression in prod", "--repo", str(repo)]) == 0
    assert _git(repo, "rev-list", "-n", "1", "bert#production#1") == first
    msg = _git(repo, "tag", "-l", "--format=%(contents)", "bert#production#1")
    assert msg.startswith("rollback bert#production#1") and "latency regression" in msg


@pytest.mark.parametrize("args", [["--model", "Bad Name", "--version", "1.0.0"],
                                  ["--model", "bert", "--version", "v1"],
                                  ["--model", "a@b", "--version", "1.0.0"]])
def test_release_validates_names(tmp_path: Path, repo: Path, args: list[str]) -> None:
    p, _ = _promoted(tmp_path)
    assert main(["release", str(p), *args, "--repo", str(repo)]) == 2


def test_next_stage_number() -> None:
    tags = ["m#prod#1", "m#prod#9", "m#dev#20", "m#prod#x", "mm#prod#30"]
    assert next_stage_number(tags, "m", "prod") == 10


def test_release_push_creates_github_release_with_assets(gh: FakeGitHub, tmp_path: Path, repo: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    _git(repo, "remote", "add", "origin", str(origin))
    for k, v in {"GITHUB_ACTIONS": "true", "GITHUB_API_URL": gh.api, "GITHUB_SERVER_URL": gh.base,
                 "GITHUB_REPOSITORY": "acme/models", "GITHUB_SHA": "f" * 40, "GITHUB_EVENT_NAME": "push",
                 "GITHUB_TOKEN": gh.token}.items():
        monkeypatch.setenv(k, v)
    p, rec = _promoted(tmp_path)
    bom = tmp_path / "bom.cdx.json"
    bom.write_text('{"bomFormat": "CycloneDX", "specVersion": "1.6"}')
    assert main(["release", str(p), "--model", "bert", "--version", "2.0.0", "--record", str(rec),
                 "--bom", str(bom), "--repo", str(repo), "--push"]) == 0
    assert "bert@v2.0.0" in subprocess.run(["git", "-C", str(origin), "tag"], capture_output=True,
                                           text=True, check=True).stdout
    (rel,) = gh.releases
    assert rel["tag_name"] == "bert@v2.0.0" and rel["target_commitish"] == _git(repo, "rev-parse", "HEAD")
    assert sorted(a["name"] for a in gh.assets) == ["bom.cdx.json", "record.json"]
    assert next(a for a in gh.assets if a["name"] == "record.json")["data"] == rec.read_bytes()


def test_release_refuses_a_fifo_as_bom_or_record(tmp_path: Path, repo: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    # regression: --bom / --record naming a FIFO blocked the digest read forever
    import os

    p, _ = _promoted(tmp_path)
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    for opt in ("--bom", "--record"):
        assert main(["release", str(p), "--model", "bert", "--version", "1.0.0", opt, str(fifo),
                     "--repo", str(repo)]) == 2
    assert "not a regular file" in capsys.readouterr().err
    assert _git(repo, "tag", "--list") == ""


def test_release_refuses_a_stage_the_decision_was_not_made_for(
        tmp_path: Path, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p, _ = _promoted(tmp_path)  # promoted for dev only
    assert main(["release", str(p), "--model", "bert", "--stage", "production",
                 "--repo", str(repo)]) == 1
    assert "not 'production'" in capsys.readouterr().err
    assert _git(repo, "tag", "--list") == ""
    assert main(["release", str(p), "--model", "bert", "--stage", "dev", "--repo", str(repo)]) == 0
