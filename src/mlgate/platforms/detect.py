"""Which CI is this? Decided from the variables the runners themselves set."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mlgate.platforms.base import Platform


def platform_name(environ: Mapping[str, str]) -> str:
    if environ.get("GITHUB_ACTIONS") == "true":
        return "github"
    if environ.get("GITLAB_CI") == "true":
        return "gitlab"
    return "local"


def detect_platform(environ: Mapping[str, str], *, out_dir: Path | None = None) -> Platform:
    """The adapter for the CI this process runs in (GitHub Actions, GitLab CI, else local)."""
    name = platform_name(environ)
    if name == "github":
        from mlgate.platforms.github import GitHubPlatform

        return GitHubPlatform(environ, out_dir=out_dir)
    if name == "gitlab":
        from mlgate.platforms.gitlab import GitLabPlatform

        return GitLabPlatform(environ, out_dir=out_dir)
    from mlgate.platforms.local import LocalPlatform

    return LocalPlatform(environ, out_dir=out_dir)
