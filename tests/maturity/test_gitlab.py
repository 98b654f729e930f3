"""GitLab v4 API, answered like gitlab.com: URL-encoded project paths, X-Total pagination headers."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from mlgate.maturity.check import check_maturity

from .conftest import policy

NOW = datetime(2026, 12, 2, tzinfo=timezone.utc)
GL_TOKEN = "glpat-SECRETxxxxxxxxxxxxxxxx"


def gl_json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    h = {"RateLimit-Limit": "2000", "RateLimit-Remaining": "1999", **(headers or {})}
    return Response(json.dumps(data), status=status, headers=h, content_type="application/json")


class FakeGitLab:
    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.base = server.url_for("").rstrip("/")
        self.projects: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.fail: dict[str, list[Response]] = {}
        server.expect_request(re.compile(r"^/api/v4/.*")).respond_with_handler(self.handle)

    def add(self, path: str, *, pid: int, contributors: int = 8, archived: bool = False,
            license: dict[str, str] | None = None, releases: int = 1, totals: bool = True,
            last_commit: str = "2026-11-20T09:00:00.000+00:00", security: bool = True,
            issues: tuple[int, int] = (20, 15), issues_enabled: bool = True) -> None:
        group = path.rsplit("/", 1)[0]
        self.projects[path] = {
            "id": pid, "description": "x", "name": path.rsplit("/", 1)[1],
            "name_with_namespace": path.replace("/", " / "), "path": path.rsplit("/", 1)[1],
            "path_with_namespace": path, "created_at": "2019-05-01T10:00:00.000Z", "default_branch": "main",
            "ssh_url_to_repo": f"git@example:{path}.git", "http_url_to_repo": f"{self.base}/{path}.git",
            "web_url": f"{self.base}/{path}", "readme_url": f"{self.base}/{path}/-/blob/main/README.md",
            "forks_count": 12, "star_count": 150, "last_activity_at": "2026-11-20T09:00:00.000Z",
            "namespace": {"id": 7, "name": group, "path": group, "kind": "group", "full_path": group,
                          "parent_id": None, "web_url": f"{self.base}/groups/{group}"},
            "archived": archived, "visibility": "public", "issues_enabled": issues_enabled,
            "open_issues_count": 9,
            "license_url": f"{self.base}/{path}/-/blob/main/LICENSE",
            "license": license if license is not None else
            {"key": "mit", "name": "MIT License", "nickname": None,
             "html_url": "http://choosealicense.com/licenses/mit/", "source_url": None},
            "_contributors": contributors, "_releases": releases, "_totals": totals,
            "_last_commit": last_commit, "_security": security, "_issues": issues,
        }

    def handle(self, request: Request) -> Response:
        raw = request.environ.get("REQUEST_URI") or request.environ.get("RAW_URI") or request.full_path
        path = urlsplit(raw).path
        args = {k: v[0] for k, v in parse_qs(urlsplit(raw).query).items()}
        self.requests.append((request.method, raw, dict(request.headers)))
        if self.fail.get(path):
            return self.fail[path].pop(0)
        m = re.fullmatch(r"/api/v4/projects/([^/]+)", path)
        if m:
            key = m.group(1).replace("%2F", "/").replace("%2f", "/")
            proj = self.projects.get(key)
            if proj is None or "/" not in key:  # the path must arrive URL-encoded as one segment
                return gl_json({"message": "404 Project Not Found"}, status=404)
            data = {k: v for k, v in proj.items() if not k.startswith("_")}
            if args.get("license") != "true":
                data.pop("license")
            return gl_json(data)
        m = re.fullmatch(r"/api/v4/projects/(\d+)/(.*)", path)
        proj = next((p for p in self.projects.values() if m and str(p["id"]) == m.group(1)), None)
        if not m or proj is None:
            return gl_json({"message": "404 Not Found"}, status=404)
        rest = m.group(2)
        if rest == "repository/contributors":
            return self.page([{"name": f"dev{i}", "email": f"dev{i}@example.org", "commits": 3,
                               "additions": 0, "deletions": 0} for i in range(proj["_contributors"])],
                             args, raw, totals=proj["_totals"])
        if rest == "repository/commits":
            return self.page([{"id": "ed899a2f4b50b4370feeea94676502b42383c746", "short_id": "ed899a2f",
                               "title": "fix", "created_at": proj["_last_commit"],
                               "committed_date": proj["_last_commit"],
                               "authored_date": proj["_last_commit"]}],
                             args, raw)
        if rest == "issues_statistics":
            # counts of the issues created after created_after (GitLab filters like the list)
            self.stats_args = args
            total, closed = proj["_issues"]
            return gl_json({"statistics": {"counts": {"all": total, "closed": closed,
                                                      "opened": total - closed}}})
        if rest == "releases":
            rel = [{"name": f"v{i}", "tag_name": f"v{i}", "created_at": "2026-09-01T10:00:00.000Z",
                    "released_at": "2026-09-01T10:00:00.000Z"} for i in range(proj["_releases"])]
            return self.page(rel, args, raw)
        fm = re.fullmatch(r"repository/files/([^/]+)", rest)
        if fm and request.method == "HEAD":
            name = fm.group(1).replace("%2F", "/")
            if proj["_security"] and name == "SECURITY.md" and args.get("ref") == "main":
                return Response("", status=200, headers={"X-Gitlab-File-Name": "SECURITY.md",
                                                         "X-Gitlab-Size": "120"})
            return Response("", status=404)
        return gl_json({"message": "404 Not Found"}, status=404)

    def page(self, items: list[Any], args: dict[str, str], raw: str, totals: bool = True) -> Response:
        per_page = int(args.get("per_page", 20))
        page = int(args.get("page", 1))
        pages = max(1, -(-len(items) // per_page))
        headers = {"X-Page": str(page), "X-Per-Page": str(per_page),
                   "X-Next-Page": str(page + 1) if page < pages else "",
                   "X-Prev-Page": str(page - 1) if page > 1 else ""}
        if totals:  # gitlab.com omits both for lists of more than 10,000 items
            headers.update({"X-Total": str(len(items)), "X-Total-Pages": str(pages)})
        if page < pages:
            nxt = f"{self.base}{urlsplit(raw).path}?page={page + 1}&per_page={per_page}"
            headers["Link"] = f'<{nxt}>; rel="next"'
        return gl_json(items[(page - 1) * per_page: page * per_page], headers=headers)


@pytest.fixture
def gitlab(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> FakeGitLab:
    for name in ("GITLAB_TOKEN", "CI_JOB_TOKEN", "CI_API_V4_URL", "CI_SERVER_URL", "GITHUB_ACTIONS"):
        monkeypatch.delenv(name, raising=False)
    fake = FakeGitLab(httpserver)
    monkeypatch.setenv("GITLAB_URL", fake.base)
    return fake


STRICT = """  min_stars: 10
  min_contributors: 3
  max_days_since_commit: 60
  max_days_since_release: 365
  require_license: true
  require_security_policy: true
