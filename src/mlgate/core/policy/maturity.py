"""The ``maturity`` section of mlgate.yml (owned by the maturity capability).

Thresholds are ``None`` when not enforced. ``overrides`` replaces thresholds for one source kind
(``github``, ``gitlab``, ``huggingface``) or one source (``github:owner/repo``); the most
specific key wins (source over kind over the section's own values).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FailOrWarn = Literal["fail", "warn"]


class MaturityThresholds(BaseModel):
    """The thresholds a source is compared with. ``None`` = not checked."""

    model_config = ConfigDict(extra="forbid")

    min_stars: int | None = Field(None, ge=0, description="Fewest stars (GitHub, GitLab).")
    min_forks: int | None = Field(None, ge=0, description="Fewest forks (GitHub, GitLab).")
    min_contributors: int | None = Field(None, ge=0, description="Fewest contributors allowed.")
    max_days_since_commit: int | None = Field(
        None, ge=0, description="Most days since the last commit (Hub: last modification)."
    )
    max_days_since_release: int | None = Field(
        None, ge=0, description="Most days since the last release; no release at all fails too."
    )
    min_downloads: int | None = Field(None, ge=0, description="Fewest downloads (Hugging Face).")
    min_likes: int | None = Field(None, ge=0, description="Fewest likes (Hugging Face).")
    min_closed_issue_ratio: float | None = Field(
        None, ge=0, le=1,
        description="Least share (0-1) of the issues opened in the last `issue_window_days` that "
        "are closed now (GitHub, GitLab; a window with no new issues passes).",
    )
    require_license: bool | None = Field(None, description="The source must declare a license.")
    require_security_policy: bool | None = Field(
        None, description="The repository must have a security policy (SECURITY.md)."
    )
    allow_archived: bool | None = Field(
        None, description="Accept archived / disabled / read-only sources (default: no)."
    )
    allow_gated: bool | None = Field(
        None, description="Accept gated Hub repos (default: yes; the gate is recorded)."
    )


class MaturityPolicy(MaturityThresholds):
    model_config = ConfigDict(extra="forbid")

    sources: list[str] = Field(
        default_factory=list,
        description="Sources always checked: github:o/r, gitlab:g/p, hf:org/name, "
        "hf:datasets/org/name or their web URLs.",
    )
    trusted: list[str] = Field(
        default_factory=list,
        description="Trusted orgs / namespaces (e.g. 'github:pytorch', 'hf:google', 'meta-llama'). "
        "Sources they own skip the popularity and activity thresholds (archived still fails).",
    )
    require_trusted: bool = Field(False, description="Every source must be owned by a trusted org.")
    on_error: FailOrWarn = Field(
        "fail", description="fail | warn when a source cannot be reached (network, rate limit)."
    )
    offline: FailOrWarn = Field(
        "fail", description="fail | warn for sources not checked because of --offline."
    )
    unmeasured: FailOrWarn = Field(
        "fail", description="fail | warn when a threshold applies to a signal that could not be measured."
    )
    fail_on: Literal["info", "low", "medium", "high", "critical"] = Field(
        "medium", description="Lowest severity that makes `mlgate maturity` exit 1."
    )
    timeout: float = Field(15.0, gt=0, le=300, description="Seconds per HTTP request.")
    retries: int = Field(3, ge=0, le=10, description="Retries on 429 / 5xx / connection errors.")
    max_wait: float = Field(
        60.0, ge=0, le=3600,
        description="Longest wait (s) for a Retry-After or rate-limit reset before giving up.",
    )
    issue_window_days: int = Field(
        365, ge=1, le=3650, description="Window (days) of `min_closed_issue_ratio`."
    )
    etag_cache: bool = Field(
        True,
        description="Conditional requests: keep ETag + body of GitHub / GitLab API answers in the "
        "cache dir and revalidate them with If-None-Match (a 304 costs no GitHub rate limit).",
    )
    cache_ttl: int = Field(
        0, ge=0, le=604800,
        description="Seconds to reuse signals measured earlier (on-disk cache, MLGATE_CACHE_DIR); 0 = off.",
    )
    overrides: dict[str, MaturityThresholds] = Field(
        default_factory=dict,
        description="Thresholds per source kind (github, gitlab, huggingface) or per source ref.",
    )

    def thresholds_for(self, kind: str, ref: str) -> MaturityThresholds:
        """The effective thresholds for one source: section values, then kind, then ref override."""
        names = list(MaturityThresholds.model_fields)
        values = {n: getattr(self, n) for n in names}
        for key in (kind, ref):
            over = self.overrides.get(key)
            if over is not None:
                values.update({n: getattr(over, n) for n in over.model_fields_set})
        return MaturityThresholds(**values)
