"""How a decision reads: plain text for logs, markdown for comments and job summaries."""

from __future__ import annotations

from mlgate.decide.decision import Decision, Reason

MARKER = "<!-- mlgate:decision -->"
_HEAD = {"promote": "✅ promote", "hold": "✋ hold", "reject": "⛔ reject"}
_EFFECT = {"reject": "⛔ rejects", "hold": "✋ holds", "note": "ℹ️ note"}


def _md_escape(text: str) -> str:
    out = text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
    for ch in "<>`*_[]":
        out = out.replace(ch, "\\" + ch)
    return out


def render_text(decision: Decision) -> str:
    lines = [f"mlgate decide: {decision.outcome.upper()} (stage {decision.stage})"]
    if not decision.verified:
        lines.append("  UNVERIFIED: taken from an untrusted run's artifact")
    for r in decision.reasons:
        where = f" ({r.location.display()})" if r.location else ""
        lines.append(f"  {r.effect.upper():7} {r.rule_id} [{r.report_kind}] {r.text}{where}")
    for w in decision.waived:
        lines.append(f"  WAIVED  {w.rule_id} {w.path or ''} ({w.reason}; {w.approved_by}, until {w.expires})")
    inputs = ", ".join(f"{i.kind}{'' if i.complete else ' (incomplete)'}" for i in decision.inputs)
    lines.append(f"  inputs: {inputs or 'none'}")
    lines.append(f"  policy: {decision.policy_source} sha256:{decision.policy_sha256[:16]}")
    return "\n".join(lines) + "\n"


def _reason_row(r: Reason) -> str:
    where = _md_escape(r.location.display()) if r.location else ""
    kind, text = _md_escape(r.report_kind), _md_escape(r.text)
    return f"| {_EFFECT[r.effect]} | {r.rule_id} | {kind} | {text} | {where} |"


def render_markdown(decision: Decision, *, limit: int = 60000, details_url: str = "") -> str:
    """Markdown with the hidden marker first; never longer than ``limit`` characters (rows
    past the limit are counted, not shown)."""
    head = [
        MARKER,
        f"## mlgate: {_HEAD[decision.outcome]} for stage `{decision.stage.replace('`', '')}`",
        "",
    ]
    if not decision.verified:
        head += ["> **Unverified**: this decision comes from an untrusted run and cannot promote.", ""]
    counts = ", ".join(f"{n} {s}" for s, n in reversed(list(decision.counts.items())) if n) or "no findings"
    head += [f"Findings counted: {counts}. Waived: {len(decision.waived)}.", ""]
    tail = ["", f"Policy `{_md_escape(decision.policy_source)}` sha256 `{decision.policy_sha256[:16]}`"]
    if details_url:
        tail.append(f"Details: {details_url}")
    tail.append("")
    body: list[str] = []
    if decision.reasons:
        body += ["| Effect | Rule | Report | Reason | Location |", "|---|---|---|---|---|"]
        body += [_reason_row(r) for r in decision.reasons]
    if decision.waived:
        body += ["", "| Waived | Path | Reason | Approved by | Expires |", "|---|---|---|---|---|"]
        body += [
            f"| {w.rule_id} | {_md_escape(w.path or '')} | {_md_escape(w.reason)} "
            f"| {_md_escape(w.approved_by)} | {w.expires} |"
            for w in decision.waived
        ]
    budget = limit - len("\n".join(head + tail)) - 200
    kept: list[str] = []
    used = 0
    for i, line in enumerate(body):
        if used + len(line) + 1 > budget:
            kept.append("")
            kept.append(f"… {len(body) - i} more row(s) not shown (see the JSON decision).")
            break
        kept.append(line)
        used += len(line) + 1
    return "\n".join(head + kept + tail)
