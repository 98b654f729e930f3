"""Policy + reports -> one promotion decision: promote, hold or reject, with every reason.

Fail closed everywhere: missing evidence, incomplete reports, inconclusive measurements,
unhashed files and digest conflicts hold; a finding at or above the stage's ``reject_on``
rejects unless a valid (unexpired) waiver covers it.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Literal

from mlgate.core.errors import InputError, UsageError
from mlgate.core.findings import Finding, JSONValue, Location, Report, Severity, merge_reports
from mlgate.core.policy import Policy
from mlgate.core.policy.stages import StagePolicy, Waiver, default_stages
from mlgate.core.rules import Rule
from mlgate.decide import rules as R

Outcome = Literal["promote", "hold", "reject"]
Effect = Literal["reject", "hold", "note"]
OUTCOMES: tuple[str, ...] = ("promote", "hold", "reject")
DECISION_SCHEMA_VERSION = 1


def canonical_json(data: JSONValue) -> bytes:
    """Deterministic JSON bytes (sorted keys, no spaces, UTF-8) used for every digest."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8", "backslashreplace")  # a lone surrogate (non-UTF-8 path) becomes its \u escape


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def policy_digest(policy: Policy) -> str:
    return sha256_hex(canonical_json(policy.model_dump(mode="json", exclude={"source"})))


def report_digest(report: Report) -> str:
    return sha256_hex(canonical_json(report.to_json()))


MAX_BELOW_NOTES = 100  # findings below the thresholds listed as notes in one decision


@dataclass(frozen=True)
class Reason:
    """One reason of a decision, linked to its finding (fingerprint) where there is one."""

    rule_id: str
    effect: Effect
    severity: Severity
    report_kind: str
    text: str
    finding_rule_id: str | None = None
    fingerprint: str | None = None
    location: Location | None = None

    def to_json(self) -> dict[str, JSONValue]:
        out: dict[str, JSONValue] = {
            "rule_id": self.rule_id,
            "effect": self.effect,
            "severity": self.severity.value,
            "report_kind": self.report_kind,
            "text": self.text,
        }
        if self.finding_rule_id is not None:
            out["finding_rule_id"] = self.finding_rule_id
        if self.fingerprint is not None:
            out["fingerprint"] = self.fingerprint
        if self.location is not None:
            out["location"] = self.location.to_json()
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, JSONValue]) -> Reason:
        effect = str(data["effect"])
        if effect not in ("reject", "hold", "note"):
            raise InputError(f"unknown reason effect {effect!r}")
        loc = data.get("location")
        return cls(
            rule_id=str(data["rule_id"]),
            effect=effect,  # type: ignore[arg-type]
            severity=Severity.parse(str(data["severity"])),
            report_kind=str(data["report_kind"]),
            text=str(data["text"]),
            finding_rule_id=_opt(data.get("finding_rule_id")),
            fingerprint=_opt(data.get("fingerprint")),
            location=Location.from_json(loc) if isinstance(loc, Mapping) else None,
        )


@dataclass(frozen=True)
class InputRef:
    """One input report: its kind, target, completeness and the digest of its canonical JSON."""

    kind: str
    target: str
    sha256: str
    complete: bool

    def to_json(self) -> dict[str, JSONValue]:
        return {"kind": self.kind, "target": self.target, "sha256": self.sha256, "complete": self.complete}


