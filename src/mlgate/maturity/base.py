"""What every maturity source is: a Protocol, the reference it reads and the Signals it returns.

A source module (github.py, gitlab.py, huggingface.py) turns one ``SourceRef`` into one
``Signals``. A signal that could not be measured is an ``Unmeasured`` value carrying the reason
(never ``None``): a threshold on it is a finding, not a pass. Signals a source kind does not
have (downloads on GitHub, stars on the Hub) are ``NOT_APPLICABLE`` and no threshold reads them.
"""

from __future__ import annotations

import importlib
import os
import re
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Literal, Protocol, TypeVar, Union
from urllib.parse import urlparse

from mlgate.core.errors import UsageError
from mlgate.core.findings import JSONValue

SourceKind = Literal["github", "gitlab", "huggingface"]


@dataclass(frozen=True)
class Unmeasured:
    """A signal with no value, and why. ``applicable`` is False for signals the kind lacks."""

    reason: str
    applicable: bool = True

    def to_json(self) -> JSONValue:
        return {"unmeasured": self.reason} if self.applicable else None


NOT_APPLICABLE = Unmeasured("not applicable to this source", applicable=False)

T = TypeVar("T")
Value = Union[T, Unmeasured]  # noqa: UP007 (a generic alias needs Union on 3.10)


@dataclass(frozen=True)
class SourceRef:
    """One upstream source. ``path`` is owner/repo, group/sub/project or org/name;
    ``repo_type`` is model/dataset for the Hub; ``api_url`` the API base to use."""

    kind: SourceKind
    path: str
    api_url: str
    repo_type: str = ""
    text: str = ""

    @property
    def ref(self) -> str:
        if self.kind == "huggingface":
            prefix = "hf:datasets/" if self.repo_type == "dataset" else "hf:"
            return prefix + self.path
        return f"{self.kind}:{self.path}"

    @property
    def owner(self) -> str:
        return self.path.split("/", 1)[0]


@dataclass(frozen=True)
class Signals:
    """What was measured about one source (all dates are timezone-aware UTC)."""

    source: SourceRef
    url: str
    stars: Value[int] = NOT_APPLICABLE
    forks: Value[int] = NOT_APPLICABLE
    open_issues: Value[int] = NOT_APPLICABLE
    contributors: Value[int] = NOT_APPLICABLE
    last_commit: Value[datetime] = NOT_APPLICABLE
    last_release: Value[datetime | Literal["none"]] = NOT_APPLICABLE
    archived: Value[bool] = NOT_APPLICABLE
    license: Value[str] = NOT_APPLICABLE
    security_policy: Value[bool] = NOT_APPLICABLE
    downloads: Value[int] = NOT_APPLICABLE
    likes: Value[int] = NOT_APPLICABLE
    gated: Value[bool | str] = NOT_APPLICABLE
    library: Value[str] = NOT_APPLICABLE
    author: Value[str] = NOT_APPLICABLE
    security_scan_issues: Value[int] = NOT_APPLICABLE
    # issues opened in the policy's window (maturity.issue_window_days), and how many of those
    # are closed now; NOT_APPLICABLE when no threshold asked for them
    recent_issues: Value[int] = NOT_APPLICABLE
    recent_issues_closed: Value[int] = NOT_APPLICABLE

    def to_json(self) -> dict[str, JSONValue]:
        out: dict[str, JSONValue] = {"source": self.source.ref, "kind": self.source.kind, "url": self.url}
        for f in fields(self):
            if f.name in ("source", "url"):
                continue
            value = getattr(self, f.name)
            if isinstance(value, Unmeasured):
                if value.applicable:
                    out[f.name] = value.to_json()
            elif isinstance(value, datetime):
                out[f.name] = value.isoformat().replace("+00:00", "Z")
            else:
                out[f.name] = value
        return out


