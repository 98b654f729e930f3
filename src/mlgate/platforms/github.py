"""GitHub Actions: check run (status fallback), sticky PR comment, job summary, step outputs.

Everything comes from the variables the runner sets (``GITHUB_API_URL`` makes GitHub
Enterprise work unchanged). The token comes from ``GITHUB_TOKEN`` only, is masked with
``::add-mask::`` and never printed or written. PyGithub is imported only when posting.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from mlgate.core.errors import InputError, NetworkError, ToolError
from mlgate.core.findings import Report
from mlgate.decide.decision import Decision, Reason
from mlgate.decide.view import MARKER, render_markdown
from mlgate.platforms.base import PublishResult, ReleaseAsset, scrub, write_file

SUMMARY_LIMIT = 65535  # check run output.summary / text, in characters
COMMENT_LIMIT = 65536  # issue comment body
ANNOTATION_BATCH = 50  # annotations per check-run request
MAX_EVENT_BYTES = 25 * 1024 * 1024
CONCLUSION = {"promote": "success", "reject": "failure", "hold": "action_required"}
STATUS_STATE = {"promote": "success", "reject": "failure", "hold": "failure"}
_LEVEL = {"reject": "failure", "hold": "warning", "note": "notice"}


@dataclass(frozen=True)
class GitHubContext:
    api_url: str
    server_url: str
    repository: str
    sha: str
    event_name: str
    pr_number: int | None
    head_repository: str
    run_url: str
    token: str

    @property
    def is_fork_pr(self) -> bool:
        """A pull request from a fork, in its own (read-only token) run."""
        return (
            self.event_name == "pull_request"
            and self.pr_number is not None
            and self.head_repository not in ("", self.repository)
        )


def read_event(path: str) -> dict[str, Any]:
    if not path:
        return {}
    p = Path(path)
    try:
        if p.stat().st_size > MAX_EVENT_BYTES:
            raise InputError(f"GITHUB_EVENT_PATH {path} is too large to be an event payload")
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read the event payload {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise InputError(f"the event payload {path} is not a JSON object")
    return data


def github_context(environ: Mapping[str, str]) -> GitHubContext:
    event = read_event(environ.get("GITHUB_EVENT_PATH", ""))
    name = environ.get("GITHUB_EVENT_NAME", "")
    sha = environ.get("GITHUB_SHA", "")
    pr_number: int | None = None
    head_repo = ""
    pr = event.get("pull_request")
    run = event.get("workflow_run")
    if name == "workflow_run" and isinstance(run, dict):
        # a trusted workflow posting what another run produced: report on that run's head commit
        try:
            sha = str(run["head_sha"])
            head_repo = str((run.get("head_repository") or {}).get("full_name") or "")
            prs = run.get("pull_requests") or []
            if prs and isinstance(prs[0], dict):
                pr_number = int(prs[0]["number"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"malformed workflow_run event payload: {exc}") from exc
    elif name in ("pull_request", "pull_request_target") and isinstance(pr, dict):
        try:
            pr_number = int(pr["number"])
            # GITHUB_SHA is the merge commit on pull_request events: report on the head commit
            sha = str(pr["head"]["sha"])
            head_repo = str(((pr.get("head") or {}).get("repo") or {}).get("full_name") or "")
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"malformed pull_request event payload: {exc}") from exc
    server = environ.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
    repo = environ.get("GITHUB_REPOSITORY", "")
    run_id = environ.get("GITHUB_RUN_ID", "")
    return GitHubContext(
        api_url=environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/"),
        server_url=server,
        repository=repo,
        sha=sha,
        event_name=name,
        pr_number=pr_number,
        head_repository=head_repo or (repo if pr_number is not None else ""),
        run_url=f"{server}/{repo}/actions/runs/{run_id}" if repo and run_id else "",
        token=environ.get("GITHUB_TOKEN", ""),
    )


def mask(secret: str, echo: Callable[[str], None]) -> None:
    """Ask the runner to mask ``secret`` in the log (the runner hides this line itself)."""
    if secret:
        echo(f"::add-mask::{secret}")


def output_lines(values: Mapping[str, str]) -> str:
    """``$GITHUB_OUTPUT`` / ``$GITHUB_ENV`` text, multi-line safe: every value is written as
    ``name<<DELIM`` ... ``DELIM`` with a random delimiter the value does not contain."""
    out = []
    for key, value in values.items():
        if not key or any(c in key for c in "\n\r<=") or key != key.strip():
            raise ToolError(f"invalid output name {key!r}")
        delim = f"ghadelimiter_{uuid.uuid4()}"
        while delim in value:
            delim = f"ghadelimiter_{uuid.uuid4()}"
        out.append(f"{key}<<{delim}\n{value}\n{delim}\n")
    return "".join(out)


def truncate(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters, on a line boundary, saying so."""
    if len(text) <= limit:
        return text
    note = "\n\n… truncated (see the JSON decision artifact for everything)\n"
    cut = text[: max(0, limit - len(note))]
    if "\n" in cut:
        cut = cut[: cut.rindex("\n")]
    return cut + note


