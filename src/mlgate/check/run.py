"""`mlgate check`: every gate on one model folder under one policy, then one decision.

The steps run in a fixed order and each one is given what the earlier ones already know, so
the model's bytes are read once: the scan hashes every file and the BOM reuses those file
records instead of hashing again.

    scan ─► bom (reuses scan's FileRecords) ─► license ─► maturity ─► decide ─► [publish]

A step that does not run (offline, switched off, nothing to look at) is not silently dropped:
it is listed in the summary and in ``check.json`` with the reason, and the policy decides
whether its absence matters (a stage that ``requires`` it holds the model).

Capabilities are imported inside the functions that use them (``import mlgate.cli`` stays
light and a missing optional capability fails only the step that needs it).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mlgate import __version__
from mlgate.core.artifacts import require_model_path
from mlgate.core.errors import ExitCode, ToolError, UsageError
from mlgate.core.findings import JSONValue, Report

DEFAULT_OUT_DIR = "mlgate-out"

# file names inside --out-dir (stable: the actions and components read them)
SCAN_JSON = "scan.json"
BOM_JSON = "bom.cdx.json"
LICENSE_JSON = "license.json"
MATURITY_JSON = "maturity.json"
BENCH_JSON = "bench.json"
DECISION_JSON = "decision.json"
RECORD_JSON = "decision-record.intoto.json"
SARIF = "report.sarif"
JUNIT = "junit.xml"
CODEQUALITY = "gl-code-quality-report.json"
SUMMARY_MD = "summary.md"
CHECK_JSON = "check.json"

OUTCOMES = ("promote", "hold", "reject")


@dataclass(frozen=True)
class CheckOptions:
    path: Path
    policy_spec: str | None = None
    stage: str | None = None
    offline: bool = True
    out_dir: Path = Path(DEFAULT_OUT_DIR)
    shard: tuple[int, int] | None = None
    maturity: bool = True
    publish: bool = False
    engine: str = "mlgate"
    # results of `mlgate bench run` (usually from a GPU job), judged here by the policy's bench
    # section; and reports made elsewhere (another job's bench.json, an online maturity run)
    bench_results: Path | None = None
    extra_reports: tuple[Path, ...] = ()


@dataclass(frozen=True)
class StepNote:
    """What happened to one step: ``ran``, ``skipped`` (with the reason) or ``incomplete``."""

    step: str
    status: str
    detail: str = ""
    output: str | None = None

    def to_json(self) -> dict[str, JSONValue]:
        return {"step": self.step, "status": self.status, "detail": self.detail, "output": self.output}


@dataclass(frozen=True)
class CheckResult:
    target: str
    outcome: str  # promote | hold | reject | "scanned" (a --shard run makes no decision)
    reasons: tuple[str, ...]
    reports: tuple[Report, ...]
    notes: tuple[StepNote, ...]
    outputs: Mapping[str, Path] = field(default_factory=dict)
    summary_md: str = ""

    @property
    def exit_code(self) -> int:
        return int(ExitCode.OK) if self.outcome in ("promote", "scanned") else int(ExitCode.FINDINGS)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.reports:
            for sev, n in r.counts().items():
                out[sev] = out.get(sev, 0) + n
        return out

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "mlgate_check": 1,
            "tool": {"name": "mlgate", "version": __version__},
            "target": self.target,
            "outcome": self.outcome,
            "reasons": list(self.reasons),
            "counts": self.counts(),
            "steps": [n.to_json() for n in self.notes],
            "outputs": {k: str(v) for k, v in self.outputs.items()},
        }


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"i/n"`` with 1 <= i <= n -> (i, n)."""
    if text is None or text == "":
        return None
    try:
        i_str, n_str = text.split("/", 1)
        i, n = int(i_str), int(n_str)
    except ValueError as exc:
        raise UsageError(f"--shard must look like i/n (e.g. 2/4), not {text!r}") from exc
    if n < 1 or not 1 <= i <= n:
        raise UsageError(f"--shard {text}: need 1 <= i <= n")
    return (i, n)


def _bench_report(results_path: Path, policy: Any) -> Report:
    """The bench gate of ``mlgate bench gate``: results vs the policy's baseline location."""
    from mlgate.bench.baseline import load_baseline, read_results
    from mlgate.bench.gate import GateOptions, gate

    results = read_results(results_path)
    location = Path(policy.bench.baseline) if policy.bench.baseline else None
    base = load_baseline(location, results.name, results.device.fingerprint) if location else None
    options = GateOptions(baseline_source=str(location) if location else "")
    return gate(results, base, policy.bench, options)


