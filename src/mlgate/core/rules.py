"""The rule catalogue: every rule id is data, declared once by its capability.

Each capability declares its rules in ``mlgate/<capability>/rules.py`` as ``RULES: list[Rule]``
and lists that module in ``RULE_MODULES``. ``docs/rules.md`` is generated from this catalogue
(``python -m mlgate.core.rules > docs/rules.md``) and a test keeps it in sync; SARIF takes its
rule metadata from here too. Rule ids are stable: never renumber, only add.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache

from mlgate.core.findings import Finding, JSONValue, Location, Severity

RULE_MODULES: tuple[str, ...] = (
    "mlgate.scan.rules",
    "mlgate.bom.rules",
    "mlgate.license.rules",
    "mlgate.maturity.rules",
    "mlgate.bench.rules",
    "mlgate.decide.rules",
)


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    title: str
    description: str
    remediation: str
    help_uri: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)

    def finding(
        self,
        detail: str,
        location: Location | None = None,
        *,
        title: str | None = None,
        severity: Severity | None = None,
        engine: str = "mlgate",
        properties: Mapping[str, JSONValue] | None = None,
    ) -> Finding:
        return Finding(
            rule_id=self.id,
            severity=severity or self.severity,
            title=title or self.title,
            detail=detail,
            location=location,
            remediation=self.remediation,
            engine=engine,
            properties=dict(properties or {}),
        )


@cache
def all_rules() -> dict[str, Rule]:
    out: dict[str, Rule] = {}
    for name in RULE_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # capability not present yet
                continue
            raise
        for rule in getattr(module, "RULES", []):
            if rule.id in out:
                raise ValueError(f"duplicate rule id {rule.id} in {name}")
            out[rule.id] = rule
    return out


def get_rule(rule_id: str) -> Rule | None:
    return all_rules().get(rule_id)


def render_markdown() -> str:
    lines = [
        "# Rules",
        "",
        "Every finding mlgate reports carries one of these stable rule ids. This page is",
        "generated from the rule catalogue (`python -m mlgate.core.rules > docs/rules.md`).",
        "",
    ]
    current = ""
    for rule in sorted(all_rules().values(), key=lambda r: r.id):
        area = rule.id.split("-")[1]
        if area != current:
            current = area
            lines += [f"## {area}", ""]
        lines += [
            f"### {rule.id}: {rule.title}",
            "",
            f"Default severity: **{rule.severity.value}**",
            "",
            rule.description,
            "",
            f"**How to fix:** {rule.remediation}",
            "",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_markdown(), end="")