def build_annotations(reasons: Sequence[Reason], path_prefix: str = "") -> list[dict[str, Any]]:
    """Check-run annotations for the reasons that point at a file."""
    out: list[dict[str, Any]] = []
    prefix = path_prefix.strip("/")
    for r in reasons:
        if r.location is None or not r.location.path:
            continue
        line = r.location.line or 1
        path = f"{prefix}/{r.location.path}" if prefix else r.location.path
        out.append({
            "path": path,
            "start_line": line,
            "end_line": line,
            "annotation_level": _LEVEL[r.effect],
            "title": truncate(f"{r.rule_id} ({r.effect})", 255),
            "message": truncate(r.text, 64000),
        })
    return out


class GitHubPlatform:
    name = "github"

    def __init__(
        self,
        environ: Mapping[str, str],
        *,
        out_dir: Path | None = None,
        check_name: str = "mlgate",
        path_prefix: str = "",
        retries: int = 3,
        backoff: float = 1.0,
        write_delay: float | None = 1.0,
        timeout: int = 30,
        echo: Callable[[str], None] | None = None,
        pr_override: int | None = None,
    ) -> None:
        self.environ = dict(environ)
        self.ctx = github_context(self.environ)
        self.out_dir = out_dir
        self.check_name = check_name
        self.path_prefix = path_prefix
        self.retries = retries
        self.backoff = backoff
        self.write_delay = write_delay
        self.timeout = timeout
        # stderr: `mlgate publish --format json > f` must never put the token in f
        self.echo = echo or (lambda line: click.echo(line, err=True))
        self.pr_override = pr_override
        mask(self.ctx.token, self.echo)

    # --- the API client (lazily) -------------------------------------------------------------
    def _repo(self) -> Any:
        from github import Auth, Github, GithubRetry

        retry = GithubRetry(
            total=self.retries,
            backoff_factor=self.backoff,
            max_rate_limit_wait=120,
            allowed_methods=frozenset({"GET", "POST", "PATCH", "PUT", "DELETE"}),
        )
        gh = Github(
            auth=Auth.Token(self.ctx.token),
            base_url=self.ctx.api_url,
            retry=retry,
            timeout=self.timeout,
            seconds_between_requests=None,
            seconds_between_writes=self.write_delay,
            lazy=True,
        )
        return gh.get_repo(self.ctx.repository)

    def _fail(self, what: str, exc: Exception) -> ToolError:
        status = getattr(exc, "status", None)
        data = getattr(exc, "data", None)
        msg = data.get("message") if isinstance(data, dict) else None
        text = scrub(f"{what} failed: HTTP {status}: {msg or type(exc).__name__}", [self.ctx.token])
        hint = None
        if status == 401:
            hint = "the token was refused: check GITHUB_TOKEN"
        elif status in (403, 404):
            hint = "give the workflow `permissions: checks: write, pull-requests: write, statuses: write`"
        return NetworkError(text, hint=hint)

    # --- publish -------------------------------------------------------------------------------
    def publish(
        self, *, decision: Decision, reports: Sequence[Report] = (), summary: str | None = None,
        report_paths: Mapping[str, str] | None = None,
    ) -> PublishResult:

        md = summary or render_markdown(decision, limit=SUMMARY_LIMIT - 1000, details_url=self.ctx.run_url)
        posted: list[str] = []
        skipped: list[str] = []
        files: list[str] = []
        urls: dict[str, str] = {}
        step_summary = self.environ.get("GITHUB_STEP_SUMMARY", "")
        if step_summary:
            write_file(Path(step_summary), md + "\n", append=True)
            files.append(step_summary)
        out_file = self.environ.get("GITHUB_OUTPUT", "")
        if out_file:
            values = {"decision": decision.outcome, "stage": decision.stage}
            values.update(dict(report_paths or {}))
            write_file(Path(out_file), output_lines(values), append=True)
            files.append(out_file)
        if self.out_dir is not None:
            write_file(self.out_dir / "decision.md", md)
            write_file(self.out_dir / "decision.json", decision.dumps())
            files += [str(self.out_dir / "decision.md"), str(self.out_dir / "decision.json")]
        if not self.ctx.token:
            skipped.append("no GITHUB_TOKEN: wrote the job summary and outputs only")
            return PublishResult("github", tuple(posted), tuple(skipped), tuple(files), urls)
        if self.ctx.is_fork_pr:
            skipped.append(
                "pull request from a fork: its token is read-only, so nothing is posted; upload "
                "the decision as an artifact and post it from a workflow_run workflow "
                "(`mlgate publish --from-artifact`)"
            )
            return PublishResult("github", tuple(posted), tuple(skipped), tuple(files), urls)
        if not self.ctx.repository or not self.ctx.sha:
            raise InputError("GITHUB_REPOSITORY and GITHUB_SHA must be set to publish on GitHub")
        try:
            return self._post(decision, md, posted, skipped, files, urls)
        except self._transport_errors() as exc:
            raise self._unreachable(exc) from exc

    def _transport_errors(self) -> tuple[type[Exception], ...]:
        import requests

        return (requests.RequestException,)

    def _unreachable(self, exc: Exception) -> NetworkError:
        text = scrub(f"GitHub API at {self.ctx.api_url} failed after retries: {type(exc).__name__}: {exc}",
                     [self.ctx.token])
        return NetworkError(text[:500], hint="GitHub may be down or rate limiting; rerun the job later")

    def _post(self, decision: Decision, md: str, posted: list[str], skipped: list[str], files: list[str],
              urls: dict[str, str]) -> PublishResult:
        from github import GithubException

        repo = self._repo()
        try:
            urls["check_run"] = self._check_run(repo, decision, md)
            posted.append("check run")
        except GithubException as exc:
            if exc.status != 403:
                raise self._fail("creating the check run", exc) from exc
            try:
                urls["status"] = self._status(repo, decision)
                posted.append("commit status (the token cannot write checks)")
            except GithubException as exc2:
                raise self._fail("creating the commit status", exc2) from exc2
        number = self.ctx.pr_number
        if number is None and self.pr_override is not None:
            number = self._verified_pr(repo, self.pr_override, skipped)
        if number is not None:
            try:
                action, url = self._comment(repo, number, md)
                posted.append(f"comment {action}")
                urls["comment"] = url
            except GithubException as exc:
                raise self._fail("posting the pull-request comment", exc) from exc
        return PublishResult("github", tuple(posted), tuple(skipped), tuple(files), urls)

    def _verified_pr(self, repo: Any, number: int, skipped: list[str]) -> int | None:
        """A PR number given by hand (or by an untrusted artifact) is used only when that pull
        request's head commit is the commit this run reports on."""
        from github import GithubException

        try:
            head = str(repo.get_pull(number).head.sha)
        except GithubException as exc:
            raise self._fail(f"reading pull request #{number}", exc) from exc
        if head != self.ctx.sha:
            skipped.append(f"pull request #{number} is not at commit {self.ctx.sha[:12]}: no comment posted")
            return None
        return number

    def _check_run(self, repo: Any, decision: Decision, md: str) -> str:
        title = f"{decision.outcome} ({decision.stage})"
        if not decision.verified:
            title += ", unverified"
        summary = truncate(md, SUMMARY_LIMIT)
        notes = build_annotations(decision.reasons, self.path_prefix)
        first, rest = notes[:ANNOTATION_BATCH], notes[ANNOTATION_BATCH:]
        output: dict[str, Any] = {"title": title, "summary": summary}
        if first:
            output["annotations"] = first
        # action_required (hold) needs a details URL: the run, else the repository
        details = self.ctx.run_url or f"{self.ctx.server_url}/{self.ctx.repository}"
        kwargs: dict[str, Any] = {"details_url": details}
        run = repo.create_check_run(
            name=self.check_name,
            head_sha=self.ctx.sha,
            status="completed",
            conclusion=CONCLUSION[decision.outcome],
            output=output,
            **kwargs,
        )
        for i in range(0, len(rest), ANNOTATION_BATCH):
            run.edit(output={"title": title, "summary": summary,
                             "annotations": rest[i : i + ANNOTATION_BATCH]})
        return str(run.html_url or "")

    def _status(self, repo: Any, decision: Decision) -> str:
        commit = repo.get_commit(self.ctx.sha)
        kwargs: dict[str, Any] = {}
        if self.ctx.run_url:
            kwargs["target_url"] = self.ctx.run_url
        desc = f"{decision.outcome} for stage {decision.stage}"
        status = commit.create_status(
            state=STATUS_STATE[decision.outcome], description=desc[:140], context=self.check_name, **kwargs
        )
        return str(getattr(status, "url", "") or "")

    def _comment(self, repo: Any, number: int, md: str) -> tuple[str, str]:
        body = truncate(md if md.startswith(MARKER) else f"{MARKER}\n{md}", COMMENT_LIMIT)
        issue = repo.get_issue(number)
        for comment in issue.get_comments():
            if MARKER in (comment.body or ""):
                comment.edit(body)
                return "updated", str(comment.html_url or "")
        created = issue.create_comment(body)
        return "created", str(created.html_url or "")

    # --- release -------------------------------------------------------------------------------
    def create_release(
        self, *, tag: str, title: str, body: str, commit: str, assets: Sequence[ReleaseAsset]
    ) -> str:
        from github import GithubException

        if not self.ctx.token:
            raise ToolError("no GITHUB_TOKEN: cannot create the GitHub release",
                            hint="give the job `permissions: contents: write`")
        repo = self._repo()
        try:
            release = repo.create_git_release(tag, name=title, message=truncate(body, 120000),
                                              target_commitish=commit, make_latest="false")
            for asset in assets:
                release.upload_asset(str(asset.path), name=asset.name, content_type="application/json")
        except GithubException as exc:
            raise self._fail("creating the release", exc) from exc
        except self._transport_errors() as exc:
            raise self._unreachable(exc) from exc
        return str(release.html_url or "")