def run_check(opts: CheckOptions, *, environ: Mapping[str, str] | None = None) -> CheckResult:
    """Run every step, write the files under ``opts.out_dir`` and return the result."""
    from mlgate.core.policy import load_policy

    env = os.environ if environ is None else environ
    path = opts.path
    require_model_path(path)
    policy = load_policy(opts.policy_spec)
    out = opts.out_dir
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ToolError(f"cannot create output folder {out}: {exc.strerror or exc}") from exc

    notes: list[StepNote] = []
    outputs: dict[str, Path] = {}
    reports: list[Report] = []

    # 1. scan: the one pass that reads and hashes every file
    from mlgate.scan.engine import scan_paths

    scan = scan_paths([path], policy=policy, engine=opts.engine, hash_files=True, shard=opts.shard)
    _write(out / SCAN_JSON, scan.dumps())
    outputs["scan"] = out / SCAN_JSON
    reports.append(scan)
    notes.append(StepNote("scan", "ran" if scan.complete else "incomplete", _count_text(scan), SCAN_JSON))

    if opts.shard is not None:
        # a shard is one slice of a matrix: the decision is made after `mlgate merge`
        for step in ("bom", "license", "maturity", "decide"):
            notes.append(StepNote(step, "skipped", f"shard {opts.shard[0]}/{opts.shard[1]}: run "
                                  "`mlgate merge` on all shards, then `mlgate decide`"))
        fail_on = _severity(policy.scan.fail_on)
        blocking = scan.at_or_above(fail_on)
        outcome = "hold" if blocking else "scanned"
        reasons = tuple(f"{f.rule_id}: {f.title}" for f in blocking)
        result = CheckResult(str(path), outcome, reasons, tuple(reports), tuple(notes), outputs)
        return _finish(result, out)

    # 2. bom: reuses the scan's file records (no second read of the weights)
    from mlgate.bom.build import build_bom

    records = [r for r in scan.files if r.sha256 is not None] if scan.files else None
    bom_text = build_bom(path, file_records=records, version=None)
    _write(out / BOM_JSON, bom_text if bom_text.endswith("\n") else bom_text + "\n")
    outputs["bom"] = out / BOM_JSON
    notes.append(StepNote("bom", "ran", f"{len(scan.files)} files, hashes from the scan", BOM_JSON))
    # the decision sees the BOM as a report, so a stage that `requires: [bom]` can promote
    reports.append(Report(kind="bom", target=str(path), files=scan.files,
                          evidence={"bom": BOM_JSON}))

    # 3. license
    from mlgate.license.check import check_licenses

    lic = check_licenses(path, policy, offline=opts.offline)
    _write(out / LICENSE_JSON, lic.dumps())
    outputs["license"] = out / LICENSE_JSON
    reports.append(lic)
    notes.append(StepNote("license", "ran" if lic.complete else "incomplete", _count_text(lic), LICENSE_JSON))

    # 4. maturity: upstream sources named by the model card
    sources = maturity_sources(path)
    if not opts.maturity:
        notes.append(StepNote("maturity", "skipped", "switched off (--no-maturity)"))
    elif opts.offline:
        notes.append(StepNote(
            "maturity", "skipped",
            "offline: upstream health needs the network; run with --online "
            f"({len(sources)} source(s) named by the model card)",
        ))
    elif not sources:
        notes.append(StepNote("maturity", "skipped", "the model card names no upstream source"))
    else:
        from mlgate.maturity.check import check_maturity

        mat = check_maturity(sources, policy, offline=False, model_path=path)
        _write(out / MATURITY_JSON, mat.dumps())
        outputs["maturity"] = out / MATURITY_JSON
        reports.append(mat)
        notes.append(StepNote("maturity", "ran" if mat.complete else "incomplete",
                              f"{len(sources)} source(s); {_count_text(mat)}", MATURITY_JSON))

    # 5. bench: judged from results a benchmark job produced (a GPU runner, not this job)
    if opts.bench_results is not None:
        bench = _bench_report(opts.bench_results, policy)
        _write(out / BENCH_JSON, bench.dumps())
        outputs["bench"] = out / BENCH_JSON
        reports.append(bench)
        notes.append(StepNote("bench", "ran", _count_text(bench), BENCH_JSON))
    elif policy.bench.metrics or policy.bench.gates:
        notes.append(StepNote("bench", "skipped", "the policy names benchmark metrics: give "
                              "--bench-results FILE from `mlgate bench run` (a stage that requires "
                              "bench holds without it)"))
    else:
        notes.append(StepNote("bench", "skipped", "no benchmark configured in the policy"))

    # reports made by other jobs join the decision as they are
    if opts.extra_reports:
        from mlgate.decide.command import read_report_file

        for extra in opts.extra_reports:
            reports.append(read_report_file(extra)[0])
        notes.append(StepNote("reports", "ran", f"{len(opts.extra_reports)} report(s) from other jobs"))

    # 6. decide
    from mlgate.decide.decision import decide

    decision = decide(reports, policy, stage=opts.stage)
    outcome = str(getattr(decision, "outcome", ""))
    if outcome not in OUTCOMES:
        raise ToolError(f"decide returned an unknown outcome {outcome!r}")
    reasons = tuple(str(getattr(r, "text", r)) for r in (getattr(decision, "reasons", ()) or ()))
    _write(out / DECISION_JSON, json.dumps(_decision_json(decision), indent=2, default=str) + "\n")
    outputs["decision"] = out / DECISION_JSON
    outputs["record"] = _write_record(decision, reports, outputs, out / RECORD_JSON, env)
    notes.append(StepNote("decide", "ran", f"{outcome} ({len(reasons)} reason(s))", DECISION_JSON))

    # SARIF of every finding (GitHub code scanning, GitLab via the SARIF converter)
    for fmt, fname in (("sarif", SARIF), ("junit", JUNIT)):
        text = _render_combined(reports, str(path), fmt)
        if text is not None:
            _write(out / fname, text)
            outputs[fmt] = out / fname
    # GitLab code quality report (artifacts:reports:codequality): findings in the MR widget
    _write(out / CODEQUALITY, codequality_text(reports, path))
    outputs["codequality"] = out / CODEQUALITY

    result = CheckResult(str(path), outcome, reasons, tuple(reports), tuple(notes), outputs)
    result = _finish(result, out)

    # 6. publish (CI only, opt-in): post the decision where the pipeline runs
    if opts.publish:
        result = _publish(result, decision, reports, env)
        _write(out / CHECK_JSON, json.dumps(result.to_json(), indent=2) + "\n")
    return result


