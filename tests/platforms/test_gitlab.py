from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from mlgate.core.errors import NetworkError
from mlgate.decide.view import MARKER
from mlgate.platforms.base import ReleaseAsset
from mlgate.platforms.gitlab import GitLabPlatform, dotenv_lines
from tests.platforms.fake_gitlab import FakeGitLab
from tests.platforms.test_github import decision

SHA = "e" * 40


@pytest.fixture
def gl(httpserver: HTTPServer) -> Iterator[FakeGitLab]:
    fake = FakeGitLab(base=httpserver.url_for("").rstrip("/"))
    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake.handle)
    yield fake


def env(gl: FakeGitLab, *, token: str | None = None, mr: bool = True) -> dict[str, str]:
    e = {
        "GITLAB_CI": "true",
        "CI_API_V4_URL": gl.api,
        "CI_PROJECT_ID": gl.project,
        "CI_COMMIT_SHA": SHA,
        "CI_JOB_URL": f"{gl.base}/gitlab/acme/models/-/jobs/77",
        "CI_JOB_TOKEN": gl.job_token,
        "MLGATE_GITLAB_TOKEN": gl.token if token is None else token,
    }
    if mr:
        e["CI_MERGE_REQUEST_IID"] = "3"
    return e


def test_status_and_sticky_note_updated_in_place(gl: FakeGitLab, tmp_path: Path) -> None:
    gl.add_note(3, "first human note")
    gl.add_note(3, "assigned to @bob", author="bob", system=True)
    gl.add_note(3, "second human note")
    out = tmp_path / "out"
    res = GitLabPlatform(env(gl), out_dir=out).publish(decision=decision("hold"))
    assert res.posted == ("commit status", "note created")
    (st,) = gl.statuses
    assert st["status"] == "failed" and st["name"] == "mlgate" and st["sha"] == SHA
    assert st["description"].startswith("hold") and st["target_url"].endswith("/-/jobs/77")
    res2 = GitLabPlatform(env(gl), out_dir=out).publish(decision=decision("promote"))
    assert res2.posted == ("commit status", "note updated")
    ours = [n for n in gl.notes if MARKER in n["body"]]
    assert len(ours) == 1 and "promote" in ours[0]["body"] and len(gl.notes) == 4
    assert gl.statuses[1]["status"] == "success"
    assert any("page=2" in c.query for c in gl.calls if c.method == "GET")
    # the token goes in the PRIVATE-TOKEN header only, and the API is used under its path
    assert all(c.path.startswith("/gitlab/api/v4/") for c in gl.calls)


def test_reports_written_and_no_token_posts_nothing(gl: FakeGitLab, tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = GitLabPlatform(env(gl, token=""), out_dir=out).publish(decision=decision("reject"),
                                                                report_paths={"decision-json": "d.json"})
    assert res.posted == () and "CI_JOB_TOKEN cannot write" in res.skipped[0]
    assert gl.calls == []
    assert (out / "mlgate.env").read_text() == (
        "MLGATE_DECISION=reject\nMLGATE_STAGE=staging\nMLGATE_DECISION_JSON=d.json\n")
    root = ET.fromstring((out / "mlgate-junit.xml").read_bytes())
    assert root.tag == "testsuites" and root.get("failures") == "1"


def test_unauthorized_is_network_error_without_token(gl: FakeGitLab, tmp_path: Path) -> None:
    with pytest.raises(NetworkError) as info:
        GitLabPlatform(env(gl, token="glpat-wrong-token"), out_dir=tmp_path).publish(decision=decision())
    assert "401" in info.value.message and "glpat-wrong-token" not in info.value.message


def test_transient_5xx_is_retried(gl: FakeGitLab, tmp_path: Path) -> None:
    gl.fail_times = 1
    res = GitLabPlatform(env(gl, mr=False), out_dir=tmp_path).publish(decision=decision("promote"))
    assert res.posted == ("commit status",) and len(gl.statuses) == 1


def test_release_with_job_token_and_asset_links(gl: FakeGitLab, tmp_path: Path) -> None:
    e = env(gl, token="")
    e["CI_PROJECT_DIR"] = str(tmp_path)
    rec = tmp_path / "out" / "decision-record.intoto.json"
    url = GitLabPlatform(e, out_dir=tmp_path).create_release(
        tag="bert@v1.2.0", title="bert v1.2.0", body="record", commit=SHA,
        assets=[ReleaseAsset(rec, "decision-record.intoto.json")])
    assert url.endswith("/releases/bert@v1.2.0")
    (rel,) = gl.releases
    link = rel["assets"]["links"][0]["url"]
    assert link.endswith("/-/jobs/77/artifacts/file/out/decision-record.intoto.json")
    post = next(c for c in gl.calls if c.method == "POST")
    assert post.headers.get("Job-Token") == gl.job_token and "Private-Token" not in post.headers


def test_dotenv_refuses_multiline() -> None:
    from mlgate.core.errors import ToolError

    with pytest.raises(ToolError):
        dotenv_lines({"X": "a\nb"})
