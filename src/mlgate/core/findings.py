"""Findings and reports: the one currency every capability produces and `decide` consumes.

A Report is JSON-serialisable, versioned and mergeable (``mlgate merge``): reports of the same
kind made by several jobs (a model sharded across a CI matrix) join into one.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from mlgate import __version__
from mlgate.core.errors import InputError

REPORT_SCHEMA_VERSION = 1

JSONValue = Any  # JSON-compatible value (dict/list/str/int/float/bool/None)


class Severity(str, Enum):
    """Finding severity, ordered info < low < medium < high < critical."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank >= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank > other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank <= other.rank

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank < other.rank

    @property
    def sarif_level(self) -> str:
        """SARIF ``level``: error / warning / note."""
        if self.rank >= _SEVERITY_RANK[Severity.HIGH]:
            return "error"
        if self is Severity.MEDIUM:
            return "warning"
        return "note"

    @property
    def security_severity(self) -> str:
        """GitHub code scanning ``security-severity`` (CVSS-like 0.0-10.0, as a string)."""
        return {
            Severity.INFO: "0.0",
            Severity.LOW: "2.0",
            Severity.MEDIUM: "5.0",
            Severity.HIGH: "8.0",
            Severity.CRITICAL: "9.5",
        }[self]

    @classmethod
    def parse(cls, value: str) -> Severity:
        try:
            return cls(value.strip().lower())
        except ValueError as exc:
            names = ", ".join(s.value for s in cls)
            raise InputError(f"unknown severity {value!r}", hint=f"use one of: {names}") from exc


_SEVERITY_RANK = {
    Severity.INFO: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}


@dataclass(frozen=True)
class Location:
    """Where a finding is: a file relative to the scanned root (POSIX separators), optionally
    an archive member inside it (``member``, nested members joined by ``!/``), a byte offset
    within that member or file, or a line number for text files."""

    path: str
    member: str | None = None
    offset: int | None = None
    line: int | None = None

    def display(self) -> str:
        text = self.path
        if self.member:
            text += f"!/{self.member}"
        if self.line is not None:
            text += f":{self.line}"
        elif self.offset is not None:
            text += f"@{self.offset}"
        return text

    def to_json(self) -> dict[str, JSONValue]:
        out: dict[str, JSONValue] = {"path": self.path}
        if self.member is not None:
            out["member"] = self.member
        if self.offset is not None:
            out["offset"] = self.offset
        if self.line is not None:
            out["line"] = self.line
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, JSONValue]) -> Location:
        return cls(
            path=str(data["path"]),
            member=_opt_str(data.get("member")),
            offset=_opt_int(data.get("offset")),
            line=_opt_int(data.get("line")),
        )


