"""The decision record: an in-toto Statement v1 that says what was decided, on which bytes,
under which policy and from which evidence.

Subject: every model file of the scan report with its sha256. Predicate: the decision, the
policy digest, the digest of every input report, tool version and CI provenance. The JSON is
canonical (sorted keys), so the same inputs give the same bytes; it can be signed unchanged by
the usual tools (GitHub artifact attestations, cosign attest --type custom).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path

from mlgate import __version__
from mlgate.core.errors import InputError
from mlgate.core.findings import JSONValue, Report
from mlgate.core.jsonfile import read_json
from mlgate.decide.decision import Decision, canonical_json, sha256_hex

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://mlgate.dev/decision/v1"


def ci_provenance(environ: Mapping[str, str]) -> dict[str, JSONValue]:
    """Commit, run URL and runner from the variables GitHub Actions / GitLab CI set."""
    if environ.get("GITHUB_ACTIONS") == "true":
        server = environ.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
        repo = environ.get("GITHUB_REPOSITORY", "")
        run = environ.get("GITHUB_RUN_ID", "")
        return {
            "platform": "github",
            "repository": repo,
            "commit": environ.get("GITHUB_SHA", ""),
            "ref": environ.get("GITHUB_REF", ""),
            "event": environ.get("GITHUB_EVENT_NAME", ""),
            "run_url": f"{server}/{repo}/actions/runs/{run}" if repo and run else "",
            "workflow_ref": environ.get("GITHUB_WORKFLOW_REF", ""),
        }
    if environ.get("GITLAB_CI") == "true":
        return {
            "platform": "gitlab",
            "repository": environ.get("CI_PROJECT_PATH", ""),
            "commit": environ.get("CI_COMMIT_SHA", ""),
            "ref": environ.get("CI_COMMIT_REF_NAME", ""),
            "event": environ.get("CI_PIPELINE_SOURCE", ""),
            "run_url": environ.get("CI_JOB_URL", ""),
        }
    return {"platform": "local"}


def _decided_at(environ: Mapping[str, str]) -> str:
    sde = environ.get("SOURCE_DATE_EPOCH")
    if sde and sde.isdigit():
        moment = datetime.fromtimestamp(int(sde), tz=timezone.utc)
    else:
        moment = datetime.now(timezone.utc).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def subjects(reports: Sequence[Report]) -> list[dict[str, JSONValue]]:
    """The model files (from the scan reports, else any report listing files) with digests."""
    chosen = [r for r in reports if r.kind == "scan"] or list(reports)
    out: dict[str, str] = {}
    for r in chosen:
        for rec in r.files:
            if rec.sha256 and not rec.error:
                out.setdefault(rec.path, rec.sha256)
    return [{"name": name, "digest": {"sha256": digest}} for name, digest in sorted(out.items())]


def build_record(
    decision: Decision,
    reports: Sequence[Report],
    *,
    evidence_files: Mapping[str, bytes] | None = None,
    environ: Mapping[str, str] | None = None,
    decided_at: str | None = None,
) -> dict[str, JSONValue]:
    """The in-toto Statement v1 for ``decision``.

    ``evidence_files`` maps each input report's file name to its bytes (their sha256 is
    recorded next to the digest of each report's canonical JSON)."""
    env = os.environ if environ is None else environ
    evidence: list[dict[str, JSONValue]] = [
        {"kind": i.kind, "target": i.target, "digest": {"sha256": i.sha256}, "complete": i.complete}
        for i in decision.inputs
    ]
    files: list[dict[str, JSONValue]] = [
        {"name": name, "digest": {"sha256": sha256_hex(data)}}
        for name, data in sorted((evidence_files or {}).items())
    ]
    return {
        "_type": STATEMENT_TYPE,
        "subject": subjects(reports),
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "decision": decision.outcome,
            "stage": decision.stage,
            "verified": decision.verified,
            "reasons": [r.to_json() for r in decision.reasons],
            "waived": [w.to_json() for w in decision.waived],
            "counts": dict(decision.counts),
            "policy": {"source": decision.policy_source, "digest": {"sha256": decision.policy_sha256}},
            "evidence": evidence,
            "evidenceFiles": files,
            "tool": {"name": "mlgate", "version": __version__},
            "ci": ci_provenance(env),
            "decidedAt": decided_at or _decided_at(env),
        },
    }


def dumps_record(record: Mapping[str, JSONValue]) -> str:
    """Canonical JSON text of a record (the bytes that get signed)."""
    return canonical_json(dict(record)).decode("utf-8") + "\n"


def record_digest(record: Mapping[str, JSONValue]) -> str:
    return sha256_hex(canonical_json(dict(record)))


def load_record(path: Path) -> dict[str, JSONValue]:
    data = read_json(path, what="decision record")
    if not isinstance(data, dict) or data.get("_type") != STATEMENT_TYPE:
        raise InputError(f"{path} is not an in-toto Statement v1")
    if data.get("predicateType") != PREDICATE_TYPE:
        raise InputError(f"{path} is not an mlgate decision record")
    return data


def verify_subjects(record: Mapping[str, JSONValue], root: Path, *, chunk: int = 1 << 20) -> list[str]:
    """Recompute each subject's sha256 under ``root``; return the problems (empty = verified).

    Paths that escape ``root`` or are symlinks are problems, never followed."""
    import hashlib

    problems: list[str] = []
    subj = record.get("subject")
    if not isinstance(subj, list) or not subj:
        return ["record has no subjects"]
    base = root.resolve()
    for item in subj:
        if not isinstance(item, dict):
            problems.append("malformed subject")
            continue
        name = str(item.get("name", ""))
        want = (item.get("digest") or {}).get("sha256")
        path = root / name
        if path.is_symlink() or not path.resolve().is_relative_to(base) or not path.is_file():
            problems.append(f"{name}: missing, a symlink, or outside the model folder")
            continue
        h = hashlib.sha256()
        with path.open("rb") as fh:
            while block := fh.read(chunk):
                h.update(block)
        if h.hexdigest() != want:
            problems.append(f"{name}: sha256 {h.hexdigest()} does not match the record's {want}")
    return problems
