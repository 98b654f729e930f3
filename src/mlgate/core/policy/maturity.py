"""The ``maturity`` section of mlgate.yml (owned by the maturity capability)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class MaturityPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_contributors: int | None = Field(None, description="Fewest contributors allowed.")
    max_days_since_commit: int | None = Field(None, description="Most days since last commit.")
    trusted: list[str] = Field(default_factory=list, description="Trusted orgs / namespaces.")
    on_error: str = Field("fail", description="fail | warn when a source cannot be reached.")
