"""Turn a candidate's bench results (and a baseline) into a Report of kind "bench".

Per gated metric the verdict is pass / regression / improvement / inconclusive / not measured
(see ``stats``). Findings: a regression is high, an inconclusive or unmeasured metric, a failed
run, a missing baseline and a baseline from another device class are medium (they hold the
gate: "could not measure" is never a pass), an improvement is info. The evidence carries the
summary table (metric, baseline median, candidate median, change, interval, p-value, verdict).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from mlgate.bench import rules
from mlgate.bench.baseline import BenchResults, MetricSamples
from mlgate.bench.device import match_devices
from mlgate.bench.stats import (
    Better,
    CompareSettings,
    Comparison,
    Verdict,
    compare,
    compare_with_stderr,
    paired_bootstrap,
    quantile_check,
    summarize,
)
from mlgate.core.errors import PolicyError, UsageError
from mlgate.core.findings import Finding, Report, Severity
from mlgate.core.policy.bench import BenchPolicy


@dataclass(frozen=True)
class GateOptions:
    """Command-line overrides on top of the policy."""

    directions: Mapping[str, str] = field(default_factory=dict)  # --metric NAME:lower|higher
    tolerance: float | None = None
    baseline_source: str = ""
    gpu_missing: bool = False  # require_gpu but ran on CPU with --allow-cpu


def parse_tolerance(text: str) -> float:
    """``5%`` or ``0.05`` -> 0.05."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError as exc:
        raise UsageError(f"bad tolerance {text!r}", hint="use e.g. 5% or 0.05") from exc
    if not (0 <= value < 1) or not math.isfinite(value):
        raise UsageError(f"tolerance {text!r} must be between 0% and 100%")
    return value


def parse_metric_spec(spec: str) -> tuple[str, str]:
    """``latency_ms:lower`` or ``latency_ms=lower`` -> (name, direction)."""
    for sep in ("=", ":"):
        if sep in spec:
            name, _, better = spec.rpartition(sep)
            better = better.strip().lower()
            if name.strip() and better in ("lower", "higher"):
                return name.strip(), better
    raise UsageError(f"bad metric spec {spec!r}", hint="use NAME:lower or NAME:higher")


_NAME = r"[A-Za-z0-9_.,/:\-\[\]]+"
_NUM = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_QUANT_RE = re.compile(rf"^p(\d+(?:\.\d+)?)\(\s*({_NAME})\s*\)\s*(<=|>=)\s*({_NUM})$")
_REL_RE = re.compile(rf"^({_NAME})\s*(<=|>=)\s*({_NUM})\s*%\s*vs\.?\s+baseline$", re.IGNORECASE)
_ABS_RE = re.compile(rf"^({_NAME})\s*(<=|>=)\s*({_NUM})$")


@dataclass(frozen=True)
class GateExpr:
    """One ``bench.gates`` condition."""

    text: str
    kind: str  # "absolute" | "relative" | "quantile"
    metric: str
    op: str  # "<=" | ">="
    value: float  # the limit; for "relative" the allowed change as a fraction (-0.03)
    quantile: float | None = None

    @property
    def better(self) -> Better:
        return "higher" if self.op == ">=" else "lower"


def parse_gate_expr(text: str) -> GateExpr:
    raw = " ".join(text.split())
    m = _QUANT_RE.match(raw)
    if m:
        q = float(m.group(1)) / 100
        if not 0 < q < 1:
            raise PolicyError(f"bench gate {text!r}: the percentile must be between 0 and 100")
        return GateExpr(raw, "quantile", m.group(2), m.group(3), float(m.group(4)), q)
    m = _REL_RE.match(raw)
    if m:
        op, pct = m.group(2), float(m.group(3)) / 100
        if (op == ">=" and pct > 0) or (op == "<=" and pct < 0) or abs(pct) >= 1:
            raise PolicyError(
                f"bench gate {text!r}: a relative limit allows a worsening: use '>= -3% vs "
                "baseline' (higher is better) or '<= +5% vs baseline' (lower is better)"
            )
        return GateExpr(raw, "relative", m.group(1), op, pct)
    m = _ABS_RE.match(raw)
    if m:
        return GateExpr(raw, "absolute", m.group(1), m.group(2), float(m.group(3)))
    raise PolicyError(
        f"bench gate {text!r} is not understood",
        hint="use 'accuracy >= 0.82', 'throughput >= -3% vs baseline' or 'p99(latency_ms) <= 50'",
    )


