"""GitHub (github.com or Enterprise via GITHUB_API_URL) through PyGithub.

Requests per source: the repository, contributors (one request: ``per_page=1`` and the page
number of the ``Link: rel="last"`` URL is the count), the newest commit, the latest release,
up to three SECURITY.md locations and, when a policy sets ``min_closed_issue_ratio``, two
search requests (issues opened in the window, and those of them closed now: ``total_count``).
With an ETag cache every GET is a conditional request (a 304 costs no rate limit).
Token: GITHUB_TOKEN or GH_TOKEN.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Literal, TypeVar

from mlgate.maturity.base import NOT_APPLICABLE, Signals, SourceError, SourceKind, SourceRef, Unmeasured
from mlgate.maturity.http import is_rate_limited, make_retry, reset_text, scrub, token_from_env

SECURITY_PATHS = ("SECURITY.md", ".github/SECURITY.md", "docs/SECURITY.md")
log = logging.getLogger("mlgate.maturity")

T = TypeVar("T")


class GitHubSource:
    kind: SourceKind = "github"

    def __init__(self, *, timeout: float = 15.0, retries: int = 3, max_wait: float = 60.0,
                 environ: Mapping[str, str] | None = None, etag_root: Path | None = None,
                 issues_since: date | None = None) -> None:
        self.etag_root = etag_root
        self.issues_since = issues_since
        self.timeout = timeout
        self.retries = retries
        self.max_wait = max_wait
        self.token = token_from_env("GITHUB_TOKEN", "GH_TOKEN", environ=environ)

    def _client(self, ref: SourceRef) -> Any:
        from github import Auth, Github

        gh = Github(
            base_url=ref.api_url,
            auth=Auth.Token(self.token) if self.token else None,
            timeout=max(1, math.ceil(self.timeout)),
            retry=make_retry(self.retries, self.max_wait),
            per_page=1,  # we only ever need the first item or the page count
            seconds_between_requests=None,
            seconds_between_writes=None,
        )
        if self.etag_root is not None:
            _use_conditional_requests(gh, self.etag_root)
        return gh

    def fetch(self, ref: SourceRef) -> Signals:
        gh = self._client(ref)
        try:
            repo = _guard(ref, lambda: gh.get_repo(ref.path))
            url = str(repo.html_url or f"https://github.com/{ref.path}")
            lic = repo.license
            license_id = "none"  # GitHub detected no license file
            if lic is not None:
                spdx = lic.spdx_id
                license_id = spdx if spdx and spdx != "NOASSERTION" else "NOASSERTION"
            return Signals(
                source=ref,
                url=url,
                stars=_int(repo.stargazers_count, "stargazers_count"),
                forks=_int(repo.forks_count, "forks_count"),
                open_issues=_int(repo.open_issues_count, "open_issues_count"),
                archived=bool(repo.archived) or bool(getattr(repo, "disabled", False)),
                license=license_id,
                author=str(repo.owner.login) if repo.owner is not None else ref.owner,
                contributors=_soft(ref, "contributors",
                                   lambda: int(repo.get_contributors(anon="true").totalCount)),
                last_commit=_soft(ref, "last commit", lambda: _last_commit(repo)),
                last_release=_soft(ref, "last release", lambda: _last_release(repo)),
                security_policy=_soft(ref, "security policy", lambda: _has_security_policy(repo)),
                downloads=NOT_APPLICABLE,
                **self._issue_activity(gh, ref, repo),
            )
        finally:
            gh.close()


    def _issue_activity(self, gh: Any, ref: SourceRef, repo: Any) -> dict[str, Any]:
        """recent_issues / recent_issues_closed: issues opened in the window, and how many of
        them are closed now (search API ``total_count``; pull requests excluded)."""
        if self.issues_since is None:
            return {}
        if repo.has_issues is False:
            why = Unmeasured("issues are disabled on this repository")
            return {"recent_issues": why, "recent_issues_closed": why}
        query = f"repo:{ref.path} is:issue created:>={self.issues_since.isoformat()}"

        def count(q: str) -> int:
            # total_count of the body: exact, where the Link rel="last" page stops at 1000 results
            _, data = gh.requester.requestJsonAndCheck(
                "GET", "/search/issues", parameters={"q": q, "per_page": 1})
            total = data.get("total_count") if isinstance(data, dict) else None
            if not isinstance(total, int) or isinstance(total, bool):
                raise ValueError("search gave no total_count")
            return total

        opened = _soft_search(ref, lambda: count(query))
        if isinstance(opened, Unmeasured) or opened == 0:
            return {"recent_issues": opened, "recent_issues_closed": opened}
        return {"recent_issues": opened,
                "recent_issues_closed": _soft_search(ref, lambda: count(f"{query} is:closed"))}


def _use_conditional_requests(gh: Any, root: Path) -> None:
    """Make this client's requests conditional (ETag cache), without touching other clients:
    PyGithub builds its connection from a per-Requester class, replaced here by a subclass that
    mounts the ConditionalAdapter on the connection's session."""
    from mlgate.maturity.etag import mount

    requester = getattr(gh, "requester", None)
    base = getattr(requester, "_Requester__connectionClass", None)
    if requester is None or not isinstance(base, type):
        log.debug("PyGithub internals changed: conditional requests are off")
        return

    class Conditional(base):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            mount(self.session, root, getattr(self, "retry", kwargs.get("retry")))

    requester._Requester__connectionClass = Conditional


