"""Stages and waivers of mlgate.yml (owned by the decide capability)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class StagePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requires: list[str] = Field(default_factory=list, description="Report kinds that must be present.")
