"""A local server that answers like GitLab's REST API v4 (self-managed, under /gitlab):
merge-request notes with X-Page/X-Next-Page/Link pagination, commit statuses, releases, and
GitLab's error bodies ({"message": "401 Unauthorized"})."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from werkzeug import Request, Response

PREFIX = "/gitlab/api/v4"


@dataclass
class Call:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeGitLab:
    base: str
    project: str = "42"
    token: str = "glpat-SeCrEt0123456789"
    job_token: str = "glcbt-JobT0ken"
    notes: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    releases: list[dict[str, Any]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    per_page: int = 2
    fail_times: int = 0
    _next: int = 500

    @property
    def api(self) -> str:
        return self.base + PREFIX

    def _id(self) -> int:
        self._next += 1
        return self._next

    def _json(self, data: Any, status: int = 200, extra: dict[str, str] | None = None) -> Response:
        headers = {"Content-Type": "application/json", "RateLimit-Limit": "600", "RateLimit-Remaining": "599"}
        headers.update(extra or {})
        return Response(json.dumps(data), status=status, headers=headers)

    def handle(self, request: Request) -> Response:
        raw = request.get_data()
        body: Any = None
        if raw:
            ctype = request.headers.get("Content-Type", "")
            if "json" in ctype:
                body = json.loads(raw)
            else:
                body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        self.calls.append(Call(request.method, request.path, request.query_string.decode(),
                               dict(request.headers), body))
        if self.fail_times > 0:
            self.fail_times -= 1
            return Response("502 Bad Gateway", status=502)
        private = request.headers.get("PRIVATE-TOKEN")
        job = request.headers.get("JOB-TOKEN")
        if private != self.token and job != self.job_token:
            return self._json({"message": "401 Unauthorized"}, 401)
        p = f"{PREFIX}/projects/{self.project}"
        path, m = request.path, request.method
        if (mm := re.fullmatch(rf"{p}/statuses/([0-9a-f]{{40}})", path)) and m == "POST":
            if job and not private:
                return self._json({"message": "403 Forbidden"}, 403)
            return self._status(mm.group(1), body)
        if (mm := re.fullmatch(rf"{p}/merge_requests/(\d+)/notes", path)):
            if job and not private:
                return self._json({"message": "403 Forbidden"}, 403)
            iid = int(mm.group(1))
            return self._list(iid, request) if m == "GET" else self._create_note(iid, body)
        if (mm := re.fullmatch(rf"{p}/merge_requests/(\d+)/notes/(\d+)", path)) and m == "PUT":
            return self._update_note(int(mm.group(2)), body)
        if path == f"{p}/releases" and m == "POST":
            return self._release(body)
        return self._json({"message": "404 Not found"}, 404)

    def _note_json(self, n: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": n["id"], "type": None, "body": n["body"], "attachment": None,
            "author": {"id": 1, "username": n["author"], "name": n["author"], "state": "active",
                       "avatar_url": None, "web_url": f"{self.base}/{n['author']}"},
            "created_at": "2026-01-01T00:00:00.000Z", "updated_at": "2026-01-01T00:00:00.000Z",
            "system": n.get("system", False), "noteable_id": 9, "noteable_type": "MergeRequest",
            "project_id": int(self.project), "resolvable": False, "confidential": False,
            "internal": False, "noteable_iid": n["iid"], "commands_changes": {},
        }

    def add_note(self, iid: int, body: str, author: str = "reviewer", system: bool = False) -> dict[str, Any]:
        n = {"id": self._id(), "iid": iid, "body": body, "author": author, "system": system}
        self.notes.append(n)
        return n

    def _list(self, iid: int, request: Request) -> Response:
        items = [n for n in self.notes if n["iid"] == iid]
        per = min(int(request.args.get("per_page", "20")), self.per_page)
        page = int(request.args.get("page", "1"))
        pages = max(1, -(-len(items) // per))
        chunk = items[(page - 1) * per : page * per]
        url = f"{self.api}/projects/{self.project}/merge_requests/{iid}/notes"
        url += f"?id={self.project}&per_page={per}"
        headers = {"X-Page": str(page), "X-Per-Page": str(per), "X-Total": str(len(items)),
                   "X-Total-Pages": str(pages), "X-Next-Page": str(page + 1) if page < pages else "",
                   "X-Prev-Page": str(page - 1) if page > 1 else ""}
        links = [f'<{url}&page=1>; rel="first"', f'<{url}&page={pages}>; rel="last"']
        if page < pages:
            links.insert(0, f'<{url}&page={page + 1}>; rel="next"')
        headers["Link"] = ", ".join(links)
        return self._json([self._note_json(n) for n in chunk], 200, headers)

    def _create_note(self, iid: int, body: dict[str, Any]) -> Response:
        if not body or not body.get("body"):
            return self._json({"message": "400 Bad request - body is missing"}, 400)
        return self._json(self._note_json(self.add_note(iid, body["body"], author="project_42_bot")), 201)

    def _update_note(self, nid: int, body: dict[str, Any]) -> Response:
        n = next((n for n in self.notes if n["id"] == nid), None)
        if n is None:
            return self._json({"message": "404 Note Not Found"}, 404)
        n["body"] = body["body"]
        return self._json(self._note_json(n))

    def _status(self, sha: str, body: dict[str, Any]) -> Response:
        if body.get("state") not in ("pending", "running", "success", "failed", "canceled", "skipped"):
            return self._json({"error": "state does not have a valid value"}, 400)
        s = {"id": self._id(), "sha": sha, "ref": "feature", "status": body["state"],
             "name": body.get("name", "default"), "target_url": body.get("target_url"),
             "description": body.get("description"), "created_at": "2026-01-01T00:00:00.000Z",
             "started_at": None, "finished_at": "2026-01-01T00:00:00.000Z", "allow_failure": False,
             "coverage": None, "pipeline_id": 7,
             "author": {"id": 1, "username": "project_42_bot", "name": "bot", "state": "active"}}
        self.statuses.append(s)
        return self._json(s, 201)

    def _release(self, body: dict[str, Any]) -> Response:
        if any(r["tag_name"] == body.get("tag_name") for r in self.releases):
            return self._json({"message": "Release already exists"}, 409)
        r = {"tag_name": body["tag_name"], "name": body.get("name"), "description": body.get("description"),
             "created_at": "2026-01-01T00:00:00.000Z", "released_at": "2026-01-01T00:00:00.000Z",
             "upcoming_release": False, "author": {"id": 1, "username": "bot"},
             "commit": {"id": body.get("ref"), "short_id": str(body.get("ref"))[:8]},
             "assets": {"count": len((body.get("assets") or {}).get("links") or []), "sources": [],
                        "links": [{"id": i + 1, **link} for i, link in
                                  enumerate((body.get("assets") or {}).get("links") or [])]},
             "_links": {"self": f"{self.base}/gitlab/acme/models/-/releases/{body['tag_name']}"}}
        self.releases.append(r)
        return self._json(r, 201)
