"""Rules of the maturity capability (MLG-MAT-NNN). Ids are stable: never renumber, only add."""

from __future__ import annotations

from mlgate.core.findings import Severity
from mlgate.core.rules import Rule

_TAGS = ("maturity", "supply-chain")

ARCHIVED = Rule(
    "MLG-MAT-001", Severity.HIGH, "Source is archived or disabled",
    "The upstream repository is archived, disabled or read-only: it gets no fixes any more.",
    "Move to a maintained fork or replacement, or accept it with `maturity.allow_archived`.",
    tags=_TAGS,
)
FEW_CONTRIBUTORS = Rule(
    "MLG-MAT-002", Severity.MEDIUM, "Too few contributors",
    "The source has fewer contributors than `maturity.min_contributors` (bus factor).",
    "Prefer a source with more maintainers, or lower the threshold for this source in `overrides`.",
    tags=_TAGS,
)
STALE_COMMIT = Rule(
    "MLG-MAT-003", Severity.MEDIUM, "No recent commit",
    "The last commit (Hub: last modification) is older than `maturity.max_days_since_commit`.",
    "Check that the project is still maintained; pin and review it, or raise the threshold.",
    tags=_TAGS,
)
STALE_RELEASE = Rule(
    "MLG-MAT-004", Severity.MEDIUM, "No recent release",
    "The last release is older than `maturity.max_days_since_release`, or there is no release.",
    "Prefer released versions of maintained projects, or raise the threshold for this source.",
    tags=_TAGS,
)
FEW_STARS = Rule(
    "MLG-MAT-005", Severity.MEDIUM, "Too few stars",
    "The repository has fewer stars than `maturity.min_stars`.",
    "Review the source by hand and add it to `maturity.overrides` or `trusted` if acceptable.",
    tags=_TAGS,
)
FEW_FORKS = Rule(
    "MLG-MAT-006", Severity.MEDIUM, "Too few forks",
    "The repository has fewer forks than `maturity.min_forks`.",
    "Review the source by hand and add it to `maturity.overrides` or `trusted` if acceptable.",
    tags=_TAGS,
)
FEW_DOWNLOADS = Rule(
    "MLG-MAT-007", Severity.MEDIUM, "Too few downloads",
    "The Hub repository has fewer downloads (last 30 days) than `maturity.min_downloads`.",
    "Review the model or dataset by hand, or lower the threshold for it in `overrides`.",
    tags=_TAGS,
)
FEW_LIKES = Rule(
    "MLG-MAT-008", Severity.MEDIUM, "Too few likes",
    "The Hub repository has fewer likes than `maturity.min_likes`.",
    "Review the model or dataset by hand, or lower the threshold for it in `overrides`.",
    tags=_TAGS,
)
NO_LICENSE = Rule(
    "MLG-MAT-009", Severity.MEDIUM, "No license declared",
    "The source declares no license, and `maturity.require_license` is set.",
    "Ask upstream to add a license; without one, no use is granted.",
    tags=_TAGS,
)
NO_SECURITY_POLICY = Rule(
    "MLG-MAT-010", Severity.MEDIUM, "No security policy",
    "The repository has no SECURITY.md (root, .github/ or docs/), and "
    "`maturity.require_security_policy` is set.",
    "Ask upstream how to report vulnerabilities, or turn the requirement off for this source.",
    tags=_TAGS,
)
GATED = Rule(
    "MLG-MAT-011", Severity.MEDIUM, "Gated Hub repository",
    "The Hub repository is gated (access needs accepting terms), and `maturity.allow_gated` is false.",
    "Review the gate's terms and allow gated repos in the policy if accepted.",
    tags=_TAGS,
)
UNTRUSTED = Rule(
    "MLG-MAT-012", Severity.MEDIUM, "Owner not in the trusted list",
    "`maturity.require_trusted` is set and the source's owner is not in `maturity.trusted`.",
    "Add the organisation to `maturity.trusted` after review, or use a source from a trusted one.",
    tags=_TAGS,
)
UNMEASURED = Rule(
    "MLG-MAT-013", Severity.MEDIUM, "Signal could not be measured",
    "A threshold applies to a signal that could not be measured (API field missing, endpoint "
    "refused). It fails closed unless `maturity.unmeasured: warn`.",
    "Give a token with read access, check the source, or drop the threshold for this source.",
    tags=_TAGS,
)
NOT_FOUND = Rule(
    "MLG-MAT-014", Severity.HIGH, "Source not found or not accessible",
    "The API answered 404 / 401 / 403 for the source: it does not exist, was renamed, or is private.",
    "Fix the source reference, or give a token that can read it (GITHUB_TOKEN, GITLAB_TOKEN, HF_TOKEN).",
    tags=_TAGS,
)
UNREACHABLE = Rule(
    "MLG-MAT-015", Severity.HIGH, "Source could not be checked",
    "The API could not be reached or kept failing (rate limit, 5xx, timeout) after bounded retries. "
    "Severity follows `maturity.on_error` (fail: high, warn: low).",
    "Retry later, give a token for a higher rate limit, or set `maturity.on_error: warn`.",
    tags=_TAGS,
)
OFFLINE = Rule(
    "MLG-MAT-016", Severity.MEDIUM, "Source not checked (offline)",
    "--offline was given, so the source was not checked. Severity follows `maturity.offline` "
    "(fail: medium, warn: info).",
    "Run without --offline, or set `maturity.offline: warn` to accept unchecked sources.",
    tags=_TAGS,
)
NO_SOURCES = Rule(
    "MLG-MAT-017", Severity.MEDIUM, "No sources found to check",
    "No source was given and none could be derived from the model card (base_model, datasets, "
    "repository links), so nothing was checked.",
    "Name sources on the command line or in `maturity.sources`, or add base_model / datasets to the card.",
    tags=_TAGS,
)
HUB_SCAN_ISSUES = Rule(
    "MLG-MAT-018", Severity.HIGH, "Hub security scan reports issues",
    "The Hugging Face security scan reports files with issues in this repository.",
    "Inspect the flagged files (`mlgate scan`) before using the model.",
    tags=(*_TAGS, "security"),
)
BAD_SOURCE = Rule(
    "MLG-MAT-019", Severity.MEDIUM, "Source reference not understood",
    "A source named in the model card or policy is not a GitHub, GitLab or Hugging Face reference.",
    "Write it as github:owner/repo, gitlab:group/project, hf:org/name or its web URL.",
    tags=_TAGS,
)

FEW_ISSUES_CLOSED = Rule(
    "MLG-MAT-020", Severity.MEDIUM, "Few recent issues closed",
    "Of the issues opened in the last `maturity.issue_window_days`, a smaller share than "
    "`maturity.min_closed_issue_ratio` is closed: reports go unanswered.",
    "Check how upstream handles issues and security reports, or lower the threshold for this source.",
    tags=_TAGS,
)

RULES: list[Rule] = [
    ARCHIVED, FEW_CONTRIBUTORS, STALE_COMMIT, STALE_RELEASE, FEW_STARS, FEW_FORKS, FEW_DOWNLOADS,
    FEW_LIKES, NO_LICENSE, NO_SECURITY_POLICY, GATED, UNTRUSTED, UNMEASURED, NOT_FOUND,
    UNREACHABLE, OFFLINE, NO_SOURCES, HUB_SCAN_ISSUES, BAD_SOURCE, FEW_ISSUES_CLOSED,
]