@dataclass(frozen=True)
class Finding:
    """One thing a capability found. ``rule_id`` is stable and documented in docs/rules.md."""

    rule_id: str
    severity: Severity
    title: str
    detail: str
    location: Location | None = None
    remediation: str = ""
    engine: str = "mlgate"
    properties: Mapping[str, JSONValue] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """Stable id of this finding (rule + place + title), used by waivers and SARIF."""
        loc = self.location.display() if self.location else ""
        raw = f"{self.rule_id}|{loc}|{self.title}"
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]

    def to_json(self) -> dict[str, JSONValue]:
        out: dict[str, JSONValue] = {
            "rule_id": self.rule_id,
            "severity": self.severity.value,
            "title": self.title,
            "detail": self.detail,
            "remediation": self.remediation,
            "engine": self.engine,
            "fingerprint": self.fingerprint,
        }
        if self.location is not None:
            out["location"] = self.location.to_json()
        if self.properties:
            out["properties"] = dict(self.properties)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, JSONValue]) -> Finding:
        try:
            loc = data.get("location")
            return cls(
                rule_id=str(data["rule_id"]),
                severity=Severity.parse(str(data["severity"])),
                title=str(data["title"]),
                detail=str(data.get("detail", "")),
                location=Location.from_json(loc) if isinstance(loc, Mapping) else None,
                remediation=str(data.get("remediation", "")),
                engine=str(data.get("engine", "mlgate")),
                properties=dict(data.get("properties") or {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"malformed finding in report: {exc}") from exc


@dataclass(frozen=True)
class FileRecord:
    """A file the tool read: relative POSIX path, size, sha256 (hex) and sniffed format.

    ``sha256`` is ``None`` only when hashing was switched off (``--no-hash``) or the file could
    not be read; in the latter case ``error`` says why (and a finding says so too)."""

    path: str
    size: int
    sha256: str | None
    format: str = "unknown"
    error: str | None = None

    def to_json(self) -> dict[str, JSONValue]:
        out: dict[str, JSONValue] = {
            "path": self.path,
            "size": self.size,
            "sha256": self.sha256,
            "format": self.format,
        }
        if self.error:
            out["error"] = self.error
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, JSONValue]) -> FileRecord:
        try:
            return cls(
                path=str(data["path"]),
                size=int(data["size"]),
                sha256=_opt_str(data.get("sha256")),
                format=str(data.get("format", "unknown")),
                error=_opt_str(data.get("error")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"malformed file record in report: {exc}") from exc


@dataclass(frozen=True)
class Report:
    """What one capability produced for one target.

    ``kind`` is the capability (scan, bom, license, maturity, bench, decide...). ``evidence`` is
    capability-specific JSON (e.g. licenses found, maturity signals, bench verdicts).
    ``complete`` is False when the capability could not look at everything it should have
    (a shard, an unreachable source): consumers must not read that as a pass.
    """

    kind: str
    target: str
    findings: tuple[Finding, ...] = ()
    files: tuple[FileRecord, ...] = ()
    evidence: Mapping[str, JSONValue] = field(default_factory=dict)
    tool_version: str = __version__
    created_at: str = field(default_factory=lambda: utc_now())
    shard: str | None = None
    complete: bool = True

    def max_severity(self) -> Severity | None:
        if not self.findings:
            return None
        return max((f.severity for f in self.findings), key=lambda s: s.rank)

    def at_or_above(self, threshold: Severity) -> list[Finding]:
        return [f for f in self.findings if f.severity.rank >= threshold.rank]

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in Severity}
        for f in self.findings:
            out[f.severity.value] += 1
        return out

    def with_findings(self, extra: Iterable[Finding]) -> Report:
        return replace(self, findings=(*self.findings, *extra))

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "mlgate_report": REPORT_SCHEMA_VERSION,
            "kind": self.kind,
            "target": self.target,
            "tool": {"name": "mlgate", "version": self.tool_version},
            "created_at": self.created_at,
            "shard": self.shard,
            "complete": self.complete,
            "summary": self.counts(),
            "findings": [f.to_json() for f in self.findings],
            "files": [f.to_json() for f in self.files],
            "evidence": dict(self.evidence),
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_json(cls, data: Mapping[str, JSONValue]) -> Report:
        if not isinstance(data, Mapping) or "mlgate_report" not in data:
            raise InputError("not an mlgate report (no 'mlgate_report' field)")
        version = data["mlgate_report"]
        if version != REPORT_SCHEMA_VERSION:
            raise InputError(
                f"report schema version {version!r} is not supported",
                hint=f"this mlgate reads version {REPORT_SCHEMA_VERSION}",
            )
        try:
            tool = data.get("tool") or {}
            return cls(
                kind=str(data["kind"]),
                target=str(data["target"]),
                findings=tuple(Finding.from_json(f) for f in data.get("findings") or []),
                files=tuple(FileRecord.from_json(f) for f in data.get("files") or []),
                evidence=dict(data.get("evidence") or {}),
                tool_version=str(tool.get("version", "unknown")),
                created_at=str(data.get("created_at", "")),
                shard=_opt_str(data.get("shard")),
                complete=bool(data.get("complete", True)),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise InputError(f"malformed report: {exc}") from exc


def merge_reports(reports: Sequence[Report]) -> Report:
    """Join reports of one kind (e.g. the shards of a scan) into one.

    Findings are de-duplicated by fingerprint, files by path (a path seen with two different
    digests is kept twice and flagged by the conflicting record's ``error``). Evidence dicts
    are merged key by key; list values are concatenated. The result is complete only when the
    shards cover ``1/n..n/n`` or every input was complete without shards.
    """
    if not reports:
        raise InputError("nothing to merge")
    kinds = {r.kind for r in reports}
    if len(kinds) != 1:
        raise InputError(f"cannot merge reports of different kinds: {', '.join(sorted(kinds))}")
    _refuse_duplicates(reports)
    findings: dict[str, Finding] = {}
    files: dict[str, FileRecord] = {}
    evidence: dict[str, JSONValue] = {}
    for r in reports:
        for f in r.findings:
            findings.setdefault(f.fingerprint, f)
        for rec in r.files:
            prev = files.get(rec.path)
            if prev is None:
                files[rec.path] = rec
            elif prev.sha256 != rec.sha256:
                files[rec.path] = replace(
                    prev, error=f"conflicting digests across reports: {prev.sha256} / {rec.sha256}"
                )
        for key, value in r.evidence.items():
            if key in evidence and isinstance(evidence[key], list) and isinstance(value, list):
                evidence[key] = [*evidence[key], *value]
            elif key in evidence and isinstance(evidence[key], dict) and isinstance(value, dict):
                evidence[key] = {**evidence[key], **value}
            else:
                evidence.setdefault(key, value)
    complete = _shards_complete(reports)
    targets = sorted({r.target for r in reports})
    return Report(
        kind=reports[0].kind,
        target=targets[0] if len(targets) == 1 else ", ".join(targets),
        findings=tuple(findings.values()),
        files=tuple(sorted(files.values(), key=lambda f: f.path)),
        evidence=evidence,
        shard=None,
        complete=complete,
    )


def _refuse_duplicates(reports: Sequence[Report]) -> None:
    """A shard id given twice, or one report given twice, is an input mistake (a shard job's
    artifact uploaded under two names, a glob that matches a copy): merging it would hide the
    shard that is really missing behind a count that looks right."""
    shards: dict[str, int] = {}
    contents: dict[str, int] = {}
    for n, r in enumerate(reports, 1):
        if r.shard:
            key = r.shard.replace(" ", "")
            if key in shards:
                raise InputError(
                    f"the same shard was given twice: {r.kind} shard {r.shard} "
                    f"(inputs {shards[key]} and {n})",
                    hint="pass each shard's report once; a missing shard keeps the merge "
                    "incomplete")
            shards[key] = n
        text = json.dumps(r.to_json(), sort_keys=True)
        if text in contents:
            raise InputError(
                f"the same report was given twice: {r.kind} report for {r.target} "
                f"(inputs {contents[text]} and {n} are identical)",
                hint="pass each report once")
        contents[text] = n


def _shards_complete(reports: Sequence[Report]) -> bool:
    sharded = [r for r in reports if r.shard]
    if not sharded:
        return all(r.complete for r in reports)
    if len(sharded) != len(reports):
        return False
    seen: set[int] = set()
    total: int | None = None
    for r in sharded:
        assert r.shard is not None
        try:
            i_str, n_str = r.shard.split("/", 1)
            i, n = int(i_str), int(n_str)
        except ValueError:
            return False
        if total is None:
            total = n
        elif total != n:
            return False
        if not r.complete:
            return False
        seen.add(i)
    return total is not None and seen == set(range(1, total + 1))


def utc_now() -> str:
    """Now in UTC, or ``SOURCE_DATE_EPOCH`` when it is set (reproducible reports)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        moment = datetime.fromtimestamp(int(epoch), timezone.utc)
    else:
        moment = datetime.now(timezone.utc)
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _opt_str(value: JSONValue) -> str | None:
    return None if value is None else str(value)


def _opt_int(value: JSONValue) -> int | None:
    return None if value is None else int(value)
