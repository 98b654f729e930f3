from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from mlgate.core.policy import parse_policy_text
from mlgate.decide.decision import decide
from mlgate.decide.record import (
    PREDICATE_TYPE,
    STATEMENT_TYPE,
    build_record,
    dumps_record,
    record_digest,
    verify_subjects,
)
from tests.decide.helpers import finding, report, sha, write_model

ENV = {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/models", "GITHUB_SHA": "a" * 40,
       "GITHUB_RUN_ID": "42", "GITHUB_SERVER_URL": "https://github.example",
       "SOURCE_DATE_EPOCH": "1767225600"}


def _record(tmp_path: Path) -> tuple[dict[str, object], Path]:
    root = tmp_path / "model"
    files = write_model(root)
    scan = report("scan", files=files)
    pol = parse_policy_text("")
    d = decide([scan], pol, stage="dev", today=date(2026, 6, 1))
    rec = build_record(d, [scan], evidence_files={"scan.json": scan.dumps().encode()}, environ=ENV)
    return rec, root


def test_statement_shape_and_subject_digests(tmp_path: Path) -> None:
    rec, root = _record(tmp_path)
    assert rec["_type"] == STATEMENT_TYPE and rec["predicateType"] == PREDICATE_TYPE
    subjects = {s["name"]: s["digest"]["sha256"] for s in rec["subject"]}  # type: ignore[attr-defined]
    assert subjects == {p.name: sha(p.read_bytes()) for p in root.iterdir()}
    pred = rec["predicate"]
    assert pred["decision"] == "promote" and pred["stage"] == "dev"  # type: ignore[index]
    assert pred["ci"]["run_url"] == "https://github.example/acme/models/actions/runs/42"  # type: ignore[index]
    assert pred["decidedAt"] == "2026-01-01T00:00:00Z"  # type: ignore[index]
    assert len(pred["policy"]["digest"]["sha256"]) == 64  # type: ignore[index]
    ev = pred["evidenceFiles"][0]  # type: ignore[index]
    assert ev["name"] == "scan.json" and len(ev["digest"]["sha256"]) == 64


def test_record_is_deterministic(tmp_path: Path) -> None:
    a, _ = _record(tmp_path / "a")
    b, _ = _record(tmp_path / "b")
    assert dumps_record(a) == dumps_record(b)
    assert record_digest(a) == record_digest(b)
    assert json.loads(dumps_record(a)) == a


def test_record_verifies_against_files_and_detects_tampering(tmp_path: Path) -> None:
    rec, root = _record(tmp_path)
    assert verify_subjects(rec, root) == []
    (root / "config.json").write_bytes(b'{"a": 2}\n')
    problems = verify_subjects(rec, root)
    assert len(problems) == 1 and problems[0].startswith("config.json: sha256")


def test_verify_refuses_symlinks_and_escapes(tmp_path: Path) -> None:
    rec, root = _record(tmp_path)
    target = root / "model.safetensors"
    data = target.read_bytes()
    (tmp_path / "outside").write_bytes(data)
    target.unlink()
    target.symlink_to(tmp_path / "outside")
    assert any("symlink" in p for p in verify_subjects(rec, root))
    escaped = {"subject": [{"name": "../outside", "digest": {"sha256": sha(data)}}]}
    assert verify_subjects(escaped, root) != []


def test_reject_record_carries_linked_reasons(tmp_path: Path) -> None:
    f = finding()
    d = decide([report("scan", f)], parse_policy_text(""), stage="dev", today=date(2026, 6, 1))
    rec = build_record(d, [report("scan", f)], environ={})
    pred = rec["predicate"]
    assert pred["decision"] == "reject"  # type: ignore[index]
    assert pred["reasons"][0]["fingerprint"] == f.fingerprint  # type: ignore[index]
    assert pred["ci"] == {"platform": "local"}  # type: ignore[index]


def test_example_model_record_verifies_end_to_end(example_model: Path) -> None:
    from mlgate.core.policy import load_preset
    from mlgate.scan.engine import scan_paths

    policy = load_preset("commercial-safe")
    scan = scan_paths([example_model], policy=policy)
    d = decide([scan], policy, stage="dev")
    assert d.outcome == "promote", d.reasons
    rec = json.loads(dumps_record(build_record(d, [scan], environ={})))
    names = {s["name"] for s in rec["subject"]}
    assert "model.safetensors" in names and len(names) == len(scan.files)
    assert verify_subjects(rec, example_model) == []
    with (example_model / "model.safetensors").open("r+b") as fh:
        fh.seek(-1, 2)
        last = fh.read(1)
        fh.seek(-1, 2)
        fh.write(bytes([last[0] ^ 1]))
    assert [p.split(":")[0] for p in verify_subjects(rec, example_model)] == ["model.safetensors"]
