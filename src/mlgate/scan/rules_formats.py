"""Rules of the per-format handlers (MLG-SCAN-2xx), code that runs with the model
(MLG-SCAN-3xx) and the modelscan engine (MLG-SCAN-9xx)."""

from __future__ import annotations

from mlgate.core.rules import Rule

RULES: list[Rule] = []
