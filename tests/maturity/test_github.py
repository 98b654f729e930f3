from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timezone

import pytest
from werkzeug import Request, Response

from mlgate.cli import main
from mlgate.maturity.check import check_maturity

from .conftest import TOKEN, FakeGitHub, gh_json, gh_repo, policy

NOW = datetime(2026, 12, 2, tzinfo=timezone.utc)
STRICT = """  min_stars: 100
  min_contributors: 5
  max_days_since_commit: 90
  max_days_since_release: 365
  require_license: true
  require_security_policy: true
"""


def ids(report):
    return sorted(f.rule_id for f in report.findings)


def test_healthy_repo_passes(github: FakeGitHub) -> None:
    github.add_repo("acme", "good", contributors=12)
    report = check_maturity(["github:acme/good"], policy(STRICT), now=NOW)
    assert report.findings == ()
    assert report.complete
    src = report.evidence["sources"][0]
    assert src["status"] == "checked"
    assert src["stars"] == 4200 and src["forks"] == 310 and src["contributors"] == 12
    assert src["license"] == "Apache-2.0" and src["security_policy"] is True
    assert src["last_release"] == "2026-10-01T12:00:00Z"


def test_contributors_counted_from_last_page_link(github: FakeGitHub) -> None:
    github.add_repo("acme", "big", contributors=237)
    report = check_maturity(["https://github.com/acme/big"], policy("  min_contributors: 238\n"), now=NOW)
    assert report.evidence["sources"][0]["contributors"] == 237
    [f] = report.findings
    assert f.rule_id == "MLG-MAT-002" and f.properties["value"] == 237 and f.properties["threshold"] == 238
    # one request, not 237 pages: the count comes from the Link rel="last" page number
    calls = [r for r in github.requests if r.path.endswith("/contributors")]
    assert len(calls) == 1 and calls[0].args["per_page"] == "1" and calls[0].args["anon"] == "true"


def test_archived_repo_fails(github: FakeGitHub) -> None:
    github.add_repo("acme", "old", archived=True)
    report = check_maturity(["github:acme/old"], policy(), now=NOW)
    assert ids(report) == ["MLG-MAT-001"]
    assert report.findings[0].severity.value == "high"


def test_stale_repo_and_missing_release_fail_thresholds(github: FakeGitHub) -> None:
    github.add_repo("acme", "stale", last_commit="2023-01-05T00:00:00Z", release=None, security=None,
                    license=None, stargazers_count=3)
    report = check_maturity(["github:acme/stale"], policy(STRICT), now=NOW)
    assert ids(report) == ["MLG-MAT-003", "MLG-MAT-004", "MLG-MAT-005", "MLG-MAT-009", "MLG-MAT-010"]
    stale = next(f for f in report.findings if f.rule_id == "MLG-MAT-003")
    assert stale.properties["value"] == (NOW - datetime(2023, 1, 5, tzinfo=timezone.utc)).days
    assert stale.properties["threshold"] == 90


def test_security_policy_found_in_dot_github(github: FakeGitHub) -> None:
    github.add_repo("acme", "sec", security=".github/SECURITY.md")
    report = check_maturity(["github:acme/sec"], policy("  require_security_policy: true\n"), now=NOW)
    assert report.findings == ()


def test_trusted_owner_skips_popularity_thresholds(github: FakeGitHub) -> None:
    github.add_repo("acme", "tiny", stargazers_count=0, contributors=1)
    pol = policy("  min_stars: 100\n  min_contributors: 5\n  trusted: ['github:acme']\n")
    assert check_maturity(["github:acme/tiny"], pol, now=NOW).findings == ()


def test_per_source_override(github: FakeGitHub) -> None:
    github.add_repo("acme", "tiny", stargazers_count=2)
    pol = policy("  min_stars: 100\n  overrides:\n    github:acme/tiny: {min_stars: 1}\n")
    assert check_maturity(["github:acme/tiny"], pol, now=NOW).findings == ()
    pol = policy("  min_stars: 100\n  overrides:\n    gitlab: {min_stars: 1}\n")
    assert ids(check_maturity(["github:acme/tiny"], pol, now=NOW)) == ["MLG-MAT-005"]


def test_not_found_is_a_finding(github: FakeGitHub) -> None:
    github.route("/repos/acme/gone", lambda r: gh_json(
        {"message": "Not Found", "documentation_url": "https://docs.github.com/rest/repos/repos#get-a-repository",
         "status": "404"}, status=404))
    report = check_maturity(["github:acme/gone"], policy(), now=NOW)
    [f] = report.findings
    assert f.rule_id == "MLG-MAT-014" and "404" in f.detail
    assert not report.complete


