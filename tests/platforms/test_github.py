from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from mlgate.core.errors import NetworkError
from mlgate.core.findings import Location, Severity
from mlgate.decide.decision import Decision, Reason
from mlgate.decide.view import MARKER
from mlgate.platforms.github import GitHubPlatform, output_lines, truncate
from tests.platforms.fake_github import FakeGitHub

HEAD = "b" * 40
MERGE = "c" * 40


def decision(outcome: str = "reject", n_reasons: int = 1) -> Decision:
    effect = "reject" if outcome == "reject" else "hold"
    reasons = tuple(
        Reason("MLG-DEC-003", effect, Severity.CRITICAL, "scan",  # type: ignore[arg-type]
               f"MLG-SCAN-051 critical: os.system in pickle #{i}", "MLG-SCAN-051", f"{i:016x}",
               Location(f"weights/model{i}.pkl"))
        for i in range(n_reasons if outcome != "promote" else 0)
    )
    return Decision(outcome=outcome, stage="staging", reasons=reasons,  # type: ignore[arg-type]
                    counts={"critical": len(reasons)}, policy_source="preset:commercial-safe",
                    policy_sha256="d" * 64)


def pr_event(tmp_path: Path, *, fork: bool = False) -> Path:
    head_repo = "mallory/models" if fork else "acme/models"
    payload = {
        "action": "synchronize",
        "number": 7,
        "pull_request": {
            "number": 7,
            "state": "open",
            "head": {"ref": "feature", "sha": HEAD, "repo": {"full_name": head_repo, "fork": fork}},
            "base": {"ref": "main", "sha": "a" * 40, "repo": {"full_name": "acme/models", "fork": False}},
        },
        "repository": {"full_name": "acme/models"},
    }
    p = tmp_path / "event.json"
    p.write_text(json.dumps(payload))
    return p


@pytest.fixture
def gh(httpserver: HTTPServer) -> Iterator[FakeGitHub]:
    fake = FakeGitHub(base=httpserver.url_for("").rstrip("/"))
    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake.handle)
    yield fake


def env(gh: FakeGitHub, tmp_path: Path, *, event: str = "pull_request", fork: bool = False,
        token: str | None = None) -> dict[str, str]:
    e = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_API_URL": gh.api,
        "GITHUB_SERVER_URL": gh.base,
        "GITHUB_REPOSITORY": "acme/models",
        "GITHUB_SHA": MERGE,
        "GITHUB_EVENT_NAME": event,
        "GITHUB_RUN_ID": "99",
        "GITHUB_TOKEN": gh.token if token is None else token,
        "GITHUB_OUTPUT": str(tmp_path / "output.txt"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }
    if event == "pull_request":
        e["GITHUB_EVENT_PATH"] = str(pr_event(tmp_path, fork=fork))
    return e


def adapter(e: dict[str, str], lines: list[str]) -> GitHubPlatform:
    return GitHubPlatform(e, backoff=0, write_delay=None, echo=lines.append, retries=2)


def test_pull_request_posts_check_on_head_sha_and_sticky_comment(gh: FakeGitHub, tmp_path: Path) -> None:
    gh.add_comment(7, "LGTM")
    gh.add_comment(7, "please look at the tokenizer")
    gh.add_comment(7, "another human comment")  # our comment would be on page 2
    lines: list[str] = []
    res = adapter(env(gh, tmp_path), lines).publish(decision=decision("reject"))
    assert res.posted == ("check run", "comment created")
    (run,) = gh.check_runs
    assert run["head_sha"] == HEAD and run["conclusion"] == "failure" and run["name"] == "mlgate"
    assert run["details_url"].endswith("/acme/models/actions/runs/99")
    assert run["_annotations"][0]["path"] == "weights/model0.pkl"
    ours = [c for c in gh.comments if MARKER in c["body"]]
    assert len(ours) == 1

    # second run: the same comment is edited, none added, even though it is on page 2
    res2 = adapter(env(gh, tmp_path), lines).publish(decision=decision("promote"))
    assert res2.posted == ("check run", "comment updated")
    ours = [c for c in gh.comments if MARKER in c["body"]]
    assert len(ours) == 1 and "promote" in ours[0]["body"]
    assert len(gh.comments) == 4
    assert gh.check_runs[1]["conclusion"] == "success"
    pages = [c.query for c in gh.calls if c.method == "GET" and c.path.endswith("/comments")]
    assert any("page=2" in q for q in pages)
    # only a comment carrying our marker is edited
    assert [c["body"] for c in gh.comments[:3]] == ["LGTM", "please look at the tokenizer",
                                                    "another human comment"]


def test_hold_is_action_required_never_neutral(gh: FakeGitHub, tmp_path: Path) -> None:
    adapter(env(gh, tmp_path, event="push"), []).publish(decision=decision("hold"))
    (run,) = gh.check_runs
    assert run["conclusion"] == "action_required" and run["head_sha"] == MERGE
    assert not [c for c in gh.calls if "comments" in c.path]  # push: no PR to comment on


def test_annotations_in_batches_of_50(gh: FakeGitHub, tmp_path: Path) -> None:
    adapter(env(gh, tmp_path, event="push"), []).publish(decision=decision("reject", n_reasons=120))
    (run,) = gh.check_runs
    assert len(run["_annotations"]) == 120
    patches = [c for c in gh.calls if c.method == "PATCH"]
    assert [len(c.body["output"]["annotations"]) for c in patches] == [50, 20]
    assert all(c.body["output"]["title"] and c.body["output"]["summary"] for c in patches)


