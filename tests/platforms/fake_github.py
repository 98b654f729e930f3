"""A local server that answers like GitHub's REST API (GitHub Enterprise style: /api/v3).

Response bodies and headers follow the shapes GitHub documents: check runs, issue comments
with Link pagination, commit statuses, releases and asset uploads, rate-limit headers, and
GitHub's error bodies (401 Bad credentials, 403 Resource not accessible by integration,
422 Validation Failed)."""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from werkzeug import Request, Response

PREFIX = "/api/v3"
DOCS = "https://docs.github.com/rest"


def user(login: str, uid: int = 41898282, kind: str = "Bot") -> dict[str, Any]:
    """A simple-user object as GitHub returns it."""
    api = "https://api.github.com/users/" + login
    return {
        "login": login, "id": uid, "node_id": "MDM6Qm90NDE4OTgyODI=",
        "avatar_url": f"https://avatars.githubusercontent.com/in/{uid}?v=4", "gravatar_id": "",
        "url": api, "html_url": f"https://github.com/apps/{login}", "followers_url": f"{api}/followers",
        "following_url": f"{api}/following{{/other_user}}", "gists_url": f"{api}/gists{{/gist_id}}",
        "starred_url": f"{api}/starred{{/owner}}{{/repo}}", "subscriptions_url": f"{api}/subscriptions",
        "organizations_url": f"{api}/orgs", "repos_url": f"{api}/repos",
        "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events", "type": kind, "user_view_type": "public",
        "site_admin": False,
    }


ACTIONS_APP = {
    "id": 15368, "slug": "github-actions", "node_id": "MDM6QXBwMTUzNjg=",
    "owner": user("github", 9919, "Organization"), "name": "GitHub Actions",
    "description": "Automate your workflow from idea to production",
    "external_url": "https://help.github.com/en/actions", "html_url": "https://github.com/apps/github-actions",
    "created_at": "2018-07-30T09:30:17Z", "updated_at": "2024-04-10T20:33:16Z",
    "permissions": {"checks": "write", "contents": "write", "issues": "write", "metadata": "read",
                    "pull_requests": "write", "statuses": "write"},
    "events": ["check_run", "pull_request", "push"],
}
BOT = user("github-actions[bot]")


def missing(resource: str, field_name: str) -> dict[str, str]:
    return {"resource": resource, "code": "missing_field", "field": field_name}


@dataclass
class Call:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any
    status: int = 0
    response: Any = None


