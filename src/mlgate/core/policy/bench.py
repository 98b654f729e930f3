"""The ``bench`` section of mlgate.yml (owned by the bench capability)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class BenchPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tolerance: float = Field(0.05, description="Default relative tolerance (0.05 = 5 %).")
