"""Conditional requests with ETags (304 reuses the stored answer) and the issue-activity signal."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

from mlgate.maturity.base import parse_source
from mlgate.maturity.check import check_maturity

from .conftest import TOKEN, FakeGitHub, policy
from .test_gitlab import FakeGitLab
from .test_huggingface import FakeHub

NOW = datetime(2026, 12, 2, tzinfo=timezone.utc)
RATIO = "  min_closed_issue_ratio: 0.5\n"


def http_cache(root: Path) -> list[Path]:
    return sorted((root / "maturity" / "http").glob("*.json"))


def test_second_run_revalidates_with_etags_and_spends_no_rate_limit(
        github: FakeGitHub, tmp_path: Path) -> None:
    github.etags = True
    github.add_repo("acme", "lib", contributors=42)
    pol = policy("  min_contributors: 5\n  require_security_policy: true\n")
    first = check_maturity(["github:acme/lib"], pol, now=NOW)
    spent = 5000 - github.remaining
    assert spent >= 5 and github.not_modified == 0
    assert all("If-None-Match" not in r.headers for r in github.requests)
    cache_root = Path(os.environ["MLGATE_CACHE_DIR"])
    assert len(http_cache(cache_root)) == spent  # every 200 with an ETag is stored
    github.requests.clear()
    second = check_maturity(["github:acme/lib"], pol, now=NOW)
    conditional = [r for r in github.requests if r.headers.get("If-None-Match")]
    assert len(conditional) == spent and github.not_modified == spent
    assert 5000 - github.remaining == spent  # the 304s cost nothing
    # the 304s gave back the stored bodies: same signals, contributors still from the Link header
    s1, s2 = first.evidence["sources"][0], second.evidence["sources"][0]
    assert s2["contributors"] == 42 and {k: v for k, v in s1.items()} == {k: v for k, v in s2.items()}
    assert second.findings == first.findings == ()


def test_changed_resource_is_fetched_again(github: FakeGitHub) -> None:
    github.etags = True
    github.add_repo("acme", "lib", stargazers_count=10)
    check_maturity(["github:acme/lib"], policy(), now=NOW)
    github.server.clear()  # upstream changed: new body, new ETag
    github.add_repo("acme", "lib", stargazers_count=11)
    github.etags = True
    report = check_maturity(["github:acme/lib"], policy(), now=NOW)
    assert report.evidence["sources"][0]["stars"] == 11


def test_cache_is_per_credential_and_holds_no_token(github: FakeGitHub,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    github.etags = True
    github.add_repo("acme", "lib")
    check_maturity(["github:acme/lib"], policy(), now=NOW)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    github.requests.clear()
    check_maturity(["github:acme/lib"], policy(), now=NOW)
    # an answer stored without a token is never replayed for a token (private repos differ)
    assert not any(r.headers.get("If-None-Match") for r in github.requests)
    root = Path(os.environ["MLGATE_CACHE_DIR"])
    for entry in http_cache(root):
        text = entry.read_text(encoding="utf-8")
        assert TOKEN not in text and "Authorization" not in text
        assert (entry.stat().st_mode & 0o777) == 0o600


def test_corrupt_cache_entry_is_ignored(github: FakeGitHub) -> None:
    github.etags = True
    github.add_repo("acme", "lib")
    check_maturity(["github:acme/lib"], policy(), now=NOW)
    for entry in http_cache(Path(os.environ["MLGATE_CACHE_DIR"])):
        entry.write_text('{"url": "x", "etag": "W/\\"1\\"", "headers": {}, "body": "%%%"}', encoding="utf-8")
    github.requests.clear()
    report = check_maturity(["github:acme/lib"], policy(), now=NOW)
    assert not any(r.headers.get("If-None-Match") for r in github.requests)
    assert report.evidence["sources"][0]["status"] == "checked"


def test_etag_cache_can_be_turned_off(github: FakeGitHub) -> None:
    github.etags = True
    github.add_repo("acme", "lib")
    check_maturity(["github:acme/lib"], policy("  etag_cache: false\n"), now=NOW)
    assert http_cache(Path(os.environ["MLGATE_CACHE_DIR"])) == []


def test_gitlab_requests_are_conditional_too(httpserver, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    for name in ("GITLAB_TOKEN", "CI_JOB_TOKEN", "CI_API_V4_URL", "GITLAB_URL", "CI_SERVER_URL"):
        monkeypatch.delenv(name, raising=False)
    fake = FakeGitLab(httpserver)
    monkeypatch.setenv("CI_API_V4_URL", f"{fake.base}/api/v4")
    monkeypatch.setenv("GITLAB_URL", "https://gitlab.invalid")  # CI_API_V4_URL wins
    fake.add("grp/proj", pid=7)
    tags: dict[str, str] = {}
    original = fake.handle

    def with_etags(request):  # type: ignore[no-untyped-def]
        response = original(request)
        if request.method != "GET" or response.status_code != 200:
            return response
        tag = f'W/"{abs(hash(response.get_data())):x}"'
        if request.headers.get("If-None-Match") == tag:
            tags[request.path] = "304"
            from werkzeug import Response
            return Response(status=304, headers={"ETag": tag, "RateLimit-Remaining": "1998"})
        response.headers["ETag"] = tag
        return response

    fake.handle = with_etags  # type: ignore[method-assign]
    httpserver.clear()
    httpserver.expect_request(__import__("re").compile(r"^/api/v4/.*")).respond_with_handler(with_etags)
    first = check_maturity(["gitlab:grp/proj"], policy("  min_contributors: 3\n"), now=NOW)
    second = check_maturity(["gitlab:grp/proj"], policy("  min_contributors: 3\n"), now=NOW)
    assert tags  # some answers came back 304 ...
    assert first.evidence["sources"][0]["contributors"] == second.evidence["sources"][0]["contributors"] == 8
    assert second.evidence["sources"][0]["status"] == "checked"  # ... and X-Total still counted


# --- issue activity -------------------------------------------------------------------------------

def test_github_closed_issue_ratio(github: FakeGitHub) -> None:
    github.add_repo("acme", "busy")
    github.add_repo("acme", "ignored")
    # more than the 1000 results search serves: the count is total_count, not the last page
    github.add_issues({"acme/busy": (2400, 2000), "acme/ignored": (80, 4)})
    report = check_maturity(["github:acme/busy", "github:acme/ignored"], policy(RATIO), now=NOW)
    [f] = report.findings
    assert f.rule_id == "MLG-MAT-020" and f.properties["source"] == "github:acme/ignored"
    assert f.properties["opened"] == 80 and f.properties["closed"] == 4 and f.properties["value"] == 0.05
    assert "4 of 80 issues opened in the last 365 days" in f.detail
    busy = report.evidence["sources"][0]
    assert busy["recent_issues"] == 2400 and busy["recent_issues_closed"] == 2000
    assert "repo:acme/busy is:issue created:>=2025-12-02" in github.search_queries
    assert "repo:acme/busy is:issue created:>=2025-12-02 is:closed" in github.search_queries


def test_issue_search_only_when_a_threshold_asks(github: FakeGitHub) -> None:
    github.add_repo("acme", "lib")
    github.add_issues({})
    report = check_maturity(["github:acme/lib"], policy(), now=NOW)
    assert github.search_queries == [] and "recent_issues" not in report.evidence["sources"][0]


def test_no_new_issues_passes_and_skips_second_search(github: FakeGitHub) -> None:
    github.add_repo("acme", "quiet")
    github.add_issues({})
    report = check_maturity(["github:acme/quiet"], policy(RATIO), now=NOW)
    assert report.findings == () and len(github.search_queries) == 1


def test_search_rate_limit_is_unmeasured_not_unreachable(github: FakeGitHub) -> None:
    github.add_repo("acme", "lib")
    github.add_issues({"acme/lib": (10, 1)}, search_limited=True)
    report = check_maturity(["github:acme/lib"], policy(RATIO), now=NOW)
    [f] = report.findings
    assert f.rule_id == "MLG-MAT-013" and "search API rate limit" in f.detail
    assert report.evidence["sources"][0]["status"] == "checked"  # the other signals stand


def test_issues_disabled_is_unmeasured(github: FakeGitHub) -> None:
    github.add_repo("acme", "noissues", has_issues=False)
    github.add_issues({})
    report = check_maturity(["github:acme/noissues"], policy(RATIO), now=NOW)
    assert [f.rule_id for f in report.findings] == ["MLG-MAT-013"]
    assert "issues are disabled" in report.findings[0].detail


def test_gitlab_issue_statistics(httpserver, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    for name in ("GITLAB_TOKEN", "CI_JOB_TOKEN", "CI_API_V4_URL", "CI_SERVER_URL"):
        monkeypatch.delenv(name, raising=False)
    fake = FakeGitLab(httpserver)
    monkeypatch.setenv("GITLAB_URL", fake.base)
    fake.add("grp/good", pid=1, issues=(20, 15))
    fake.add("grp/bad", pid=2, issues=(30, 3))
    fake.add("grp/off", pid=3, issues_enabled=False)
    report = check_maturity(["gitlab:grp/good", "gitlab:grp/bad", "gitlab:grp/off"], policy(RATIO), now=NOW)
    got = sorted((f.rule_id, f.properties["source"]) for f in report.findings)
    assert got == [("MLG-MAT-013", "gitlab:grp/off"), ("MLG-MAT-020", "gitlab:grp/bad")]
    assert fake.stats_args["created_after"] == "2025-12-02T00:00:00Z"
    assert report.evidence["sources"][0]["recent_issues"] == 20


def test_hub_has_no_issue_tracker(httpserver, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    hub = FakeHub(httpserver)
    monkeypatch.setenv("HF_ENDPOINT", hub.base)
    hub.model("acme/m")
    report = check_maturity(["hf:acme/m"], policy(RATIO), now=NOW)
    assert report.findings == ()  # not applicable to the Hub, like stars
    assert "recent_issues" not in report.evidence["sources"][0]


def test_api_base_prefers_ci_api_v4_url() -> None:
    env = {"CI_API_V4_URL": "https://git.corp.example/gitlab/api/v4", "GITLAB_URL": "https://other.example",
           "CI_SERVER_URL": "https://third.example"}
    assert parse_source("gitlab:g/p", env).api_url == "https://git.corp.example/gitlab"
    assert parse_source("gitlab:g/p", {"CI_SERVER_URL": "https://third.example/"}).api_url == \
        "https://third.example"
    assert json.dumps(parse_source("gitlab:g/p", {}).api_url) == '"https://gitlab.com"'