@dataclass
class FakeGitHub:
    base: str  # http://127.0.0.1:PORT
    repo: str = "acme/models"
    token: str = "ghs_SeCrEtT0k3n"
    comments: list[dict[str, Any]] = field(default_factory=list)
    check_runs: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    releases: list[dict[str, Any]] = field(default_factory=list)
    assets: list[dict[str, Any]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    per_page: int = 2
    forbid_checks: bool = False
    fail_times: int = 0  # answer this many requests with 502 first
    rate_limited_times: int = 0  # answer this many with GitHub's secondary rate limit 403
    _next_id: int = 1000

    @property
    def api(self) -> str:
        return self.base + PREFIX

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _headers(self) -> dict[str, str]:
        return {
            "Content-Type": "application/json; charset=utf-8",
            "X-RateLimit-Limit": "5000",
            "X-RateLimit-Remaining": "4990",
            "X-RateLimit-Reset": str(int(time.time()) + 3600),
            "X-RateLimit-Used": "10",
            "X-RateLimit-Resource": "core",
            "X-GitHub-Api-Version-Selected": "2022-11-28",
            "X-GitHub-Request-Id": "0000:1111:2222",
        }

    def _json(self, data: Any, status: int = 200, extra: dict[str, str] | None = None) -> Response:
        headers = self._headers()
        headers.update(extra or {})
        return Response(json.dumps(data), status=status, headers=headers)

    def _error(self, status: int, message: str, **extra: Any) -> Response:
        return self._json({"message": message, "documentation_url": DOCS, "status": str(status), **extra},
                          status)

    def handle(self, request: Request) -> Response:
        resp = self._handle(request)
        call = self.calls[-1]
        call.status = resp.status_code
        if resp.mimetype == "application/json":
            call.response = json.loads(resp.get_data())
        return resp

    def _handle(self, request: Request) -> Response:
        body: Any = None
        raw = request.get_data()
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw
        self.calls.append(Call(request.method, request.path, request.query_string.decode(),
                               dict(request.headers), body))
        if self.fail_times > 0:
            self.fail_times -= 1
            return Response("<html>502 Bad Gateway</html>", status=502,
                            headers={"Content-Type": "text/html"})
        if self.rate_limited_times > 0:
            self.rate_limited_times -= 1
            resp = self._error(403, "You have exceeded a secondary rate limit. Please wait a few minutes "
                               "before you try again.")
            resp.headers["Retry-After"] = "0"
            return resp
        if request.headers.get("Authorization") != f"token {self.token}" and \
                request.headers.get("Authorization") != f"Bearer {self.token}":
            return self._error(401, "Bad credentials")
        path = request.path
        r = f"{PREFIX}/repos/{self.repo}"
        m = request.method
        if m == "POST" and path == f"{r}/check-runs":
            if self.forbid_checks:
                return self._error(403, "Resource not accessible by integration")
            return self._create_check_run(body)
        if (mm := re.fullmatch(rf"{r}/check-runs/(\d+)", path)) and m == "PATCH":
            return self._patch_check_run(int(mm.group(1)), body)
        if (mm := re.fullmatch(rf"{r}/issues/(\d+)/comments", path)):
            return self._list_comments(int(mm.group(1)), request) if m == "GET" else \
                self._create_comment(int(mm.group(1)), body)
        if (mm := re.fullmatch(rf"{r}/issues/comments/(\d+)", path)) and m == "PATCH":
            return self._edit_comment(int(mm.group(1)), body)
        if (mm := re.fullmatch(rf"{r}/statuses/([0-9a-f]{{40}})", path)) and m == "POST":
            return self._create_status(mm.group(1), body)
        if path == f"{r}/releases" and m == "POST":
            return self._create_release(body)
        upload = rf"/api/uploads/repos/{self.repo}/releases/(\d+)/assets"
        if (mm := re.fullmatch(upload, path)) and m == "POST":
            return self._upload(int(mm.group(1)), request, raw)
        return self._error(404, "Not Found")

    # --- check runs ---------------------------------------------------------------------------
    def _create_check_run(self, body: dict[str, Any]) -> Response:
        missing = [k for k in ("name", "head_sha") if k not in body]
        if missing:
            return self._error(422, "Invalid request.", errors=[f"\"{k}\" wasn't supplied." for k in missing])
        if body.get("conclusion") == "action_required" and not body.get("details_url"):
            return self._error(422, "Validation Failed",
                               errors=[missing("CheckRun", "details_url")])
        anns = (body.get("output") or {}).get("annotations") or []
        if len(anns) > 50:
            return self._error(422, "Invalid request.", errors=["Only 50 annotations are allowed"])
        run_id = self._id()
        run = {
            "id": run_id,
            "head_sha": body["head_sha"],
            "node_id": "CR_kwDOA",
            "external_id": body.get("external_id", ""),
            "url": f"{self.api}/repos/{self.repo}/check-runs/{run_id}",
            "html_url": f"{self.base}/{self.repo}/runs/{run_id}",
            "details_url": body.get("details_url", ""),
            "status": body.get("status", "queued"),
            "conclusion": body.get("conclusion"),
            "started_at": "2026-01-01T00:00:00Z",
            "completed_at": "2026-01-01T00:00:01Z",
            "output": {
                "title": (body.get("output") or {}).get("title"),
                "summary": (body.get("output") or {}).get("summary"),
                "text": None,
                "annotations_count": len(anns),
                "annotations_url": f"{self.api}/repos/{self.repo}/check-runs/{run_id}/annotations",
            },
            "name": body["name"],
            "check_suite": {"id": 5},
            "app": ACTIONS_APP,
            "pull_requests": [],
            "_annotations": list(anns),
        }
        self.check_runs.append(run)
        return self._json({k: v for k, v in run.items() if not k.startswith("_")}, 201)

    def _patch_check_run(self, run_id: int, body: dict[str, Any]) -> Response:
        run = next((c for c in self.check_runs if c["id"] == run_id), None)
        if run is None:
            return self._error(404, "Not Found")
        out = body.get("output") or {}
        if out and ("title" not in out or "summary" not in out):
            return self._error(422, "Invalid request.", errors=["output needs title and summary"])
        anns = out.get("annotations") or []
        if len(anns) > 50:
            return self._error(422, "Invalid request.", errors=["Only 50 annotations are allowed"])
        run["_annotations"].extend(anns)
        run["output"]["annotations_count"] = len(run["_annotations"])
        return self._json({k: v for k, v in run.items() if not k.startswith("_")})

    # --- issue comments -----------------------------------------------------------------------
    def _comment_json(self, c: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": c["id"],
            "node_id": "IC_kwDOA",
            "url": f"{self.api}/repos/{self.repo}/issues/comments/{c['id']}",
            "html_url": f"{self.base}/{self.repo}/pull/{c['issue']}#issuecomment-{c['id']}",
            "body": c["body"],
            "user": BOT if c["login"] == BOT["login"] else user(c["login"], 583231, "User"),
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
            "issue_url": f"{self.api}/repos/{self.repo}/issues/{c['issue']}",
            "author_association": "NONE",
        }

    def add_comment(self, issue: int, body: str, login: str = "someone") -> dict[str, Any]:
        c = {"id": self._id(), "issue": issue, "body": body, "login": login}
        self.comments.append(c)
        return c

    def _list_comments(self, issue: int, request: Request) -> Response:
        items = [c for c in self.comments if c["issue"] == issue]
        per = min(int(request.args.get("per_page", self.per_page)), self.per_page)
        page = int(request.args.get("page", "1"))
        last = max(1, -(-len(items) // per))
        chunk = items[(page - 1) * per : page * per]
        base = f"{self.api}/repos/{self.repo}/issues/{issue}/comments?per_page={per}"
        links = []
        if page < last:
            links.append(f'<{base}&page={page + 1}>; rel="next"')
            links.append(f'<{base}&page={last}>; rel="last"')
        if page > 1:
            links.append(f'<{base}&page=1>; rel="first"')
            links.append(f'<{base}&page={page - 1}>; rel="prev"')
        extra = {"Link": ", ".join(links)} if links else {}
        return self._json([self._comment_json(c) for c in chunk], 200, extra)

    def _create_comment(self, issue: int, body: dict[str, Any]) -> Response:
        if not isinstance(body, dict) or not body.get("body"):
            return self._error(422, "Validation Failed",
                               errors=[missing("IssueComment", "body")])
        c = self.add_comment(issue, body["body"], login="github-actions[bot]")
        return self._json(self._comment_json(c), 201)

    def _edit_comment(self, cid: int, body: dict[str, Any]) -> Response:
        c = next((c for c in self.comments if c["id"] == cid), None)
        if c is None:
            return self._error(404, "Not Found")
        c["body"] = body["body"]
        return self._json(self._comment_json(c))

    # --- statuses, releases -------------------------------------------------------------------
    def _create_status(self, sha: str, body: dict[str, Any]) -> Response:
        if body.get("state") not in ("error", "failure", "pending", "success"):
            return self._error(422, "Validation Failed",
                               errors=[{"resource": "Status", "code": "custom", "field": "state"}])
        s = {"id": self._id(), "sha": sha, **body,
             "url": f"{self.api}/repos/{self.repo}/statuses/{sha}", "node_id": "SC_kwDOA",
             "avatar_url": None, "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
             "creator": BOT}
        self.statuses.append(s)
        return self._json(s, 201)

    def _create_release(self, body: dict[str, Any]) -> Response:
        if any(r["tag_name"] == body.get("tag_name") for r in self.releases):
            return self._error(422, "Validation Failed",
                               errors=[{"resource": "Release", "code": "already_exists",
                                        "field": "tag_name"}])
        rid = self._id()
        rel = {
            "id": rid, "tag_name": body["tag_name"], "target_commitish": body.get("target_commitish"),
            "name": body.get("name"), "body": body.get("body"), "draft": False, "prerelease": False,
            "url": f"{self.api}/repos/{self.repo}/releases/{rid}",
            "html_url": f"{self.base}/{self.repo}/releases/tag/{body['tag_name']}",
            "assets_url": f"{self.api}/repos/{self.repo}/releases/{rid}/assets",
            # GitHub Enterprise Server's upload host is <host>/api/uploads
            "upload_url": f"{self.base}/api/uploads/repos/{self.repo}/releases/{rid}/assets"
            "{?name,label}",
            "created_at": "2026-01-01T00:00:00Z", "published_at": "2026-01-01T00:00:00Z",
            "author": BOT, "assets": [], "node_id": "RE_kwDOA",
            "tarball_url": f"{self.api}/repos/{self.repo}/tarball/{body['tag_name']}",
            "zipball_url": f"{self.api}/repos/{self.repo}/zipball/{body['tag_name']}",
        }
        self.releases.append(rel)
        return self._json(rel, 201)

    def _upload(self, rid: int, request: Request, raw: bytes) -> Response:
        name = request.args.get("name", "")
        if not name:
            return self._error(422, "Validation Failed")
        a = {"id": self._id(), "name": name, "label": request.args.get("label", ""), "size": len(raw),
             "content_type": request.headers.get("Content-Type", ""), "state": "uploaded",
             "release": rid, "data": raw,
             "url": f"{self.api}/repos/{self.repo}/releases/assets/1",
             "browser_download_url": f"{self.base}/{self.repo}/releases/download/x/{name}",
             "download_count": 0, "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
             "uploader": BOT, "node_id": "RA_kwDOA", "digest": "sha256:" + hashlib.sha256(raw).hexdigest()}
        self.assets.append(a)
        return self._json({k: v for k, v in a.items() if k not in ("release", "data")}, 201)
