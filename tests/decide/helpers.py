from __future__ import annotations

import hashlib
from pathlib import Path

from mlgate.core.findings import FileRecord, Finding, Location, Report, Severity


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def finding(rule: str = "MLG-SCAN-051", sev: Severity = Severity.CRITICAL, path: str = "model.pkl",
            **props: object) -> Finding:
    return Finding(rule_id=rule, severity=sev, title=f"title of {rule}", detail="detail",
                   location=Location(path), properties=dict(props))


def report(kind: str, *findings: Finding, files: tuple[FileRecord, ...] = (), complete: bool = True,
           shard: str | None = None) -> Report:
    return Report(kind=kind, target="model", findings=findings, files=files, complete=complete,
                  shard=shard, created_at="2026-01-01T00:00:00Z", tool_version="0.0.0")


def write_model(root: Path) -> tuple[FileRecord, ...]:
    root.mkdir(parents=True, exist_ok=True)
    recs = []
    for name, data in (("model.safetensors", b"\x08\x00\x00\x00\x00\x00\x00\x00{}      "),
                       ("config.json", b'{"a": 1}\n')):
        (root / name).write_bytes(data)
        recs.append(FileRecord(name, len(data), sha(data), "json"))
    return tuple(recs)