def _soft_search(ref: SourceRef, fn: Callable[[], int]) -> int | Unmeasured:
    """A search count: its own, small rate limit (30/min with a token, 10 without) and any
    refusal make the signal unmeasured, never the whole source unreachable."""
    import requests
    from github import GithubException

    try:
        return fn()
    except GithubException as exc:
        headers = dict(exc.headers or {})
        if is_rate_limited(int(exc.status), headers) or type(exc).__name__.startswith("RateLimit"):
            return Unmeasured(f"issue search: search API rate limit exceeded{reset_text(headers)}")
        return Unmeasured(f"issue search: {_describe(exc)}")
    except ValueError as exc:
        return Unmeasured(f"issue search: {exc}")
    except (requests.RequestException, OSError) as exc:
        raise _network_error(ref, exc) from None


def _int(value: Any, field: str) -> int | Unmeasured:
    return int(value) if isinstance(value, int) else Unmeasured(f"the API gave no {field}")


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _last_commit(repo: Any) -> datetime | Unmeasured:
    page = repo.get_commits().get_page(0)
    if not page:
        return Unmeasured("the repository has no commits")
    date = page[0].commit.committer.date
    return _utc(date) if isinstance(date, datetime) else Unmeasured("the commit has no date")


def _last_release(repo: Any) -> datetime | Literal["none"] | Unmeasured:
    from github import UnknownObjectException

    try:
        release = repo.get_latest_release()
        date = release.published_at or release.created_at
    except UnknownObjectException:
        return "none"
    return _utc(date) if isinstance(date, datetime) else Unmeasured("the release has no date")


def _has_security_policy(repo: Any) -> bool:
    from github import UnknownObjectException

    for path in SECURITY_PATHS:
        try:
            repo.get_contents(path)
            return True
        except UnknownObjectException:
            continue
    return False


def _describe(exc: Any) -> str:
    status = getattr(exc, "status", None)
    data = getattr(exc, "data", None)
    message = data.get("message") if isinstance(data, dict) else None
    return scrub(f"HTTP {status}: {message or type(exc).__name__}")


def _network_error(ref: SourceRef, exc: BaseException) -> SourceError:
    message = f"{ref.ref}: cannot reach {ref.api_url}: {type(exc).__name__}: {exc}"
    return SourceError("unreachable", scrub(message))


def _guard(ref: SourceRef, fn: Callable[[], T]) -> T:
    """Call for the repository itself: every failure becomes a SourceError."""
    import requests
    from github import GithubException

    try:
        return fn()
    except GithubException as exc:
        headers = dict(exc.headers or {})
        status = int(exc.status)
        if is_rate_limited(status, headers) or type(exc).__name__.startswith("RateLimit"):
            raise SourceError(
                "unreachable", f"{ref.ref}: GitHub API rate limit exceeded{reset_text(headers)}"
            ) from None
        if status in (401, 403, 404):
            hint = " (private, renamed or missing; is GITHUB_TOKEN set?)" if status != 401 else ""
            raise SourceError("not_found", f"{ref.ref}: {_describe(exc)}{hint}") from None
        raise SourceError("unreachable", f"{ref.ref}: GitHub API failed: {_describe(exc)}") from None
    except (requests.RequestException, OSError) as exc:
        raise _network_error(ref, exc) from None


def _soft(ref: SourceRef, what: str, fn: Callable[[], T]) -> T | Unmeasured:
    """Call for one signal: a refusal becomes Unmeasured, a rate limit or outage a SourceError."""
    import requests
    from github import GithubException

    try:
        return fn()
    except GithubException as exc:
        headers = dict(exc.headers or {})
        status = int(exc.status)
        if is_rate_limited(status, headers) or type(exc).__name__.startswith("RateLimit"):
            raise SourceError(
                "unreachable", f"{ref.ref}: GitHub API rate limit exceeded{reset_text(headers)}"
            ) from None
        if status >= 500:
            message = f"{ref.ref}: GitHub API failed on {what}: {_describe(exc)}"
            raise SourceError("unreachable", message) from None
        return Unmeasured(f"{what}: {_describe(exc)}")
    except (requests.RequestException, OSError) as exc:
        raise _network_error(ref, exc) from None