def gate_exprs(policy: BenchPolicy) -> list[GateExpr]:
    return [parse_gate_expr(t) for t in policy.gates]


def gated_metrics(
    candidate: BenchResults, policy: BenchPolicy, options: GateOptions
) -> dict[str, Better]:
    """Metric -> direction for every metric the gate judges. Selected metrics (policy or
    command line) when there are any, else every metric the candidate reported. A metric
    without a known direction is a usage error, never a guess."""
    exprs = gate_exprs(policy)
    relative = {e.metric: e.better for e in exprs if e.kind == "relative"}
    selected = list(dict.fromkeys([*policy.metrics, *options.directions, *relative]))
    names = selected or ([] if exprs else list(candidate.metrics))
    out: dict[str, Better] = {}
    unknown: list[str] = []
    for name in names:
        pol = policy.metrics.get(name)
        reported = candidate.metrics.get(name)
        declared = options.directions.get(name) or (pol.better if pol else None)
        if name in relative and declared and declared != relative[name]:
            raise PolicyError(
                f"metric {name!r}: the gate says {relative[name]} is better, but it is declared "
                f"{declared} is better"
            )
        better = (
            declared
            or relative.get(name)
            or (reported.better if reported else None)
        )
        if better not in ("lower", "higher"):
            unknown.append(name)
            continue
        out[name] = cast(Better, better)
    if unknown:
        raise UsageError(
            f"unknown direction for metric(s): {', '.join(sorted(unknown))}",
            hint="say which way is better: --metric NAME:lower|higher, bench.metrics.NAME.better "
            "in mlgate.yml, or {\"value\": x, \"better\": \"lower\"} in the benchmark output",
        )
    return out


def _settings(policy: BenchPolicy, tolerance: float) -> CompareSettings:
    return CompareSettings(
        tolerance=tolerance,
        alpha=policy.alpha,
        pass_margin=policy.pass_margin,
        min_samples=policy.min_runs,
        max_cv=policy.max_cv,
    )


def _fmt(value: float | None, pct: bool = False) -> str:
    if value is None:
        return "-"
    if not math.isfinite(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:+.1%}" if pct else f"{value:.4g}"


