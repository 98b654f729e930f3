"""Rules of the static pickle analysis and of pickles embedded in other formats
(MLG-SCAN-050..099)."""

from __future__ import annotations

from mlgate.core.rules import Rule

RULES: list[Rule] = []