@dataclass(frozen=True)
class WaivedFinding:
    rule_id: str
    fingerprint: str
    path: str | None
    reason: str
    approved_by: str
    expires: str

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "rule_id": self.rule_id,
            "fingerprint": self.fingerprint,
            "path": self.path,
            "reason": self.reason,
            "approved_by": self.approved_by,
            "expires": self.expires,
        }


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    stage: str
    reasons: tuple[Reason, ...] = ()
    counts: Mapping[str, int] = field(default_factory=dict)
    inputs: tuple[InputRef, ...] = ()
    waived: tuple[WaivedFinding, ...] = ()
    policy_source: str = ""
    policy_sha256: str = ""
    verified: bool = True

    @property
    def exit_code(self) -> int:
        return 0 if self.outcome == "promote" else 1

    def blocking(self) -> list[Reason]:
        return [r for r in self.reasons if r.effect != "note"]

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "mlgate_decision": DECISION_SCHEMA_VERSION,
            "decision": self.outcome,
            "stage": self.stage,
            "verified": self.verified,
            "reasons": [r.to_json() for r in self.reasons],
            "counts": dict(self.counts),
            "inputs": [i.to_json() for i in self.inputs],
            "waived": [w.to_json() for w in self.waived],
            "policy": {"source": self.policy_source, "sha256": self.policy_sha256},
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2) + "\n"

    @classmethod
    def from_json(cls, data: Mapping[str, JSONValue]) -> Decision:
        if not isinstance(data, Mapping) or "mlgate_decision" not in data:
            raise InputError("not an mlgate decision (no 'mlgate_decision' field)",
                             hint="write one with `mlgate decide ... --format json -o decision.json`")
        try:
            outcome = str(data["decision"])
            if outcome not in OUTCOMES:
                raise InputError(f"unknown decision {outcome!r}")
            pol = data.get("policy") or {}
            return cls(
                outcome=outcome,  # type: ignore[arg-type]
                stage=str(data["stage"]),
                reasons=tuple(Reason.from_json(r) for r in data.get("reasons") or []),
                counts={str(k): int(v) for k, v in dict(data.get("counts") or {}).items()},
                inputs=tuple(
                    InputRef(str(i["kind"]), str(i["target"]), str(i["sha256"]), bool(i["complete"]))
                    for i in data.get("inputs") or []
                ),
                waived=tuple(
                    WaivedFinding(
                        str(w["rule_id"]), str(w["fingerprint"]), _opt(w.get("path")),
                        str(w["reason"]), str(w["approved_by"]), str(w["expires"]),
                    )
                    for w in data.get("waived") or []
                ),
                policy_source=str(pol.get("source", "")),
                policy_sha256=str(pol.get("sha256", "")),
                verified=bool(data.get("verified", True)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"malformed decision: {exc}") from exc

    def to_report(self) -> Report:
        """The decision as a Report (kind ``decide``), so every renderer can show it."""
        findings = []
        for r in self.reasons:
            rule = _RULES_BY_ID.get(r.rule_id)
            findings.append(
                Finding(
                    rule_id=r.rule_id,
                    severity=r.severity,
                    title=rule.title if rule else r.rule_id,
                    detail=r.text,
                    location=r.location,
                    remediation=rule.remediation if rule else "",
                    properties={"effect": r.effect, "report_kind": r.report_kind},
                )
            )
        return Report(
            kind="decide",
            target=f"{self.outcome} ({self.stage})",
            findings=tuple(findings),
            evidence={"decision": self.outcome, "stage": self.stage},
        )


_RULES_BY_ID: dict[str, Rule] = {r.id: r for r in R.RULES}


def _opt(value: JSONValue) -> str | None:
    return None if value is None else str(value)


def resolve_stage(policy: Policy, stage: str | None) -> tuple[str, StagePolicy]:
    stages = dict(policy.stages) if policy.stages else default_stages()
    if stage is None:
        stage = "dev" if "dev" in stages else next(iter(stages))
    if stage not in stages:
        raise UsageError(f"unknown stage {stage!r}", hint=f"stages in this policy: {', '.join(stages)}")
    return stage, stages[stage]


def _threshold(name: str) -> Severity | None:
    return None if name == "none" else Severity.parse(name)


def _waiver_matches(w: Waiver, f: Finding) -> bool:
    if not fnmatch.fnmatchcase(f.rule_id, w.rule):
        return False
    if w.fingerprint is not None and w.fingerprint != f.fingerprint:
        return False
    if f.location is None:
        return w.path == "*"
    paths = [f.location.path]
    if f.location.member:
        paths.append(f"{f.location.path}!/{f.location.member}")
    return any(fnmatch.fnmatchcase(p, w.path) for p in paths)


# rules whose findings mean "could not tell" rather than "bad" (the bench gate's inconclusive)
INCONCLUSIVE_RULES = frozenset({"MLG-BENCH-002"})


def _is_inconclusive(f: Finding) -> bool:
    props = f.properties
    return (
        f.rule_id in INCONCLUSIVE_RULES
        or props.get("inconclusive") is True
        or props.get("verdict") == "inconclusive"
    )


def _bench_metrics_named(policy: Policy) -> bool:
    metrics = getattr(policy.bench, "metrics", None)
    return bool(metrics)


def decide(
    reports: Sequence[Report],
    policy: Policy,
    *,
    stage: str | None = None,
    today: date | None = None,
) -> Decision:
    """Decide whether the model these reports describe may be promoted to ``stage``."""
    stage_name, sp = resolve_stage(policy, stage)
    today = today or datetime.now(timezone.utc).date()
    reject_at = _threshold(sp.reject_on)
    hold_at = _threshold(sp.hold_on)
    reasons: list[Reason] = []

    # inputs, one report per kind (several of one kind, e.g. shards, are merged first)
    by_kind: dict[str, list[Report]] = {}
    for rep in reports:
        by_kind.setdefault(rep.kind, []).append(rep)
    merged: dict[str, Report] = {}
    for kind, reps in sorted(by_kind.items()):
        merged[kind] = reps[0] if len(reps) == 1 and not reps[0].shard else merge_reports(reps)
    inputs = tuple(
        InputRef(r.kind, r.target, report_digest(r), r.complete)
        for r in sorted(reports, key=lambda r: (r.kind, report_digest(r)))
    )

    required = list(dict.fromkeys(sp.requires))
    if sp.bench == "required" or (sp.bench == "auto" and _bench_metrics_named(policy)):
        required.append("bench")
    for kind in dict.fromkeys(required):
        if kind not in merged:
            reasons.append(Reason(R.MISSING_REPORT.id, "hold", R.MISSING_REPORT.severity, kind,
                                  f"stage {stage_name!r} requires a {kind} report: not measured"))

    for kind, rep in merged.items():
        if not rep.complete and not sp.allow_incomplete:
            reasons.append(Reason(R.INCOMPLETE_REPORT.id, "hold", R.INCOMPLETE_REPORT.severity, kind,
                                  f"the {kind} report of {rep.target} is incomplete"
                                  + (f" (only shard {rep.shard} arrived)" if rep.shard else "")))

    # files: every digest known, and no two reports disagree on one
    seen: dict[str, tuple[str, str]] = {}
    for kind, rep in merged.items():
        for rec in rep.files:
            if rec.sha256 is None or rec.error:
                if kind == "scan" and sp.require_digests:
                    why = rec.error or "no sha256"
                    reasons.append(Reason(R.UNHASHED_FILE.id, "hold", R.UNHASHED_FILE.severity, kind,
                                          f"{rec.path}: {why}", location=Location(rec.path)))
                if rec.sha256 is None:
                    continue
            prev = seen.get(rec.path)
            if prev is None:
                seen[rec.path] = (kind, rec.sha256 or "")
            elif prev[1] != rec.sha256:
                reasons.append(Reason(
                    R.DIGEST_CONFLICT.id, "hold", R.DIGEST_CONFLICT.severity, kind,
                    f"{rec.path}: {prev[0]} saw sha256 {prev[1][:12]}..., {kind} saw {rec.sha256[:12]}...",
                    location=Location(rec.path),
                ))

    # waivers
    active: list[Waiver] = []
    for w in sp.waivers:
        if w.expires < today:
            reasons.append(Reason(
                R.WAIVER_EXPIRED.id, "note", R.WAIVER_EXPIRED.severity, "policy",
                f"waiver for {w.rule} on {w.path} (approved by {w.approved_by}) expired on "
                f"{w.expires.isoformat()}; it no longer applies",
            ))
        else:
            active.append(w)
    used: set[int] = set()
    waived: list[WaivedFinding] = []
    counts = {s.value: 0 for s in Severity}
    below = 0

    for kind, rep in merged.items():
        for f in sorted(rep.findings, key=lambda f: (-f.severity.rank, f.rule_id, f.fingerprint)):
            match = next((i for i, w in enumerate(active) if _waiver_matches(w, f)), None)
            if match is not None:
                used.add(match)
                w = active[match]
                waived.append(WaivedFinding(f.rule_id, f.fingerprint,
                                            f.location.display() if f.location else None,
                                            w.reason, w.approved_by, w.expires.isoformat()))
                continue
            counts[f.severity.value] += 1
            detail = " ".join(f.detail.split())
            detail = detail if len(detail) <= 300 else detail[:299] + "…"
            text = f"{f.rule_id} {f.severity.value}: {f.title}" + (f": {detail}" if detail else "")
            if reject_at is not None and f.severity >= reject_at:
                reasons.append(Reason(R.FINDING_REJECTS.id, "reject", f.severity, kind, text,
                                      f.rule_id, f.fingerprint, f.location))
            elif _is_inconclusive(f) and sp.inconclusive != "pass":
                reasons.append(Reason(R.INCONCLUSIVE.id, sp.inconclusive, f.severity, kind, text,
                                      f.rule_id, f.fingerprint, f.location))
            elif hold_at is not None and f.severity >= hold_at:
                reasons.append(Reason(R.FINDING_HOLDS.id, "hold", f.severity, kind, text,
                                      f.rule_id, f.fingerprint, f.location))
            elif f.severity >= Severity.LOW and below < MAX_BELOW_NOTES:
                below += 1  # shown to reviewers, never blocking
                reasons.append(Reason(R.FINDING_BELOW.id, "note", f.severity, kind, text,
                                      f.rule_id, f.fingerprint, f.location))

    for i, w in enumerate(active):
        if i not in used:
            reasons.append(Reason(R.WAIVER_UNUSED.id, "note", R.WAIVER_UNUSED.severity, "policy",
                                  f"waiver for {w.rule} on {w.path} matched no finding"))

    effects = {r.effect for r in reasons}
    outcome: Outcome = "reject" if "reject" in effects else "hold" if "hold" in effects else "promote"
    order = {"reject": 0, "hold": 1, "note": 2}
    reasons.sort(key=lambda r: (order[r.effect], -r.severity.rank, r.rule_id, r.text))
    return Decision(
        outcome=outcome,
        stage=stage_name,
        reasons=tuple(reasons),
        counts=counts,
        inputs=inputs,
        waived=tuple(waived),
        policy_source=policy.source,
        policy_sha256=policy_digest(policy),
    )


def mark_unverified(decision: Decision, why: str) -> Decision:
    """A decision from an untrusted run (a fork's artifact): shown, but hold at best."""
    from dataclasses import replace

    reason = Reason(R.UNVERIFIED.id, "hold", R.UNVERIFIED.severity, "decide", why)
    outcome: Outcome = "reject" if decision.outcome == "reject" else "hold"
    return replace(decision, outcome=outcome, verified=False, reasons=(reason, *decision.reasons))
