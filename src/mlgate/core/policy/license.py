"""The ``license`` section of mlgate.yml (owned by the license capability)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class LicensePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allow: list[str] = Field(default_factory=list, description="Allowed SPDX ids / LicenseRef- names.")
    deny: list[str] = Field(default_factory=list, description="Denied SPDX ids / LicenseRef- names.")
    unknown: str = Field("fail", description="fail | warn: what an undetermined license does.")