def test_403_on_checks_falls_back_to_status(gh: FakeGitHub, tmp_path: Path) -> None:
    gh.forbid_checks = True
    res = adapter(env(gh, tmp_path, event="push"), []).publish(decision=decision("hold"))
    assert res.posted[0].startswith("commit status")
    (st,) = gh.statuses
    assert st["sha"] == MERGE and st["state"] == "failure" and st["context"] == "mlgate"
    assert st["description"].startswith("hold")
    assert st["target_url"].endswith("/actions/runs/99")


def test_5xx_is_retried(gh: FakeGitHub, tmp_path: Path) -> None:
    gh.fail_times = 1
    res = adapter(env(gh, tmp_path, event="push"), []).publish(decision=decision("promote"))
    assert res.posted == ("check run",)
    assert len(gh.check_runs) == 1
    assert [c.method for c in gh.calls].count("POST") == 2


def test_bad_credentials_is_a_tool_error_without_the_token(gh: FakeGitHub, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    e = env(gh, tmp_path, event="push", token="ghp_WrongToken123")
    lines: list[str] = []
    with pytest.raises(NetworkError) as info:
        adapter(e, lines).publish(decision=decision("promote"))
    assert "401" in info.value.message and "Bad credentials" in info.value.message
    assert "ghp_WrongToken123" not in info.value.message + str(info.value.hint)
    assert lines == ["::add-mask::ghp_WrongToken123"]


def test_fork_pull_request_posts_nothing(gh: FakeGitHub, tmp_path: Path) -> None:
    res = adapter(env(gh, tmp_path, fork=True), []).publish(decision=decision("promote"))
    assert res.posted == () and "fork" in res.skipped[0]
    assert gh.calls == []
    assert "promote" in (tmp_path / "summary.md").read_text()


def test_outputs_summary_and_token_never_written(gh: FakeGitHub, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str],
                                                 caplog: pytest.LogCaptureFixture) -> None:
    lines: list[str] = []
    caplog.set_level("DEBUG")
    adapter(env(gh, tmp_path), lines).publish(decision=decision("reject"),
                                               report_paths={"decision-json": "out/decision.json"})
    text = (tmp_path / "output.txt").read_text()
    m = re.fullmatch(r"decision<<(ghadelimiter_[0-9a-f-]+)\nreject\n\1\nstage<<(ghadelimiter_[0-9a-f-]+)\n"
                     r"staging\n\2\ndecision-json<<(ghadelimiter_[0-9a-f-]+)\nout/decision.json\n\3\n", text)
    assert m is not None, text
    summary = (tmp_path / "summary.md").read_text()
    assert summary.startswith(MARKER) and "reject" in summary
    captured = capsys.readouterr()
    everything = captured.out + captured.err + caplog.text + text + summary + json.dumps(gh.comments)
    everything += "\n".join(x for x in lines if not x.startswith("::add-mask::"))
    assert gh.token not in everything
    assert lines == [f"::add-mask::{gh.token}"]


def test_output_lines_multiline_value_and_bad_names() -> None:
    text = output_lines({"summary": "line1\nline2\nEOF"})
    head, _, rest = text.partition("\n")
    delim = head.split("<<", 1)[1]
    assert rest == f"line1\nline2\nEOF\n{delim}\n"
    from mlgate.core.errors import ToolError

    with pytest.raises(ToolError):
        output_lines({"bad\nname": "x"})


def test_summary_truncated_within_limit() -> None:
    long = "\n".join("x" * 100 for _ in range(2000))
    cut = truncate(long, 65535)
    assert len(cut) <= 65535 and cut.endswith("truncated (see the JSON decision artifact for everything)\n")


def test_5xx_after_retries_is_network_error(gh: FakeGitHub, tmp_path: Path) -> None:
    gh.fail_times = 100
    with pytest.raises(NetworkError) as info:
        adapter(env(gh, tmp_path, event="push"), []).publish(decision=decision("promote"))
    assert info.value.exit_code == 3 and gh.token not in info.value.message
    assert 2 <= len(gh.calls) <= 4


def test_secondary_rate_limit_is_retried(gh: FakeGitHub, tmp_path: Path) -> None:
    gh.rate_limited_times = 1
    res = adapter(env(gh, tmp_path, event="push"), []).publish(decision=decision("promote"))
    assert res.posted == ("check run",) and len(gh.check_runs) == 1
    assert [c.status for c in gh.calls] == [403, 201]


def test_422_validation_error_is_reported(gh: FakeGitHub, tmp_path: Path) -> None:
    from mlgate.platforms.base import ReleaseAsset

    e = env(gh, tmp_path, event="push")
    adapter(e, []).create_release(tag="m@v1.0.0", title="t", body="b", commit=HEAD, assets=[])
    with pytest.raises(NetworkError) as info:
        adapter(e, []).create_release(tag="m@v1.0.0", title="t", body="b", commit=HEAD,
                                      assets=[ReleaseAsset(tmp_path / "x", "x")])
    assert "422" in info.value.message and "Validation Failed" in info.value.message


@pytest.mark.parametrize("payload", ["{not json", "[]", '{"pull_request": {"number": "x"}}'])
def test_malformed_event_payload_is_input_error(tmp_path: Path, payload: str) -> None:
    from mlgate.core.errors import InputError

    ev = tmp_path / "event.json"
    ev.write_text(payload)
    with pytest.raises(InputError):
        GitHubPlatform({"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "pull_request",
                        "GITHUB_EVENT_PATH": str(ev)}, echo=lambda _: None)


def test_markdown_of_huge_decision_stays_within_limit() -> None:
    from mlgate.decide.view import render_markdown

    md = render_markdown(decision("reject", n_reasons=5000), limit=65535)
    assert len(md) <= 65535 and md.startswith(MARKER) and "more row(s) not shown" in md
