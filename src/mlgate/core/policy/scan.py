"""The ``scan`` section of mlgate.yml."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ScanPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fail_on: str = Field("medium", description="Lowest severity that fails the scan step.")
    allow_globals: list[str] = Field(
        default_factory=list,
        description="Extra pickle globals ('module.name' or 'module.*') to treat as safe, on "
        "top of the built-in reviewed allowlist. Review each one: anything callable can run "
        "code when a pickle is loaded.",
    )
    max_file_size: int | None = Field(
        None, description="Bytes; larger files are a finding instead of being scanned."
    )
    max_seconds_per_file: float = Field(120.0, description="Per-file time limit.")
    max_archive_depth: int = Field(3, description="How deep nested archives are opened.")
