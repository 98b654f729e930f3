"""Conditional requests: ETag + body of API answers on disk, revalidated with If-None-Match.

``ConditionalAdapter`` is a requests ``HTTPAdapter`` (with the same bounded urllib3 retry as
every other request). For a GET whose earlier 200 answer carried an ``ETag``, it sends
``If-None-Match``; a ``304 Not Modified`` is turned back into the stored 200 answer (body and the
headers the clients read: content type, ``Link`` and GitLab's ``X-Total`` pagination), with the
fresh rate-limit headers of the 304 on top. GitHub does not count a 304 against the rate limit,
so a pipeline that checks the same sources again spends almost no budget.

Entries: one JSON file per (URL, credential) under ``<cache dir>/http/``, named by a SHA-256 of
the URL and of the ``Authorization`` / ``PRIVATE-TOKEN`` / ``JOB-TOKEN`` header value (so an
answer fetched with one token is never replayed to another, or to no token). Files are written
0600 and hold the answer only, never a request header or token. An entry that is missing,
corrupt, too large or for another URL is ignored (the request is made unconditionally).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from requests.adapters import HTTPAdapter

MAX_BODY_BYTES = 2 * 1024 * 1024
REVALIDATED_HEADER = "X-Mlgate-Cache"
_KEEP = ("content-type", "link", "etag", "last-modified", "x-total", "x-total-pages", "x-page",
         "x-per-page", "x-next-page", "x-prev-page")
_CREDENTIAL_HEADERS = ("authorization", "private-token", "job-token")


def _key(url: str, headers: Any) -> str:
    cred = "|".join(str(headers.get(h, "")) for h in _CREDENTIAL_HEADERS)
    cred_hash = hashlib.sha256(cred.encode("utf-8")).hexdigest()
    return hashlib.sha256(f"{url}\n{cred_hash}".encode()).hexdigest()[:40]


class ConditionalAdapter(HTTPAdapter):
    """HTTPAdapter that revalidates GETs with stored ETags (see the module docstring)."""

    def __init__(self, root: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.root = root
        self.revalidated = 0
        self.stored = 0

    def _path(self, request: Any) -> Path:
        return self.root / f"{_key(str(request.url), request.headers)}.json"

    def _load(self, request: Any) -> dict[str, Any] | None:
        path = self._path(request)
        try:
            if path.stat().st_size > MAX_BODY_BYTES * 2:
                return None
            data = json.loads(path.read_text(encoding="utf-8"))
            if (not isinstance(data, dict) or data.get("url") != str(request.url)
                    or not isinstance(data.get("etag"), str) or not data["etag"]
                    or not isinstance(data.get("headers"), dict)):
                return None
            data["body_bytes"] = base64.b64decode(str(data["body"]), validate=True)
            return data
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _store(self, request: Any, response: Any) -> None:
        body = response.content
        if len(body) > MAX_BODY_BYTES:
            return
        headers = {k.lower(): str(v) for k, v in response.headers.items() if k.lower() in _KEEP}
        entry = {"url": str(request.url), "etag": str(response.headers["ETag"]), "headers": headers,
                 "body": base64.b64encode(body).decode("ascii")}
        path = self._path(request)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(entry, fh)
            tmp.replace(path)
            self.stored += 1
        except OSError:
            pass  # a cache that cannot be written only costs API calls

    def send(self, request: Any, stream: bool = False, **kwargs: Any) -> Any:  # type: ignore[override]
        if request.method != "GET" or stream:
            return super().send(request, stream=stream, **kwargs)
        entry = self._load(request)
        if entry is not None and "If-None-Match" not in request.headers:
            request.headers["If-None-Match"] = entry["etag"]
        response = super().send(request, stream=stream, **kwargs)
        if response.status_code == 304 and entry is not None:
            fresh = dict(response.headers)
            response.headers.clear()
            response.headers.update(entry["headers"])
            for k, v in fresh.items():  # rate-limit headers of the 304, date, ...
                if k.lower() not in ("content-length", "content-encoding", "transfer-encoding")\
                        and k.lower() not in entry["headers"]:
                    response.headers[k] = v
            response.headers[REVALIDATED_HEADER] = "revalidated"
            response.status_code = 200
            response.reason = "OK"
            response._content = entry["body_bytes"]
            response._content_consumed = True  # type: ignore[attr-defined]
            self.revalidated += 1
        elif response.status_code == 200 and response.headers.get("ETag"):
            self._store(request, response)
        return response


def mount(session: Any, root: Path | None, retry: Any) -> None:
    """Mount a ConditionalAdapter (``root``) or a plain HTTPAdapter on a requests Session."""
    adapter = ConditionalAdapter(root, max_retries=retry) if root else HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