def codequality_text(reports: Sequence[Report], path: Path) -> str:
    """Every finding as a GitLab code quality report, paths relative to the working directory
    (the repository root in CI)."""
    from mlgate.render.gitlab_codequality import to_codequality

    folder = path if path.is_dir() else path.parent
    base = folder.as_posix()
    if folder.is_absolute() and folder.is_relative_to(Path.cwd()):
        base = folder.relative_to(Path.cwd()).as_posix()
    base = "" if base in (".", "") else base
    findings = tuple(f for r in reports for f in r.findings)
    combined = Report(kind="check", target=str(path), findings=findings)
    return json.dumps(to_codequality(combined, base=base), indent=2) + "\n"


def maturity_sources(path: Path) -> list[str]:
    """Upstream sources the model card names (``base_model``, ``datasets``, repository links),
    as the maturity step derives them. Never fails: a card that cannot be read names no source
    (the license and bom steps report a bad card)."""
    from mlgate.maturity.check import sources_from_model_card

    if not path.is_dir():
        return []
    return [source for source, _where in sources_from_model_card(path)]


def render_summary(result: CheckResult) -> str:
    """Markdown for summary.md, the job summary and the PR/MR comment."""
    from mlgate.render.markdown import escape
    from mlgate.render.markdown import render as render_report

    icon = {"promote": "✅", "hold": "⏸️", "reject": "⛔", "scanned": "🔎"}.get(result.outcome, "")
    lines = [
        f"## mlgate check: {icon} **{result.outcome}**",
        "",
        f"Model: `{result.target.replace('`', '')}` · mlgate {__version__}",
        "",
    ]
    if result.reasons:
        lines += ["**Why:**", ""]
        lines += [f"- {escape(r)}" for r in result.reasons]
        lines.append("")
    lines += ["| Step | Status | Detail |", "|---|---|---|"]
    for n in result.notes:
        lines.append(f"| {n.step} | {n.status} | {escape(n.detail)} |")
    lines.append("")
    for r in result.reports:
        lines.append(render_report(r))
    return "\n".join(lines)


