"""The role every platform adapter plays: post a decision where reviewers look, and release.

Adapters are constructed from the environment the CI runner sets (see detect.py) and import
their API client (PyGithub, python-gitlab) only when they post.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from mlgate.core.errors import ToolError
from mlgate.core.findings import Report
from mlgate.decide.decision import Decision


@dataclass(frozen=True)
class PublishResult:
    """What an adapter did: ``posted`` (e.g. "check run", "comment updated"), ``skipped`` with
    the reason for each thing it could not post, and the ``files`` it wrote."""

    platform: str
    posted: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    urls: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ReleaseAsset:
    path: Path
    name: str


class Platform(Protocol):
    name: str

    def publish(
        self,
        *,
        decision: Decision,
        reports: Sequence[Report] = (),
        summary: str | None = None,
        report_paths: Mapping[str, str] | None = None,
    ) -> PublishResult: ...

    def create_release(
        self, *, tag: str, title: str, body: str, commit: str, assets: Sequence[ReleaseAsset]
    ) -> str: ...


def write_file(path: Path, text: str, *, append: bool = False) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a" if append else "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise ToolError(f"cannot write {path}: {exc.strerror or exc}") from exc


def scrub(text: str, secrets: Sequence[str]) -> str:
    """Replace every secret in ``text`` (error messages from API clients may echo headers)."""
    for s in secrets:
        if s:
            text = text.replace(s, "***")
    return text


def env_dict(environ: Mapping[str, str] | None) -> dict[str, str]:
    return dict(os.environ if environ is None else environ)
