"""GitLab CI: sticky merge-request note, commit status, dotenv and JUnit reports.

``CI_API_V4_URL`` is used as given (self-managed GitLab may live under a path). Notes and
statuses need a project or group access token (``MLGATE_GITLAB_TOKEN``, or ``GITLAB_TOKEN``):
``CI_JOB_TOKEN`` cannot write them, so without one mlgate writes the report files and says
plainly why nothing was posted. ``CI_JOB_TOKEN`` is used only for releases, which accept it.
python-gitlab is imported only when posting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgate.core.errors import InputError, NetworkError, ToolError
from mlgate.core.findings import Report
from mlgate.decide.decision import Decision
from mlgate.decide.view import MARKER, render_markdown
from mlgate.platforms.base import PublishResult, ReleaseAsset, scrub, write_file

NOTE_LIMIT = 1_000_000  # GitLab note bodies are limited to 1,000,000 characters
STATE = {"promote": "success", "reject": "failed", "hold": "failed"}
DEFAULT_OUT = Path("mlgate-out")


@dataclass(frozen=True)
class GitLabContext:
    api_v4_url: str
    project_id: str
    sha: str
    mr_iid: int | None
    job_url: str
    token: str
    job_token: str

    @property
    def server_url(self) -> str:
        url = self.api_v4_url.rstrip("/")
        return url[: -len("/api/v4")] if url.endswith("/api/v4") else url


def gitlab_context(environ: Mapping[str, str]) -> GitLabContext:
    iid = environ.get("CI_MERGE_REQUEST_IID", "")
    if iid and not iid.isdigit():
        raise InputError(f"CI_MERGE_REQUEST_IID is not a number: {iid!r}")
    return GitLabContext(
        api_v4_url=environ.get("CI_API_V4_URL", ""),
        project_id=environ.get("CI_PROJECT_ID", ""),
        sha=environ.get("CI_COMMIT_SHA", ""),
        mr_iid=int(iid) if iid else None,
        job_url=environ.get("CI_JOB_URL", ""),
        token=environ.get("MLGATE_GITLAB_TOKEN", "") or environ.get("GITLAB_TOKEN", ""),
        job_token=environ.get("CI_JOB_TOKEN", ""),
    )


def dotenv_lines(values: Mapping[str, str]) -> str:
    """A dotenv report (``artifacts:reports:dotenv``): one ``KEY=value`` a line; GitLab does not
    accept multi-line values, so those are refused."""
    out = []
    for key, value in values.items():
        if not key.replace("_", "").isalnum() or "\n" in value or "\r" in value:
            raise ToolError(f"cannot write {key!r} to a dotenv report (multi-line or invalid name)")
        out.append(f"{key}={value}\n")
    return "".join(out)


class GitLabPlatform:
    name = "gitlab"

    def __init__(self, environ: Mapping[str, str], *, out_dir: Path | None = None,
                 status_name: str = "mlgate", timeout: float = 30) -> None:
        self.environ = dict(environ)
        self.ctx = gitlab_context(self.environ)
        self.out_dir = out_dir or DEFAULT_OUT
        self.status_name = status_name
        self.timeout = timeout

    def _client(self, *, job_token: bool = False) -> Any:
        import gitlab

        if not self.ctx.api_v4_url or not self.ctx.project_id:
            raise InputError("CI_API_V4_URL and CI_PROJECT_ID must be set to post to GitLab")
        if job_token:
            return gitlab.Gitlab(self.ctx.server_url, job_token=self.ctx.job_token, timeout=self.timeout,
                                 retry_transient_errors=True)
        return gitlab.Gitlab(self.ctx.server_url, private_token=self.ctx.token, timeout=self.timeout,
                             retry_transient_errors=True)

    def _fail(self, what: str, exc: Exception) -> NetworkError:
        code = getattr(exc, "response_code", None)
        msg = getattr(exc, "error_message", None) or type(exc).__name__
        text = scrub(f"{what} failed: HTTP {code}: {msg}", [self.ctx.token, self.ctx.job_token])
        hint = None
        if code in (401, 403):
            hint = "use a project access token with the api scope in MLGATE_GITLAB_TOKEN"
        return NetworkError(text[:500], hint=hint)

    def publish(
        self, *, decision: Decision, reports: Sequence[Report] = (), summary: str | None = None,
        report_paths: Mapping[str, str] | None = None,
    ) -> PublishResult:
        md = summary or render_markdown(decision, limit=NOTE_LIMIT, details_url=self.ctx.job_url)
        files: list[str] = []
        env_file = self.out_dir / "mlgate.env"
        values = {"MLGATE_DECISION": decision.outcome, "MLGATE_STAGE": decision.stage}
        for key, path in (report_paths or {}).items():
            values["MLGATE_" + key.upper().replace("-", "_")] = path
        write_file(env_file, dotenv_lines(values))
        files.append(str(env_file))
        from mlgate.render.junit import render_many

        junit = self.out_dir / "mlgate-junit.xml"
        write_file(junit, render_many([decision.to_report(), *reports]))
        files.append(str(junit))
        write_file(self.out_dir / "decision.md", md)
        files.append(str(self.out_dir / "decision.md"))
        if not self.ctx.token:
            why = ("no MLGATE_GITLAB_TOKEN: CI_JOB_TOKEN cannot write merge-request notes or commit "
                   "statuses, so nothing was posted (the dotenv and JUnit reports were written)")
            return PublishResult("gitlab", (), (why,), tuple(files))
        if not self.ctx.sha:
            raise InputError("CI_COMMIT_SHA must be set to post to GitLab")
        import gitlab
        import requests

        posted: list[str] = []
        urls: dict[str, str] = {}
        try:
            project = self._client().projects.get(self.ctx.project_id, lazy=True)
            data: dict[str, Any] = {
                "state": STATE[decision.outcome],
                "name": self.status_name,
                "description": f"{decision.outcome} for stage {decision.stage}"[:255],
            }
            if self.ctx.job_url:
                data["target_url"] = self.ctx.job_url
            project.commits.get(self.ctx.sha, lazy=True).statuses.create(data)
            posted.append("commit status")
            if self.ctx.mr_iid is not None:
                body = md if md.startswith(MARKER) else f"{MARKER}\n{md}"
                mr = project.mergerequests.get(self.ctx.mr_iid, lazy=True)
                for note in mr.notes.list(iterator=True, per_page=100):
                    if MARKER in (getattr(note, "body", "") or "") and not getattr(note, "system", False):
                        note.body = body
                        note.save()
                        posted.append("note updated")
                        break
                else:
                    mr.notes.create({"body": body})
                    posted.append("note created")
        except gitlab.GitlabError as exc:
            raise self._fail("posting to GitLab", exc) from exc
        except requests.RequestException as exc:
            raise NetworkError(scrub(f"GitLab API at {self.ctx.api_v4_url} failed: {exc}",
                                     [self.ctx.token])[:500]) from exc
        return PublishResult("gitlab", tuple(posted), (), tuple(files), urls)

    def _artifact_path(self, path: Path) -> str:
        """The asset's path inside the job's artifacts (relative to CI_PROJECT_DIR)."""
        base = self.environ.get("CI_PROJECT_DIR", "")
        full = path if path.is_absolute() else Path.cwd() / path
        if base:
            try:
                return full.resolve().relative_to(Path(base).resolve()).as_posix()
            except ValueError:
                pass
        return path.as_posix() if not path.is_absolute() else path.name

    def create_release(
        self, *, tag: str, title: str, body: str, commit: str, assets: Sequence[ReleaseAsset]
    ) -> str:
        import gitlab
        import requests

        use_job = not self.ctx.token
        if use_job and not self.ctx.job_token:
            raise ToolError("no MLGATE_GITLAB_TOKEN or CI_JOB_TOKEN: cannot create the GitLab release")
        base = f"{self.ctx.job_url}/artifacts/file/"
        links = [
            {"name": a.name, "url": base + self._artifact_path(a.path), "link_type": "other"}
            for a in assets
            if self.ctx.job_url
        ]
        try:
            project = self._client(job_token=use_job).projects.get(self.ctx.project_id, lazy=True)
            release = project.releases.create({
                "tag_name": tag, "name": title, "description": body, "ref": commit,
                "assets": {"links": links},
            })
        except gitlab.GitlabError as exc:
            raise self._fail("creating the release", exc) from exc
        except requests.RequestException as exc:
            secrets = [self.ctx.token, self.ctx.job_token]
            raise NetworkError(scrub(f"GitLab API failed: {exc}", secrets)[:500]) from exc
        links_obj = getattr(release, "_links", None)
        return str(links_obj.get("self", "")) if isinstance(links_obj, dict) else ""