"""


def test_healthy_project_passes(gitlab: FakeGitLab, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITLAB_TOKEN", GL_TOKEN)
    gitlab.add("grp/sub/proj", pid=42, contributors=8)
    report = check_maturity(["gitlab:grp/sub/proj"], policy(STRICT), now=NOW)
    assert report.findings == ()
    src = report.evidence["sources"][0]
    assert src["stars"] == 150 and src["contributors"] == 8 and src["license"] == "MIT"
    assert src["security_policy"] is True and src["author"] == "grp/sub"
    first = gitlab.requests[0]
    assert first[1].startswith("/api/v4/projects/grp%2Fsub%2Fproj?") and "license=true" in first[1]
    assert all(h.get("Private-Token") == GL_TOKEN for _, _, h in gitlab.requests)
    assert GL_TOKEN not in json.dumps(report.to_json())


def test_web_url_of_self_hosted_instance(gitlab: FakeGitLab) -> None:
    gitlab.add("grp/proj", pid=7)
    report = check_maturity([f"{gitlab.base}/grp/proj/-/tree/main"], policy(), now=NOW)
    assert report.evidence["sources"][0]["source"] == "gitlab:grp/proj"
    assert report.findings == ()


def test_contributors_from_x_total_or_unmeasured(gitlab: FakeGitLab) -> None:
    gitlab.add("grp/big", pid=9, contributors=3, totals=False)
    report = check_maturity(["gitlab:grp/big"], policy("  min_contributors: 5\n"), now=NOW)
    # without X-Total / X-Total-Pages the count cannot be read: unmeasured, fail closed
    [f] = report.findings
    assert f.rule_id == "MLG-MAT-013"
    gitlab.add("grp/ok", pid=10, contributors=3)
    report = check_maturity(["gitlab:grp/ok"], policy("  min_contributors: 5\n"), now=NOW)
    [f] = report.findings
    assert f.rule_id == "MLG-MAT-002" and f.properties["value"] == 3
    calls = [r for r in gitlab.requests if "/10/repository/contributors" in r[1]]
    assert len(calls) == 1 and "per_page=1" in calls[0][1]


def test_archived_without_license_or_release(gitlab: FakeGitLab) -> None:
    gitlab.add("grp/old", pid=11, archived=True, license={}, releases=0, security=False,
               last_commit="2022-01-01T00:00:00.000+00:00")
    report = check_maturity(["gitlab:grp/old"], policy(STRICT), now=NOW)
    assert sorted(f.rule_id for f in report.findings) == [
        "MLG-MAT-001", "MLG-MAT-003", "MLG-MAT-004", "MLG-MAT-009", "MLG-MAT-010"]


def test_missing_project_is_a_finding(gitlab: FakeGitLab) -> None:
    report = check_maturity(["gitlab:grp/nope"], policy(), now=NOW)
    [f] = report.findings
    assert f.rule_id == "MLG-MAT-014" and "404" in f.detail


def test_429_then_success(gitlab: FakeGitLab) -> None:
    gitlab.add("grp/busy", pid=12)
    gitlab.fail["/api/v4/projects/grp%2Fbusy"] = [
        gl_json({"message": "Retry later"}, status=429, headers={"Retry-After": "1"})]
    report = check_maturity(["gitlab:grp/busy"], policy(), now=NOW)
    assert report.findings == () and report.complete
    assert sum(1 for r in gitlab.requests if r[1].startswith("/api/v4/projects/grp%2Fbusy")) == 2


def test_long_retry_after_is_not_waited_for(gitlab: FakeGitLab) -> None:
    gitlab.add("grp/slow", pid=13)
    gitlab.fail["/api/v4/projects/grp%2Fslow"] = [
        gl_json({"message": "Retry later"}, status=429, headers={"Retry-After": "3600"})]
    report = check_maturity(["gitlab:grp/slow"], policy(), now=NOW)
    [f] = report.findings
    assert f.rule_id == "MLG-MAT-015" and "429" in f.detail


def test_ci_job_token_used_when_no_private_token(gitlab: FakeGitLab, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI_JOB_TOKEN", "job-token-SECRET-123")
    gitlab.add("grp/job", pid=21)
    report = check_maturity(["gitlab:grp/job"], policy(), now=NOW)
    assert report.findings == ()
    assert all(h.get("Job-Token") == "job-token-SECRET-123" and "Private-Token" not in h
               for _, _, h in gitlab.requests)
    assert "job-token-SECRET-123" not in json.dumps(report.to_json())


def test_instance_token_is_never_sent_to_another_gitlab_host(
        gitlab: FakeGitLab, monkeypatch: pytest.MonkeyPatch) -> None:
    # token-exfiltration attack: a card names a project on another GitLab host than the
    # runner's own instance (self-managed runner, gitlab.com URL): fetched without the token
    from mlgate.maturity.base import SourceRef
    from mlgate.maturity.gitlab import GitLabSource

    monkeypatch.setenv("GITLAB_URL", "https://gitlab.internal.example")
    monkeypatch.setenv("GITLAB_TOKEN", GL_TOKEN)
    monkeypatch.setenv("CI_JOB_TOKEN", "job-token-SECRET-123")
    gitlab.add("grp/other", pid=31)
    signals = GitLabSource(retries=0).fetch(SourceRef("gitlab", "grp/other", gitlab.base))
    assert signals.stars == 150
    assert gitlab.requests
    for _, _, headers in gitlab.requests:
        assert "Private-Token" not in headers and "Job-Token" not in headers
    # the runner's own instance still gets it
    monkeypatch.setenv("GITLAB_URL", gitlab.base)
    gitlab.requests.clear()
    GitLabSource(retries=0).fetch(SourceRef("gitlab", "grp/other", gitlab.base))
    assert all(h.get("Private-Token") == GL_TOKEN for _, _, h in gitlab.requests)