def render_text(result: CheckResult) -> str:
    lines = [f"mlgate check {result.target}: {result.outcome.upper()}"]
    for n in result.notes:
        lines.append(f"  {n.step:<9} {n.status:<10} {n.detail}")
    for r in result.reasons:
        lines.append(f"  reason: {r}")
    if result.outputs:
        lines.append("  files: " + ", ".join(str(p) for p in result.outputs.values()))
    return "\n".join(lines) + "\n"


# -- helpers ---------------------------------------------------------------------------------


def _finish(result: CheckResult, out: Path) -> CheckResult:
    summary = render_summary(result)
    outputs = dict(result.outputs)
    _write(out / SUMMARY_MD, summary)
    outputs["summary"] = out / SUMMARY_MD
    outputs["check"] = out / CHECK_JSON
    result = replace(result, summary_md=summary, outputs=outputs)
    _write(out / CHECK_JSON, json.dumps(result.to_json(), indent=2) + "\n")
    return result


def _write(path: Path, text: str) -> None:
    try:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8", errors="backslashreplace")  # non-UTF-8 paths
        tmp.replace(path)
    except OSError as exc:
        raise ToolError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _count_text(report: Report) -> str:
    counts = {k: v for k, v in report.counts().items() if v}
    text = ", ".join(f"{v} {k}" for k, v in counts.items()) if counts else "no findings"
    if not report.complete:
        text += " (incomplete)"
    return text


def _severity(name: str) -> Any:
    from mlgate.core.findings import Severity

    return Severity.parse(name)


def _decision_json(decision: object) -> dict[str, JSONValue]:
    to_json = getattr(decision, "to_json", None)
    if callable(to_json):
        data = to_json()
        if isinstance(data, dict):
            return data
    import dataclasses

    if dataclasses.is_dataclass(decision) and not isinstance(decision, type):
        return dict(dataclasses.asdict(decision))
    return {"outcome": getattr(decision, "outcome", None), "reasons": list(getattr(decision, "reasons", []))}


def _write_record(decision: Any, reports: Sequence[Report], evidence: Mapping[str, Path],
                  dest: Path, env: Mapping[str, str]) -> Path:
    """The in-toto decision record (``mlgate.decide.record``) over the files just written."""
    from mlgate.decide.record import build_record, dumps_record

    files: dict[str, bytes] = {}
    for key in ("scan", "bom", "license", "maturity"):
        p = evidence.get(key)
        if p is not None:
            try:
                files[p.name] = p.read_bytes()
            except OSError as exc:
                raise ToolError(f"cannot read back {p}: {exc.strerror or exc}") from exc
    record = build_record(decision, reports, evidence_files=files, environ=env)
    _write(dest, dumps_record(record))
    return dest


def _render_combined(reports: Sequence[Report], target: str, fmt: str) -> str | None:
    """Every finding of every step as one report, rendered as SARIF or JUnit."""
    from mlgate.render import REGISTRY, render

    if fmt not in REGISTRY:
        return None
    findings = tuple(f for r in reports for f in r.findings)
    combined = Report(kind="check", target=target, findings=findings,
                      files=reports[0].files if reports else ())
    try:
        return render(combined, fmt)
    except ModuleNotFoundError as exc:
        if exc.name == f"mlgate.render.{fmt}":
            return None
        raise


def _publish(result: CheckResult, decision: object, reports: Sequence[Report],
             env: Mapping[str, str]) -> CheckResult:
    from mlgate.platforms.detect import detect_platform

    adapter: Any = detect_platform(env)
    name = adapter if isinstance(adapter, str) else getattr(adapter, "name", type(adapter).__name__)
    if name == "local" or adapter is None:
        note = StepNote("publish", "skipped", "not running in GitHub Actions or GitLab CI")
    else:
        publish = getattr(adapter, "publish", None)
        if not callable(publish):
            raise ToolError(f"the {name} adapter cannot publish")
        publish(decision=decision, reports=list(reports), summary=result.summary_md)
        note = StepNote("publish", "ran", f"posted to {name}")
    return replace(result, notes=(*result.notes, note))
