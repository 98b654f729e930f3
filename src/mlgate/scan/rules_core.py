"""Rules of the scan engine, the safe walk, archives and limits (MLG-SCAN-001..049)."""

from __future__ import annotations

from mlgate.core.rules import Rule

RULES: list[Rule] = []
