"""Rules of the scan engine, pickle analysis, archives and the safe walk (MLG-SCAN-0xx,
1xx, 4xx)."""

from __future__ import annotations

from mlgate.core.rules import Rule

RULES: list[Rule] = []
