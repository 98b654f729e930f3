"""Scan rules: engine/walk/archive rules, pickle rules and per-format rules, one catalogue."""

from __future__ import annotations

from mlgate.core.rules import Rule
from mlgate.scan.rules_core import RULES as CORE_RULES
from mlgate.scan.rules_formats import RULES as FORMAT_RULES
from mlgate.scan.rules_pickle import RULES as PICKLE_RULES

RULES: list[Rule] = [*CORE_RULES, *PICKLE_RULES, *FORMAT_RULES]
