"""Local servers that answer like the real GitHub REST, GitLab v4 and Hugging Face Hub APIs."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, urlencode

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from mlgate.core.policy import Policy, parse_policy_text

TOKEN = "ghp_SECRETtoken1234567890abcdefghijklmn"

GH_RATE = {"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "4999", "X-RateLimit-Used": "1",
           "X-RateLimit-Resource": "core"}


def gh_json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    h = {**GH_RATE, "X-RateLimit-Reset": str(int(time.time()) + 3600), **(headers or {})}
    return Response(json.dumps(data), status=status, headers=h,
                    content_type="application/json; charset=utf-8")


def paginate(request: Request, items: list[Any], base: str) -> Response:
    """GitHub-style pagination: per_page/page parameters, Link header with next/last/prev/first."""
    per_page = min(int(request.args.get("per_page", 30)), 100)
    page = int(request.args.get("page", 1))
    pages = max(1, -(-len(items) // per_page))
    chunk = items[(page - 1) * per_page : page * per_page]
    args = {k: v for k, v in request.args.items() if k != "page"}

    def link(p: int) -> str:
        return f"{base}{request.path}?{urlencode({**args, 'page': p})}"

    rels = []
    if page < pages:
        rels += [f'<{link(page + 1)}>; rel="next"', f'<{link(pages)}>; rel="last"']
    if page > 1:
        rels += [f'<{link(page - 1)}>; rel="prev"', f'<{link(1)}>; rel="first"']
    headers = {"Link": ", ".join(rels)} if rels else {}
    return gh_json(chunk, headers=headers)


def gh_repo(base: str, owner: str, name: str, **over: Any) -> dict[str, Any]:
    full = f"{owner}/{name}"
    api = f"{base}/repos/{full}"
    data: dict[str, Any] = {
        "id": 1296269, "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5", "name": name, "full_name": full,
        "owner": {"login": owner, "id": 1, "type": "Organization", "url": f"{base}/users/{owner}",
                  "html_url": f"https://github.com/{owner}"},
        "private": False, "html_url": f"https://github.com/{full}", "description": "A repo",
        "fork": False, "url": api, "contributors_url": f"{api}/contributors",
        "releases_url": f"{api}/releases{{/id}}", "commits_url": f"{api}/commits{{/sha}}",
        "contents_url": f"{api}/contents/{{+path}}",
        "created_at": "2016-01-01T00:00:00Z", "updated_at": "2026-11-30T10:00:00Z",
        "pushed_at": "2026-11-30T10:00:00Z", "homepage": "", "size": 108,
        "stargazers_count": 4200, "watchers_count": 4200, "language": "Python",
        "has_issues": True, "forks_count": 310, "archived": False, "disabled": False,
        "open_issues_count": 57, "license": {"key": "apache-2.0", "name": "Apache License 2.0",
                                             "spdx_id": "Apache-2.0", "url": f"{base}/licenses/apache-2.0",
                                             "node_id": "MDc6TGljZW5zZTI="},
        "forks": 310, "open_issues": 57, "watchers": 4200, "default_branch": "main",
        "visibility": "public", "topics": ["ml"], "subscribers_count": 40, "network_count": 310,
    }
    data.update(over)
    return data


class FakeGitHub:
    """A GitHub REST API for one or more repos, on a pytest-httpserver."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.base = server.url_for("").rstrip("/")
        self.requests: list[Request] = []
        self.etags = False  # True: answer like GitHub with ETags and 304 Not Modified
        self.not_modified = 0
        self.remaining = 5000  # X-RateLimit-Remaining; a 304 does not use any

    def add_repo(self, owner: str, name: str, *, contributors: int = 12,
                 last_commit: str = "2026-11-30T10:00:00Z", release: str | None = "2026-10-01T12:00:00Z",
                 security: str | None = "SECURITY.md", **repo: Any) -> None:
        full = f"{owner}/{name}"
        base = self.base
        people = [{"login": f"user{i}", "id": i, "type": "User", "contributions": 100 - i % 100,
                   "url": f"{base}/users/user{i}"} for i in range(contributors)]
        self.route(f"/repos/{full}", lambda r: gh_json(gh_repo(base, owner, name, **repo)))
        self.route(f"/repos/{full}/contributors", lambda r: paginate(r, people, base))
        commit = {"sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e",
                  "url": f"{base}/repos/{full}/commits/6dcb",
                  "commit": {"message": "fix", "author": {"name": "a", "email": "a@x", "date": last_commit},
                             "committer": {"name": "a", "email": "a@x", "date": last_commit}}}
        self.route(f"/repos/{full}/commits", lambda r: paginate(r, [commit], base))
        if release is None:
            self.route(f"/repos/{full}/releases/latest", lambda r: gh_json(
                {"message": "Not Found", "documentation_url":
                 "https://docs.github.com/rest/releases/releases#get-the-latest-release", "status": "404"},
                status=404))
        else:
            self.route(f"/repos/{full}/releases/latest", lambda r: gh_json(
                {"url": f"{base}/repos/{full}/releases/1", "id": 1, "tag_name": "v1.0.0", "name": "v1.0.0",
                 "draft": False, "prerelease": False, "created_at": release, "published_at": release}))
        for path in ("SECURITY.md", ".github/SECURITY.md", "docs/SECURITY.md"):
            if path == security:
                self.route(f"/repos/{full}/contents/{path}", lambda r, p=path: gh_json(
                    {"type": "file", "encoding": "base64", "size": 5, "name": p.rsplit("/", 1)[-1],
                     "path": p, "content": "IyBTZWMK", "sha": "3d21ec53a331a6f037a91c368710b99387d012c1",
                     "url": f"{base}/repos/{full}/contents/{p}"}))
            else:
                self.route(f"/repos/{full}/contents/{path}", lambda r: gh_json(
                    {"message": "Not Found", "documentation_url": "https://docs.github.com/rest/repos/contents",
                     "status": "404"}, status=404))

    def add_issues(self, opened: dict[str, tuple[int, int]], *, search_limited: bool = False) -> None:
        """/search/issues for ``repo:o/r is:issue created:>=DATE [is:closed]``: ``opened`` maps
        o/r -> (issues created since the date, how many of those are closed)."""
        self.search_queries: list[str] = []

        def handler(request: Request) -> Response:
            q = request.args.get("q", "")
            self.search_queries.append(q)
            reset = str(int(time.time()) + 40)
            limit = {"X-RateLimit-Limit": "30", "X-RateLimit-Resource": "search", "X-RateLimit-Reset": reset}
            if search_limited:
                return Response(json.dumps({
                    "message": "API rate limit exceeded for 203.0.113.7.",
                    "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}),
                    status=403, content_type="application/json",
                    headers={**limit, "X-RateLimit-Remaining": "0", "X-RateLimit-Used": "30"})
            terms = q.split()
            repo = next(t[5:] for t in terms if t.startswith("repo:"))
            total, closed = opened.get(repo, (0, 0))
            count = closed if "is:closed" in terms else total
            item = {"url": f"{self.base}/repos/{repo}/issues/1", "number": 1, "title": "bug",
                    "state": "closed" if "is:closed" in terms else "open", "score": 1.0,
                    "pull_request": None, "user": {"login": "u", "id": 1}}
            per_page = int(request.args.get("per_page", 30))
            headers = {**limit, "X-RateLimit-Remaining": "29", "X-RateLimit-Used": "1"}
            if count > per_page:  # GitHub serves at most 1000 search results
                last = -(-min(count, 1000) // per_page)
                url = f"{self.base}/search/issues?q={quote_plus(q)}&per_page={per_page}&page="
                headers["Link"] = f'<{url}2>; rel="next", <{url}{last}>; rel="last"'
            return Response(json.dumps({"total_count": count, "incomplete_results": False,
                                        "items": [item] * min(count, per_page)}),
                            headers=headers, content_type="application/json; charset=utf-8")

        self.route("/search/issues", handler)

    def route(self, path: str, handler: Callable[[Request], Response]) -> None:
        def wrapped(request: Request) -> Response:
            self.requests.append(request)
            response = handler(request)
            if not self.etags or response.status_code != 200:
                self.remaining -= 1
                return response
            # GitHub: a strong-looking weak ETag of the representation; If-None-Match -> 304
            # with no body, the same ETag and rate-limit headers showing no budget spent
            tag = 'W/"' + hashlib.sha256(response.get_data()).hexdigest()[:40] + '"'
            if request.headers.get("If-None-Match") == tag:
                self.not_modified += 1
                return Response(status=304, headers={
                    **GH_RATE, "X-RateLimit-Remaining": str(self.remaining), "ETag": tag,
                    "X-RateLimit-Reset": str(int(time.time()) + 3600),
                    "Cache-Control": "private, max-age=60, s-maxage=60", "Vary": "Accept, Authorization"})
            self.remaining -= 1
            response.headers["ETag"] = tag
            response.headers["X-RateLimit-Remaining"] = str(self.remaining)
            response.headers["Cache-Control"] = "private, max-age=60, s-maxage=60"
            return response

        self.server.expect_request(path).respond_with_handler(wrapped)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own cache dir (signals cache and ETag cache)."""
    root = tmp_path_factory.mktemp("mlgate-cache")
    monkeypatch.setenv("MLGATE_CACHE_DIR", str(root))
    return root


@pytest.fixture
def github(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> FakeGitHub:
    fake = FakeGitHub(httpserver)
    monkeypatch.setenv("GITHUB_API_URL", fake.base)
    for name in ("GITHUB_TOKEN", "GH_TOKEN", "GITLAB_TOKEN", "CI_JOB_TOKEN", "HF_TOKEN", "GITHUB_ACTIONS",
                 "CI_API_V4_URL", "GITLAB_URL", "CI_SERVER_URL"):
        monkeypatch.delenv(name, raising=False)
    return fake


def policy(text: str = "") -> Policy:
    return parse_policy_text("version: 1\nmaturity:\n  retries: 2\n  max_wait: 5\n" + text)