def test_unmeasured_contributors_fail_closed(github: FakeGitHub) -> None:
    # GitHub refuses the contributor list of very large repositories with 403
    # (registered first: the first matching handler answers)
    github.route("/repos/acme/huge2/contributors", lambda r: gh_json(
        {"message": "The history or contributor list is too large to list contributors for this "
         "repository via the API.", "documentation_url": "https://docs.github.com/rest", "status": "403"},
        status=403))
    github.add_repo("acme", "huge2")
    report = check_maturity(["github:acme/huge2"], policy("  min_contributors: 5\n"), now=NOW)
    [f] = report.findings
    assert f.rule_id == "MLG-MAT-013" and f.severity.value == "medium"
    assert "too large" in f.detail
    pol = policy("  min_contributors: 5\n  unmeasured: warn\n")
    warn = check_maturity(["github:acme/huge2"], pol, now=NOW)
    assert warn.findings[0].severity.value == "low"


def test_429_with_retry_after_is_retried(github: FakeGitHub) -> None:
    calls = {"n": 0}

    def flaky(request: Request) -> Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return gh_json({"message": "Too Many Requests"}, status=429, headers={"Retry-After": "1"})
        return gh_json(gh_repo(github.base, "acme", "busy2"))

    github.route("/repos/acme/busy2", flaky)
    github.add_repo("acme", "busy2")
    start = time.monotonic()
    report = check_maturity(["github:acme/busy2"], policy(), now=NOW)
    assert report.findings == () and report.complete
    assert calls["n"] == 2
    assert time.monotonic() - start >= 0.9  # Retry-After honoured


def test_5xx_retried_then_gives_up_with_finding(github: FakeGitHub) -> None:
    calls = {"n": 0}

    def down(request: Request) -> Response:
        calls["n"] += 1
        return gh_json({"message": "Server Error"}, status=502)

    github.route("/repos/acme/down", down)
    report = check_maturity(["github:acme/down"], policy("  retries: 2\n"), now=NOW)
    [f] = report.findings
    assert f.rule_id == "MLG-MAT-015" and f.severity.value == "high" and "502" in f.detail
    assert calls["n"] == 3  # first try + 2 retries, bounded
    warn = check_maturity(["github:acme/down"], policy("  retries: 0\n  on_error: warn\n"), now=NOW)
    assert warn.findings[0].severity.value == "low"


