"""Anywhere else (Jenkins, a laptop): files only, so any CI can show or archive them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from mlgate.core.errors import UsageError
from mlgate.core.findings import Report
from mlgate.decide.decision import Decision
from mlgate.decide.view import render_markdown
from mlgate.platforms.base import PublishResult, ReleaseAsset, write_file

DEFAULT_OUT = Path("mlgate-out")


class LocalPlatform:
    name = "local"

    def __init__(self, environ: Mapping[str, str], *, out_dir: Path | None = None) -> None:
        self.out_dir = out_dir or DEFAULT_OUT

    def publish(
        self, *, decision: Decision, reports: Sequence[Report] = (), summary: str | None = None,
        report_paths: Mapping[str, str] | None = None,
    ) -> PublishResult:
        md = self.out_dir / "decision.md"
        js = self.out_dir / "decision.json"
        write_file(md, summary or render_markdown(decision))
        write_file(js, decision.dumps())
        return PublishResult("local", files=(str(md), str(js)),
                             skipped=("not in GitHub Actions or GitLab CI: wrote files only",))

    def create_release(
        self, *, tag: str, title: str, body: str, commit: str, assets: Sequence[ReleaseAsset]
    ) -> str:
        raise UsageError("no platform release outside GitHub Actions or GitLab CI",
                         hint="the git tag was created; push it with `git push origin TAG`")