class SourceError(Exception):
    """A source could not be read. ``reason``: not_found (404/401/403 without rate limit) or
    unreachable (network, timeout, 5xx, rate limit after bounded retries)."""

    def __init__(self, reason: Literal["not_found", "unreachable"], message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class Source(Protocol):
    """One source kind. ``fetch`` raises SourceError, never anything else it can anticipate."""

    kind: SourceKind

    def fetch(self, ref: SourceRef) -> Signals: ...


# kind -> "module:Class" (imported only when a source of that kind is checked)
REGISTRY: dict[str, str] = {
    "github": "mlgate.maturity.github:GitHubSource",
    "gitlab": "mlgate.maturity.gitlab:GitLabSource",
    "huggingface": "mlgate.maturity.huggingface:HuggingFaceSource",
}


def source_class(kind: str) -> type[Source]:
    module_name, attr = REGISTRY[kind].split(":")
    cls: type[Source] = getattr(importlib.import_module(module_name), attr)
    return cls


# ---------------------------------------------------------------------------------------------
# Parsing source references

_SEGMENT = r"[A-Za-z0-9_.][A-Za-z0-9_.-]*"
_GH_PATH = re.compile(rf"^{_SEGMENT}/{_SEGMENT}$")
_GL_PATH = re.compile(rf"^{_SEGMENT}(/{_SEGMENT})+$")
_HF_PATH = re.compile(rf"^({_SEGMENT}/)?{_SEGMENT}$")


def github_api_url(environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return env.get("GITHUB_API_URL", "").rstrip("/") or "https://api.github.com"


def gitlab_url(environ: dict[str, str] | None = None) -> str:
    """Base URL of the GitLab instance (without /api/v4)."""
    env = os.environ if environ is None else environ
    api = env.get("CI_API_V4_URL", "").rstrip("/")
    if api.endswith("/api/v4"):
        return api[: -len("/api/v4")]
    for name in ("GITLAB_URL", "CI_SERVER_URL"):
        if env.get(name):
            return env[name].rstrip("/")
    return "https://gitlab.com"


def hf_endpoint(environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return env.get("HF_ENDPOINT", "").rstrip("/") or "https://huggingface.co"


def parse_source(text: str, environ: dict[str, str] | None = None) -> SourceRef:
    """``github:o/r``, ``gitlab:g/p``, ``hf:org/name``, ``hf:datasets/org/name`` or a web URL of
    github.com, gitlab.com (or the configured GitLab host), huggingface.co (or HF_ENDPOINT)."""
    raw = text.strip()
    if len(raw) > 500 or not raw:
        raise UsageError(f"not a source reference: {raw[:60]!r}")
    scheme, sep, rest = raw.partition(":")
    if sep and scheme.lower() in ("github", "gh") and not rest.startswith("//"):
        return _github(rest, raw, environ)
    if sep and scheme.lower() in ("gitlab", "gl") and not rest.startswith("//"):
        return _gitlab(rest, raw, gitlab_url(environ))
    if sep and scheme.lower() in ("hf", "huggingface") and not rest.startswith("//"):
        return _hf(rest, raw, environ, url=False)
    if scheme.lower() in ("http", "https") and rest.startswith("//"):
        url = urlparse(raw)
        host = (url.hostname or "").lower()
        path = url.path.strip("/")
        if path.endswith(".git"):
            path = path[:-4]
        gl_base = gitlab_url(environ)
        gl_host = (urlparse(gl_base).hostname or "").lower()
        hf_host = (urlparse(hf_endpoint(environ)).hostname or "").lower()
        if host in ("github.com", "www.github.com"):
            return _github("/".join(path.split("/")[:2]), raw, environ)
        if host in ("huggingface.co", "hf.co", hf_host):
            return _hf(path, raw, environ, url=True)
        if host == "gitlab.com" or host == gl_host:
            base = gl_base if host == gl_host else "https://gitlab.com"
            return _gitlab(path.split("/-/", 1)[0], raw, base)
    raise UsageError(
        f"not a source reference: {raw!r}",
        hint="write github:owner/repo, gitlab:group/project, hf:org/name, hf:datasets/org/name "
        "or a github.com / gitlab / huggingface.co URL",
    )


def _github(path: str, raw: str, environ: dict[str, str] | None) -> SourceRef:
    path = path.strip("/")
    if not _GH_PATH.match(path) or _dots(path):
        raise UsageError(f"not a GitHub repository: {raw!r}", hint="write github:owner/repo")
    return SourceRef("github", path, github_api_url(environ), text=raw)


def _gitlab(path: str, raw: str, base: str) -> SourceRef:
    path = path.strip("/")
    if not _GL_PATH.match(path) or _dots(path):
        raise UsageError(f"not a GitLab project: {raw!r}", hint="write gitlab:group/project")
    return SourceRef("gitlab", path, base, text=raw)


def _hf(path: str, raw: str, environ: dict[str, str] | None, *, url: bool) -> SourceRef:
    path = path.strip("/")
    repo_type = "model"
    for prefix, kind in (("datasets/", "dataset"), ("models/", "model")):
        if path.startswith(prefix):
            path, repo_type = path[len(prefix):], kind
    if path.startswith("spaces/"):
        raise UsageError(f"Hugging Face Spaces are not supported as sources: {raw!r}")
    if url:
        path = "/".join(path.split("/")[:2])  # drop /tree/main, /blob/... from web URLs
    if not _HF_PATH.match(path) or _dots(path):
        raise UsageError(f"not a Hugging Face repo: {raw!r}", hint="write hf:org/name")
    return SourceRef("huggingface", path, hf_endpoint(environ), repo_type=repo_type, text=raw)


def _dots(path: str) -> bool:
    return any(part in (".", "..") for part in path.split("/"))
