"""Stages and waivers of mlgate.yml (owned by the decide capability).

A stage (``dev``, ``staging``, ``production``...) names the report kinds that must be present,
the lowest severity that rejects and the lowest that holds for a human, and the waivers that
apply there. When a policy names no stages, :func:`default_stages` gives the built-in three.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

SEVERITY_NAMES = ("info", "low", "medium", "high", "critical")
THRESHOLD_NAMES = (*SEVERITY_NAMES, "none")


def _check_threshold(value: str) -> str:
    v = value.strip().lower()
    if v not in THRESHOLD_NAMES:
        raise ValueError(f"must be one of {', '.join(THRESHOLD_NAMES)}")
    return v


class Waiver(BaseModel):
    """An accepted risk: findings of ``rule`` on paths matching ``path`` do not count until
    ``expires``. Every waiver names who approved it and why; an expired waiver no longer
    applies and is reported."""

    model_config = ConfigDict(extra="forbid")

    rule: str = Field(..., min_length=1, description="Rule id (e.g. MLG-SCAN-051); '*' globs allowed.")
    path: str = Field(
        default="*", min_length=1, description="Glob on the finding's file path (POSIX, relative)."
    )
    reason: str = Field(..., min_length=1, description="Why this risk is accepted.")
    approved_by: str = Field(..., min_length=1, description="Who accepted it (person or team).")
    expires: date = Field(..., description="Last day the waiver applies (YYYY-MM-DD).")
    fingerprint: str | None = Field(
        default=None, description="Optional: waive only the finding with this exact fingerprint."
    )


class StagePolicy(BaseModel):
    """What one stage demands before a model may be promoted to it."""

    model_config = ConfigDict(extra="forbid")

    requires: list[str] = Field(
        default_factory=list,
        description="Report kinds that must be present (scan, bom, license, maturity, bench).",
    )
    reject_on: str = Field(
        default="critical", description="Lowest finding severity that rejects (or 'none')."
    )
    hold_on: str = Field(
        default="high", description="Lowest finding severity that holds for a human (or 'none')."
    )
    bench: Literal["auto", "required", "optional"] = Field(
        default="optional",
        description="auto: a bench report is required when the bench policy names metrics.",
    )
    inconclusive: Literal["hold", "reject", "pass"] = Field(
        default="hold", description="What an inconclusive measurement (e.g. a noisy benchmark) does."
    )
    allow_incomplete: bool = Field(
        default=False, description="Accept incomplete (e.g. partly sharded) reports. Not recommended."
    )
    require_digests: bool = Field(
        default=True, description="Hold when a scanned file has no sha256 (the record could not attest it)."
    )
    waivers: list[Waiver] = Field(default_factory=list, description="Waivers for this stage.")

    @field_validator("reject_on", "hold_on")
    @classmethod
    def _threshold(cls, value: str) -> str:
        return _check_threshold(value)


def default_stages() -> dict[str, StagePolicy]:
    """The built-in stages used when a policy names none: ``dev`` needs a scan report,
    ``staging`` adds bom and license, ``production`` adds maturity (and bench when the
    bench policy names metrics)."""
    return {
        "dev": StagePolicy(requires=["scan"], reject_on="critical", hold_on="high"),
        "staging": StagePolicy(requires=["scan", "bom", "license"], reject_on="high", hold_on="medium"),
        "production": StagePolicy(
            requires=["scan", "bom", "license", "maturity"],
            reject_on="high",
            hold_on="medium",
            bench="auto",
        ),
    }