def test_rate_limit_exhausted_gives_clear_finding(github: FakeGitHub,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    reset = int(time.time()) + 1800
    github.route("/repos/acme/limited", lambda r: Response(
        json.dumps({"message": "API rate limit exceeded for 203.0.113.7. (But here's the good news: "
                    "Authenticated requests get a higher rate limit.)",
                    "documentation_url": "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"}),
        status=403, content_type="application/json",
        headers={"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "0", "X-RateLimit-Used": "60",
                 "X-RateLimit-Reset": str(reset), "X-RateLimit-Resource": "core"}))
    start = time.monotonic()
    rc = main(["maturity", "github:acme/limited", "--policy", "commercial-safe", "--format", "json"])
    assert time.monotonic() - start < 10  # did not wait 30 minutes
    out, err = capsys.readouterr()
    assert rc == 1 and "Traceback" not in out + err
    data = json.loads(out)
    [f] = data["findings"]
    assert f["rule_id"] == "MLG-MAT-015" and "rate limit exceeded" in f["detail"]
    assert "resets at" in f["detail"]
    assert data["complete"] is False


def test_token_sent_but_never_shown(github: FakeGitHub, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str],
                                    caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    github.add_repo("acme", "good")
    github.route("/repos/acme/secret", lambda r: gh_json(
        {"message": f"Bad credentials {r.headers.get('Authorization')}",
         "documentation_url": "https://docs.github.com/rest"}, status=401))
    caplog.set_level(logging.DEBUG)
    rc = main(["maturity", "github:acme/good", "github:acme/secret", "--format", "json",
               "--policy", "research"])
    out, err = capsys.readouterr()
    assert rc == 1
    assert all(r.headers.get("Authorization") == f"token {TOKEN}" for r in github.requests)
    # the only place the token may appear is the GitHub Actions mask command
    masked = err.replace(f"::add-mask::{TOKEN}\n", "")
    assert f"::add-mask::{TOKEN}" in err
    assert TOKEN not in masked and TOKEN not in out and TOKEN not in caplog.text
    data = json.loads(out)  # stdout is the report alone
    assert any(f["rule_id"] == "MLG-MAT-014" and "***" in f["detail"] for f in data["findings"])


def test_offline_is_a_finding_not_a_pass(github: FakeGitHub) -> None:
    report = check_maturity(["github:acme/good"], policy(), offline=True, now=NOW)
    [f] = report.findings
    assert f.rule_id == "MLG-MAT-016" and f.severity.value == "medium" and not report.complete
    assert github.requests == []
    warn = check_maturity(["github:acme/good"], policy("  offline: warn\n"), offline=True, now=NOW)
    assert warn.findings[0].severity.value == "info"


def test_private_repo_403_is_not_found_without_retry(github: FakeGitHub) -> None:
    github.route("/repos/acme/private", lambda r: gh_json(
        {"message": "Resource not accessible by integration",
         "documentation_url": "https://docs.github.com/rest/repos/repos#get-a-repository", "status": "403"},
        status=403))
    report = check_maturity(["github:acme/private"], policy(), now=NOW)
    [f] = report.findings
    assert f.rule_id == "MLG-MAT-014" and "403" in f.detail and "GITHUB_TOKEN" in f.detail
    assert len(github.requests) == 1  # an ordinary 403 is not retried


def test_secondary_rate_limit_retry_after_is_honoured(github: FakeGitHub) -> None:
    calls = {"n": 0}

    def abuse(request: Request) -> Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return gh_json({"message": "You have exceeded a secondary rate limit. Please wait a few minutes "
                            "before you try again.", "documentation_url": "https://docs.github.com/rest"},
                           status=403, headers={"Retry-After": "1"})
        return gh_json(gh_repo(github.base, "acme", "abuse"))

    github.route("/repos/acme/abuse", abuse)
    github.add_repo("acme", "abuse")
    assert check_maturity(["github:acme/abuse"], policy(), now=NOW).findings == ()
    assert calls["n"] == 2


def test_primary_rate_limit_waited_for_when_reset_is_near(github: FakeGitHub) -> None:
    calls = {"n": 0}

    def limited(request: Request) -> Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return Response(json.dumps({"message": "API rate limit exceeded for user ID 1.",
                                        "documentation_url": "https://docs.github.com/rest"}),
                            status=403, content_type="application/json",
                            headers={"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "0",
                                     "X-RateLimit-Used": "5000", "X-RateLimit-Resource": "core",
                                     "X-RateLimit-Reset": str(int(time.time()) + 1)})
        return gh_json(gh_repo(github.base, "acme", "soon"))

    github.route("/repos/acme/soon", limited)
    github.add_repo("acme", "soon")
    report = check_maturity(["github:acme/soon"], policy(), now=NOW)  # max_wait 5 s
    assert report.findings == () and calls["n"] == 2


def test_cache_reuses_signals_within_ttl(github: FakeGitHub, monkeypatch: pytest.MonkeyPatch,
                                         tmp_path) -> None:
    monkeypatch.setenv("MLGATE_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    github.add_repo("acme", "cached", archived=True, contributors=40)
    pol = policy("  cache_ttl: 600\n  min_contributors: 5\n")
    first = check_maturity(["github:acme/cached"], pol, now=NOW)
    used = len(github.requests)
    assert used >= 5
    second = check_maturity(["github:acme/cached"], pol, now=NOW)
    assert len(github.requests) == used  # answered from the cache
    assert [f.rule_id for f in second.findings] == [f.rule_id for f in first.findings] == ["MLG-MAT-001"]
    assert second.evidence["sources"][0]["cached"] is True
    assert second.evidence["sources"][0]["last_commit"] == first.evidence["sources"][0]["last_commit"]
    [entry] = (tmp_path / "maturity").glob("*.json")
    assert TOKEN not in entry.read_text()
    data = json.loads(entry.read_text())
    data["fetched_at"] -= 3600  # expired: measured again
    entry.write_text(json.dumps(data))
    check_maturity(["github:acme/cached"], pol, now=NOW)
    assert len(github.requests) > used
    entry.write_text("{not json")  # corrupt: ignored, measured again
    assert check_maturity(["github:acme/cached"], pol, now=NOW).evidence["sources"][0]["cached"] is False


def test_mask_command_never_lands_in_a_redirected_json_report(
        github: FakeGitHub, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # token-leak attack on artifacts: `mlgate maturity --format json > m.json` on GitHub Actions
    # used to start m.json with "::add-mask::<token>"; stdout must be the report alone
    token = "ghp_OtherSECRETtoken0987654321zyxwvutsrqpo"  # masks are printed once per process
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_TOKEN", token)
    github.add_repo("acme", "good")
    main(["maturity", "github:acme/good", "--format", "json", "--policy", "research"])
    out, err = capsys.readouterr()
    assert token not in out
    assert json.loads(out)["kind"] == "maturity"
    assert f"::add-mask::{token}" in err
