"""The ``license`` section of mlgate.yml (owned by the license capability).

Entries of ``allow`` / ``deny`` are SPDX ids, ``LicenseRef-`` names or shell-style patterns
(``CC-BY-NC-*``), compared case-insensitively; ``A WITH B`` entries match that exact
combination, and a plain id also matches ``id WITH <any exception>``. ``deny`` wins over
``allow``. The ``model`` / ``dataset`` / ``dependency`` subsections add to the top-level lists
for that kind of thing only.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Action = Literal["fail", "warn"]


class LicenseCategoryPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allow: list[str] = Field(default_factory=list, description="Extra allowed licenses.")
    deny: list[str] = Field(default_factory=list, description="Extra denied licenses.")
    unknown: Action | None = Field(
        None, description="Overrides the top-level `unknown` for this kind of thing."
    )
    not_allowed: Action | None = Field(
        None, description="Overrides the top-level `not_allowed` for this kind of thing."
    )


class LicenseException(BaseModel):
    """A reviewed exception: a finding that matches it becomes informational until it
    expires. ``subject`` is a path in the model folder (``LICENSE``, ``README.md``), a dataset
    id, a package name or ``model``; ``license`` narrows it to one license (optional)."""

    model_config = ConfigDict(extra="forbid")

    subject: str = Field(..., description="Path, dataset id, package name or 'model'.")
    license: str | None = Field(None, description="Only this license (SPDX id or pattern).")
    reason: str = Field(..., min_length=1, description="Why this was accepted (required).")
    expires: dt.date | None = Field(None, description="Date (YYYY-MM-DD) the exception ends.")


class LicensePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allow: list[str] = Field(
        default_factory=list, description="Allowed SPDX ids / LicenseRef- names / patterns."
    )
    deny: list[str] = Field(
        default_factory=list, description="Denied SPDX ids / LicenseRef- names / patterns."
    )
    unknown: Action = Field("fail", description="fail | warn: what an undetermined license does.")
    not_allowed: Action = Field(
        "fail", description="fail | warn: a license neither allowed nor denied (e.g. Llama)."
    )
    conflict: Action = Field(
        "fail", description="fail | warn: the card and a LICENSE file name different licenses."
    )
    check_datasets: bool = Field(True, description="Check the licenses of the card's datasets.")
    check_dependencies: bool = Field(
        True, description="Check the licenses of requirements*.txt dependencies."
    )
    model: LicenseCategoryPolicy = Field(
        default_factory=LicenseCategoryPolicy,  # type: ignore[arg-type]
        description="Extra rules for the model's own license.",
    )
    dataset: LicenseCategoryPolicy = Field(
        default_factory=LicenseCategoryPolicy,  # type: ignore[arg-type]
        description="Extra rules for dataset licenses.",
    )
    dependency: LicenseCategoryPolicy = Field(
        default_factory=LicenseCategoryPolicy,  # type: ignore[arg-type]
        description="Extra rules for Python dependency licenses.",
    )
    exceptions: list[LicenseException] = Field(
        default_factory=list, description="Reviewed exceptions with a reason and expiry."
    )