def summary_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Plain-text table of the evidence rows (for terminals and logs)."""
    head = ["metric", "better", "baseline", "candidate", "change", "CI", "p", "verdict"]
    body = []
    for r in rows:
        ci = r.get("ci")
        if ci and ci[0] is None and ci[1] is None:
            ci_txt = "unbounded"
        else:
            ci_txt = f"[{_fmt(ci[0], True)}, {_fmt(ci[1], True)}]" if ci else "-"
        p = r.get("p_value")
        body.append([
            str(r["metric"]), str(r["better"]), _fmt(r.get("baseline_median")),
            _fmt(r.get("candidate_median")), _fmt(r.get("change"), True), ci_txt,
            "-" if p is None else f"{p:.3g}", str(r["verdict"]),
        ])
    widths = [max(len(x) for x in col) for col in zip(head, *body, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in body]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _row(c: Comparison, unit: str) -> dict[str, Any]:
    row = c.to_json()
    row["unit"] = unit
    row["baseline_median"] = c.baseline.median if c.baseline else None
    row["candidate_median"] = c.candidate.median if c.candidate else None
    return row


def _compare_metric(
    name: str, base: MetricSamples | None, cand: MetricSamples, better: Better,
    settings: CompareSettings, *, paired: bool,
) -> Comparison:
    """Pick the estimator: paired bootstrap for per-example scores, a normal interval for one
    value with a standard error on each side, else the rank-based comparison."""
    if base is None:
        return compare(name, (), cand.samples, better, settings)
    if paired or cand.paired or base.paired:
        return paired_bootstrap(name, base.samples, cand.samples, better, settings,
                                seed=settings.seed)
    if (len(base.samples) == 1 and len(cand.samples) == 1 and base.stderr is not None
            and cand.stderr is not None):
        return compare_with_stderr(name, base.samples[0], base.stderr, cand.samples[0],
                                   cand.stderr, better, settings)
    return compare(name, base.samples, cand.samples, better, settings)


def _check_exprs(
    candidate: BenchResults, policy: BenchPolicy, exprs: Sequence[GateExpr],
    findings: list[Finding], rows: list[dict[str, Any]],
) -> None:
    """Absolute and tail-quantile conditions on the candidate alone."""
    for e in exprs:
        cand = candidate.metrics.get(e.metric)
        samples = cand.samples if cand else ()
        if e.kind == "absolute":
            if not samples:
                findings.append(rules.NOT_MEASURED.finding(
                    f"{e.text}: the candidate reported no samples of {e.metric}",
                    title=f"Metric not measured: {e.metric}", properties={"gate": e.text}))
                rows.append({"metric": e.text, "better": e.better, "unit": "",
                             "verdict": Verdict.NOT_MEASURED.value, "reason": "no samples"})
                continue
            med = summarize(samples).median
            ok = med >= e.value if e.op == ">=" else med <= e.value
            se = f" (stderr {cand.stderr:.3g})" if cand and cand.stderr is not None else ""
            reason = f"candidate median {med:.6g}{se} is{'' if ok else ' not'} {e.op} {e.value:g}"
            if not ok:
                findings.append(rules.THRESHOLD.finding(
                    f"{e.text}: {reason}", title=f"Metric outside its absolute limit: {e.metric}",
                    properties={"gate": e.text, "median": med}))
            rows.append({"metric": e.text, "better": e.better, "unit": cand.unit if cand else "",
                         "candidate_median": med, "check": "absolute",
                         "verdict": Verdict.PASS.value if ok else "fail", "reason": reason})
        elif e.kind == "quantile":
            assert e.quantile is not None
            q = quantile_check(e.metric, samples, e.quantile, e.op, e.value, policy.confidence)
            row: dict[str, Any] = {"metric": e.text, "better": e.better,
                                   "unit": cand.unit if cand else "", "check": "quantile",
                                   **q.to_json()}
            row["metric"] = e.text
            row["verdict"] = "fail" if q.verdict is Verdict.REGRESSION else q.verdict.value
            rows.append(row)
            props = {"gate": e.text, "n": q.n, "upper_bound": row["upper_bound"],
                     "lower_bound": row["lower_bound"], "samples_needed": q.needed}
            if q.verdict is Verdict.REGRESSION:
                findings.append(rules.THRESHOLD.finding(
                    q.reason, title=f"Tail limit not met: {e.text}", properties=props))
            elif q.verdict is Verdict.INCONCLUSIVE:
                findings.append(rules.INCONCLUSIVE.finding(
                    q.reason, title=f"Tail limit inconclusive: {e.text}", properties=props))
            elif q.verdict is Verdict.NOT_MEASURED:
                findings.append(rules.NOT_MEASURED.finding(
                    q.reason, title=f"Metric not measured: {e.metric}", properties=props))


def gate(
    candidate: BenchResults,
    baseline: BenchResults | None,
    policy: BenchPolicy,
    options: GateOptions | None = None,
    *,
    record_only: bool = False,
) -> Report:
    """``record_only``: no comparison (the run is being stored as the new baseline)."""
    opts = options or GateOptions()
    metrics = gated_metrics(candidate, policy, opts)
    findings: list[Finding] = []
    rows: list[dict[str, Any]] = []

    if opts.gpu_missing or candidate.gpu_missing:
        findings.append(rules.NO_GPU.finding(
            f"no GPU found; results are marked CPU ({candidate.device.label()})"
        ))
    failed = [r for r in candidate.runs if not r.get("warmup") and r.get("status") != "ok"]
    if failed:
        first = failed[0]
        measured = sum(1 for r in candidate.runs if not r.get("warmup"))
        findings.append(rules.RUN_FAILED.finding(
            f"{len(failed)} of {measured} measured run(s) did not produce metrics; first: run "
            f"{first.get('index')} {first.get('status')}: {first.get('error', '')}",
            properties={"failed": len(failed), "measured": measured},
        ))

    comparable = True
    match_json: dict[str, Any] | None = None
    if baseline is not None:
        match = match_devices(baseline.device, candidate.device)
        match_json = {"comparable": match.comparable, "reasons": list(match.reasons),
                      "notes": list(match.notes)}
        if not match.comparable and not policy.allow_device_mismatch:
            comparable = False
            findings.append(rules.DEVICE_MISMATCH.finding(
                "; ".join(match.reasons),
                properties={"baseline": baseline.device.fingerprint,
                            "current": candidate.device.fingerprint},
            ))
    elif not record_only and metrics:
        findings.append(rules.NO_BASELINE.finding(
            f"no baseline for {candidate.name!r} on {candidate.device.label()}"
            + (f" at {opts.baseline_source}" if opts.baseline_source else "")
        ))

    exprs = gate_exprs(policy)
    rel_tol = {e.metric: abs(e.value) for e in exprs if e.kind == "relative"}
    for name, better in metrics.items():
        pol = policy.metrics.get(name)
        tol = opts.tolerance if opts.tolerance is not None else (
            rel_tol.get(name, pol.tolerance if pol and pol.tolerance is not None
                        else policy.tolerance)
        )
        cand = candidate.metrics.get(name)
        unit = (pol.unit if pol and pol.unit else "") or (cand.unit if cand else "")
        if cand is None or not cand.samples:
            if pol is None or pol.required:
                findings.append(rules.NOT_MEASURED.finding(
                    f"{name}: the candidate reported no samples",
                    title=f"Metric not measured: {name}", properties={"metric": name},
                ))
            rows.append({"metric": name, "better": better, "unit": unit,
                         "verdict": Verdict.NOT_MEASURED.value, "reason": "no candidate samples"})
            continue
        cmed = summarize(cand.samples).median
        if pol is not None and (
            (pol.min is not None and cmed < pol.min) or (pol.max is not None and cmed > pol.max)
        ):
            limit = f">= {pol.min}" if pol.min is not None and cmed < pol.min else f"<= {pol.max}"
            findings.append(rules.THRESHOLD.finding(
                f"{name}: candidate median {cmed:.6g}{unit and ' ' + unit} is not {limit}",
                title=f"Metric outside its absolute limit: {name}",
                properties={"metric": name, "median": cmed},
            ))
        if baseline is None or not comparable:
            rows.append({
                "metric": name, "better": better, "unit": unit, "candidate_median": cmed,
                "verdict": Verdict.INCONCLUSIVE.value if baseline is not None
                else ("recorded" if record_only else "no baseline"),
                "reason": "not comparable: different device" if baseline is not None
                else ("stored as the baseline" if record_only else "no baseline"),
            })
            continue
        base = baseline.metrics.get(name)
        c = _compare_metric(name, base, cand, better, _settings(policy, tol),
                            paired=bool(pol and pol.paired))
        row = _row(c, unit)
        rows.append(row)
        props: dict[str, Any] = {"metric": name, "change": row["change"], "p_value": row["p_value"],
                                 "ci": row["ci"]}
        if c.verdict is Verdict.REGRESSION:
            findings.append(rules.REGRESSION.finding(
                f"{name} ({better} is better): {c.reason}",
                title=f"Performance regression: {name}", properties=props,
            ))
        elif c.verdict is Verdict.INCONCLUSIVE:
            findings.append(rules.INCONCLUSIVE.finding(
                f"{name}: {c.reason}", title=f"Benchmark inconclusive: {name}", properties=props,
            ))
        elif c.verdict is Verdict.NOT_MEASURED:
            findings.append(rules.NOT_MEASURED.finding(
                f"{name}: {c.reason}", title=f"Metric not measured: {name}", properties=props,
            ))
        elif c.verdict is Verdict.IMPROVEMENT:
            findings.append(rules.IMPROVEMENT.finding(
                f"{name}: {c.reason}", title=f"Performance improvement: {name}", properties=props,
            ))

    _check_exprs(candidate, policy, [e for e in exprs if e.kind != "relative"], findings, rows)
    blocking = [f for f in findings if f.severity >= Severity.MEDIUM]
    if not blocking:
        overall = "pass"
    elif any(f.severity >= Severity.HIGH for f in blocking):
        overall = "fail"
    else:
        overall = "hold"
    evidence: dict[str, Any] = {
        "name": candidate.name,
        "verdict": overall,
        "settings": {"alpha": policy.alpha, "tolerance": policy.tolerance,
                     "pass_margin": policy.pass_margin, "min_runs": policy.min_runs,
                     "max_cv": policy.max_cv, "tolerance_override": opts.tolerance,
                     "confidence": policy.confidence, "gates": list(policy.gates)},
        "metrics": rows,
        "table": summary_table(rows),
        "runs": {"measured": sum(1 for r in candidate.runs if not r.get("warmup")),
                 "failed": len(failed),
                 "warmup": sum(1 for r in candidate.runs if r.get("warmup"))},
        "device": candidate.device.to_json(),
        "baseline": None if baseline is None else {
            "source": opts.baseline_source, "commit": baseline.commit,
            "created": baseline.created, "device": baseline.device.to_json(),
        },
        "device_match": match_json,
        "commit": candidate.commit,
    }
    return Report(
        kind="bench",
        target=candidate.name,
        findings=tuple(findings),
        evidence=evidence,
        complete=not failed and comparable and (baseline is not None or record_only or not metrics),
    )
