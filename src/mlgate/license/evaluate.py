"""Evaluate an SPDX expression against the license policy.

Each license symbol is ``allowed``, ``not-allowed`` (named in neither list) or ``denied``
(``deny`` wins over ``allow``). ``A OR B`` is as good as its best branch (the user may choose),
``A AND B`` as bad as its worst (all terms apply). ``A WITH E`` matches an entry ``A WITH E``
exactly, or an entry for ``A``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from mlgate.core.policy.license import LicensePolicy
from mlgate.license.spdx import licensing

ALLOWED = "allowed"
NOT_ALLOWED = "not-allowed"
DENIED = "denied"
_RANK = {ALLOWED: 0, NOT_ALLOWED: 1, DENIED: 2}


@dataclass(frozen=True)
class Verdict:
    status: str  # allowed | not-allowed | denied
    expression: str
    deciding: tuple[str, ...]  # the license symbols that decided the status


def lists_for(policy: LicensePolicy, kind: str) -> tuple[list[str], list[str]]:
    """(allow, deny) for ``kind`` (model, dataset, dependency): top-level plus its section."""
    section = getattr(policy, kind, None)
    allow = list(policy.allow) + (list(section.allow) if section is not None else [])
    deny = list(policy.deny) + (list(section.deny) if section is not None else [])
    return allow, deny


def _matches(symbol: str, base: str, patterns: Sequence[str]) -> bool:
    for pat in patterns:
        p = " ".join(pat.split()).lower()
        for candidate in {symbol.lower(), base.lower()}:
            if fnmatchcase(candidate, p):
                return True
    return False


def symbol_status(symbol: str, allow: Sequence[str], deny: Sequence[str]) -> str:
    base = symbol.split(" WITH ")[0] if " WITH " in symbol else symbol
    if _matches(symbol, base, deny):
        return DENIED
    if _matches(symbol, base, allow):
        return ALLOWED
    return NOT_ALLOWED


def evaluate(expression: str, policy: LicensePolicy, kind: str = "model") -> Verdict:
    """The verdict of one (already normalised) SPDX expression."""
    from license_expression import AND, OR, LicenseSymbol, LicenseWithExceptionSymbol

    allow, deny = lists_for(policy, kind)
    parsed = licensing().parse(expression, validate=False)

    def walk(node: Any) -> tuple[str, tuple[str, ...]]:
        if isinstance(node, LicenseWithExceptionSymbol):
            text = f"{node.license_symbol.key} WITH {node.exception_symbol.key}"
            return symbol_status(text, allow, deny), (text,)
        if isinstance(node, LicenseSymbol):
            return symbol_status(node.key, allow, deny), (node.key,)
        if isinstance(node, (AND, OR)):
            results = [walk(arg) for arg in node.args]
            pick = min if isinstance(node, OR) else max
            best = pick(_RANK[s] for s, _ in results)
            status = next(s for s, _ in results if _RANK[s] == best)
            deciding = tuple(sym for s, syms in results if _RANK[s] == best for sym in syms)
            return status, deciding
        return NOT_ALLOWED, (str(node),)

    status, deciding = walk(parsed)
    return Verdict(status, str(parsed), deciding)
