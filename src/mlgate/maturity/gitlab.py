"""GitLab (gitlab.com or self-managed via CI_API_V4_URL / GITLAB_URL / CI_SERVER_URL) through
python-gitlab.

Requests per source: the project (``?license=true``), contributors (``per_page=1``: the count
is the ``X-Total`` header, else ``X-Total-Pages``), the newest commit, the newest release and up
to three HEAD requests for SECURITY.md. Token: GITLAB_TOKEN (private token) or CI_JOB_TOKEN.
python-gitlab's own sleep-on-429 is switched off: the bounded urllib3 retry of our session
decides, so a long Retry-After never blocks a pipeline.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Literal, TypeVar

from mlgate.maturity.base import Signals, SourceError, SourceKind, SourceRef, Unmeasured, gitlab_url
from mlgate.maturity.http import make_session, scrub, token_from_env

SECURITY_PATHS = ("SECURITY.md", ".gitlab/SECURITY.md", "docs/SECURITY.md")
# GitLab's license keys (licensee) -> SPDX ids, where they differ only in spelling
_SPDX = {
    "mit": "MIT", "apache-2.0": "Apache-2.0", "bsd-2-clause": "BSD-2-Clause",
    "bsd-3-clause": "BSD-3-Clause", "gpl-2.0": "GPL-2.0-only", "gpl-3.0": "GPL-3.0-only",
    "lgpl-2.1": "LGPL-2.1-only", "lgpl-3.0": "LGPL-3.0-only", "agpl-3.0": "AGPL-3.0-only",
    "mpl-2.0": "MPL-2.0", "unlicense": "Unlicense", "isc": "ISC", "cc0-1.0": "CC0-1.0",
    "epl-2.0": "EPL-2.0", "bsl-1.0": "BSL-1.0",
}
_NO_SLEEP: dict[str, Any] = {"obey_rate_limit": False, "retry_transient_errors": False, "max_retries": 0}

T = TypeVar("T")


class GitLabSource:
    kind: SourceKind = "gitlab"

    def __init__(self, *, timeout: float = 15.0, retries: int = 3, max_wait: float = 60.0,
                 environ: Mapping[str, str] | None = None, etag_root: Path | None = None,
                 issues_since: date | None = None) -> None:
        self.etag_root = etag_root
        self.issues_since = issues_since
        self.timeout = timeout
        self.retries = retries
        self.max_wait = max_wait
        self.private_token = token_from_env("GITLAB_TOKEN", environ=environ)
        self.job_token = None if self.private_token else token_from_env("CI_JOB_TOKEN", environ=environ)
        # the tokens belong to the configured instance: a gitlab.com URL checked from a
        # self-managed runner is fetched anonymously, never with that instance's token
        self.instance = gitlab_url(dict(environ) if environ is not None else None)

    def fetch(self, ref: SourceRef) -> Signals:
        import gitlab

        own = ref.api_url.rstrip("/") == self.instance
        gl = gitlab.Gitlab(
            url=ref.api_url,
            private_token=self.private_token if own else None,
            job_token=self.job_token if own else None,
            timeout=self.timeout,
            session=make_session(self.retries, self.max_wait, self.etag_root),
        )
        try:
            project = _guard(ref, lambda: gl.projects.get(ref.path, license="true", **_NO_SLEEP))
            attrs: dict[str, Any] = dict(project.attributes)
            lic = attrs.get("license")
            license_id: str | Unmeasured
            if "license" not in attrs:
                license_id = Unmeasured("the API gave no license field")
            elif not lic:
                license_id = "none"
            else:
                key = str(lic.get("key") or "").lower()
                license_id = _SPDX.get(key, key or str(lic.get("name") or "none"))
            branch = attrs.get("default_branch")
            namespace = attrs.get("namespace") or {}
            return Signals(
                source=ref,
                url=str(attrs.get("web_url") or f"{ref.api_url}/{ref.path}"),
                stars=_int(attrs, "star_count"),
                forks=_int(attrs, "forks_count"),
                open_issues=_int(attrs, "open_issues_count"),
                archived=bool(attrs.get("archived", False)),
                license=license_id,
                author=str(namespace.get("full_path") or ref.owner),
                contributors=_soft(ref, "contributors", lambda: _contributors(project)),
                last_commit=_soft(ref, "last commit", lambda: _last_commit(project)),
                last_release=_soft(ref, "last release", lambda: _last_release(project)),
                security_policy=(
                    _soft(ref, "security policy", lambda: _has_security_policy(project, str(branch)))
                    if branch else Unmeasured("the project has no default branch (empty repository)")
                ),
                **self._issue_activity(ref, project, attrs),
            )
        finally:
            gl.session.close()


    def _issue_activity(self, ref: SourceRef, project: Any, attrs: Mapping[str, Any]) -> dict[str, Any]:
        """recent_issues / recent_issues_closed from one ``issues_statistics`` request."""
        if self.issues_since is None:
            return {}
        if attrs.get("issues_enabled") is False:
            why = Unmeasured("issues are disabled on this project")
            return {"recent_issues": why, "recent_issues_closed": why}
        since = f"{self.issues_since.isoformat()}T00:00:00Z"

        def stats() -> tuple[int, int] | Unmeasured:
            got = project.issues_statistics.get(created_after=since, **_NO_SLEEP)
            counts = (got.attributes.get("statistics") or {}).get("counts") or {}
            total, closed = counts.get("all"), counts.get("closed")
            if isinstance(total, int) and isinstance(closed, int):
                return total, closed
            return Unmeasured("issues_statistics gave no counts")

        result = _soft(ref, "issue statistics", stats)
        if isinstance(result, Unmeasured):
            return {"recent_issues": result, "recent_issues_closed": result}
        return {"recent_issues": result[0], "recent_issues_closed": result[1]}


def _int(attrs: Mapping[str, Any], field: str) -> int | Unmeasured:
    value = attrs.get(field)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return Unmeasured(f"the API gave no {field} (feature disabled or not visible to this token)")


def _date(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _contributors(project: Any) -> int | Unmeasured:
    items = project.repository_contributors(iterator=True, per_page=1, **_NO_SLEEP)
    total = getattr(items, "total", None)
    if isinstance(total, int):
        return total
    pages = getattr(items, "total_pages", None)  # per_page=1: pages == contributors
    if isinstance(pages, int):
        return pages
    return Unmeasured("GitLab sent neither X-Total nor X-Total-Pages")


def _last_commit(project: Any) -> datetime | Unmeasured:
    commits = project.commits.list(per_page=1, get_all=False, **_NO_SLEEP)
    if not commits:
        return Unmeasured("the repository has no commits")
    when = _date(commits[0].attributes.get("committed_date"))
    return when or Unmeasured("the commit has no date")


def _last_release(project: Any) -> datetime | Literal["none"] | Unmeasured:
    releases = project.releases.list(per_page=1, get_all=False, order_by="released_at", sort="desc",
                                     **_NO_SLEEP)
    if not releases:
        return "none"
    attrs = releases[0].attributes
    when = _date(attrs.get("released_at")) or _date(attrs.get("created_at"))
    return when or Unmeasured("the release has no date")


def _has_security_policy(project: Any, branch: str) -> bool:
    import gitlab

    for path in SECURITY_PATHS:
        try:
            project.files.head(path, ref=branch, **_NO_SLEEP)
            return True
        except gitlab.exceptions.GitlabHeadError as exc:
            if exc.response_code == 404:
                continue
            raise
    return False


def _status(exc: Any) -> int:
    code = getattr(exc, "response_code", None)
    return int(code) if isinstance(code, int) else 0


def _describe(exc: Any) -> str:
    return scrub(f"HTTP {_status(exc) or '?'}: {getattr(exc, 'error_message', exc)}")


def _guard(ref: SourceRef, fn: Callable[[], T]) -> T:
    import gitlab
    import requests

    try:
        return fn()
    except gitlab.exceptions.GitlabError as exc:
        status = _status(exc)
        if status == 429:
            message = f"{ref.ref}: GitLab API rate limit exceeded ({_describe(exc)})"
            raise SourceError("unreachable", message) from None
        if status in (401, 403, 404):
            hint = " (private, moved or missing; is GITLAB_TOKEN set?)"
            raise SourceError("not_found", f"{ref.ref}: {_describe(exc)}{hint}") from None
        raise SourceError("unreachable", f"{ref.ref}: GitLab API failed: {_describe(exc)}") from None
    except (requests.RequestException, OSError) as exc:
        message = f"{ref.ref}: cannot reach {ref.api_url}: {type(exc).__name__}: {exc}"
        raise SourceError("unreachable", scrub(message)) from None


def _soft(ref: SourceRef, what: str, fn: Callable[[], T]) -> T | Unmeasured:
    import gitlab
    import requests

    try:
        return fn()
    except gitlab.exceptions.GitlabError as exc:
        status = _status(exc)
        if status == 429 or status >= 500:
            message = f"{ref.ref}: GitLab API failed on {what}: {_describe(exc)}"
            raise SourceError("unreachable", message) from None
        return Unmeasured(f"{what}: {_describe(exc)}")
    except (requests.RequestException, OSError) as exc:
        message = f"{ref.ref}: cannot reach {ref.api_url}: {type(exc).__name__}: {exc}"
        raise SourceError("unreachable", scrub(message)) from None
