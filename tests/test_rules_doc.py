"""docs/rules.md is generated from the rule catalogue and must stay in sync with it."""

from __future__ import annotations

import re
from pathlib import Path

from mlgate.core.rules import RULE_MODULES, all_rules, render_markdown

DOC = Path(__file__).resolve().parent.parent / "docs" / "rules.md"


def test_rules_doc_is_up_to_date() -> None:
    assert DOC.read_text(encoding="utf-8") == render_markdown(), (
        "docs/rules.md is stale: regenerate with `python -m mlgate.core.rules > docs/rules.md`"
    )


def test_every_capability_declares_rules() -> None:
    prefixes = {rule_id.split("-")[1] for rule_id in all_rules()}
    assert {"SCAN", "BOM", "LIC", "MAT", "BENCH", "DEC"} <= prefixes
    assert len(RULE_MODULES) == 6


def test_rule_ids_are_well_formed_and_documented() -> None:
    for rule in all_rules().values():
        assert re.fullmatch(r"MLG-[A-Z]+-\d{3}", rule.id), rule.id
        assert rule.title and rule.description and rule.remediation, rule.id
