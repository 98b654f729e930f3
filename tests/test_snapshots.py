"""Snapshot tests: the outputs that *are* the product, compared byte for byte with reviewed files
under tests/snapshots/ (see tests/snapshots/README.md for how to review and update them).

Every input is built here (hostile files as raw bytes, reports as values); nothing is loaded.
Outputs are rendered deterministically (``SOURCE_DATE_EPOCH``, CI variables cleared by
tests/conftest.py, explicit environ for the platform adapter). The few values that depend on
the machine or the mlgate release are replaced by the normalisers below, each of which insists
on finding exactly the values it replaces, so a normaliser can never hide a new field.

On a mismatch the test fails with a unified diff. ``MLGATE_UPDATE_SNAPSHOTS=1`` rewrites the
snapshot and then fails anyway, so an update can never pass silently (in CI or anywhere).
"""

from __future__ import annotations

import difflib
import io
import json
import os
import re
import socket
import struct
import zipfile
from collections.abc import Mapping
from datetime import date
from pathlib import Path

import pytest

from mlgate import __version__
from mlgate.cli import main
from mlgate.core.findings import FileRecord, Finding, Location, Report
from mlgate.core.policy import parse_policy_text
from mlgate.decide.decision import Decision, decide
from mlgate.decide.view import MARKER
from mlgate.license import rules as LIC
from mlgate.platforms.github import GitHubPlatform
from mlgate.scan import rules_pickle as PK

REPO = Path(__file__).resolve().parent.parent
SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
EXAMPLE_MODEL = "fixtures/example-model"  # relative to REPO, as a user in the repository types it
UPDATE_ENV = "MLGATE_UPDATE_SNAPSHOTS"
HINT = "review, then MLGATE_UPDATE_SNAPSHOTS=1 pytest tests/test_snapshots.py"
SOURCE_DATE_EPOCH = "1700000000"  # 2023-11-14T22:13:20Z

VERSION = "<version>"
BOM_SERIAL = "urn:uuid:<content-derived>"
OUT_DIR = "<out-dir>"


# --- mechanics ------------------------------------------------------------------------------------

def assert_snapshot(name: str, actual: str) -> None:
    assert_snapshots({name: actual})


def assert_snapshots(rendered: Mapping[str, str]) -> None:
    """Compare each text with tests/snapshots/<name> exactly (bytes as UTF-8, no newline
    translation). With ``MLGATE_UPDATE_SNAPSHOTS=1`` rewrite every file, then fail anyway."""
    if os.environ.get(UPDATE_ENV) == "1":
        done = []
        for name, actual in rendered.items():
            path = SNAPSHOTS / name
            old = path.read_bytes().decode("utf-8") if path.is_file() else None
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(actual.encode("utf-8"))
            done.append(f"{name} " + ("created" if old is None else "unchanged" if old == actual
                                      else "rewritten"))
        pytest.fail(
            f"{UPDATE_ENV}=1 (an update never passes): {'; '.join(done)}. Review the files "
            f"(tests/snapshots/README.md), then rerun without {UPDATE_ENV}",
            pytrace=False,
        )
    problems = []
    for name, actual in rendered.items():
        path = SNAPSHOTS / name
        if not path.is_file():
            problems.append(f"no snapshot tests/snapshots/{name} yet")
            continue
        old = path.read_bytes().decode("utf-8")
        if old != actual:
            diff = "".join(difflib.unified_diff(
                old.splitlines(keepends=True), actual.splitlines(keepends=True),
                fromfile=f"tests/snapshots/{name} (reviewed)", tofile=f"{name} (rendered now)",
            ))
            problems.append(f"{name} differs from its reviewed snapshot:\n{diff}")
    if problems:
        pytest.fail("\n".join(problems) + f"\n{HINT}", pytrace=False)


def assert_no_leaks(text: str, *private: Path) -> None:
    """No machine-specific value may reach a snapshot: temp folders, the checkout, home,
    hostname."""
    needles = {str(p) for p in private} | {str(p.resolve()) for p in private}
    needles |= {str(REPO), str(Path.home())}
    host = socket.gethostname()
    if len(host) >= 4:
        needles.add(host)
    for needle in sorted(n for n in needles if n not in ("", "/")):
        assert needle not in text, f"machine-specific value {needle!r} in rendered output"


def _replace_exactly(text: str, old: str, new: str, count: int) -> str:
    found = text.count(old)
    assert found == count, f"normaliser expected {count} x {old!r}, found {found}"
    return text.replace(old, new)


# --- normalisers (documented in tests/snapshots/README.md) -----------------------------------------

def normalise_sarif(text: str) -> str:
    """SARIF of a scan: only the mlgate release (``driver.version``/``semanticVersion``); the
    creation time follows ``SOURCE_DATE_EPOCH`` and is kept byte for byte like the rest."""
    run = json.loads(text)["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["version"] == __version__
    inv = run["invocations"][0]
    assert inv["properties"]["createdAt"] == inv["endTimeUtc"] == "2023-11-14T22:13:20Z"
    text = _replace_exactly(text, f'"version": {json.dumps(driver["version"])},',
                            f'"version": "{VERSION}",', 1)
    return _replace_exactly(text, f'"semanticVersion": {json.dumps(driver["semanticVersion"])},',
                            f'"semanticVersion": "{VERSION}",', 1)


def normalise_bom(text: str) -> str:
    """CycloneDX BOM: the mlgate release in ``metadata.tools.components[mlgate].version`` and the
    ``serialNumber``, which is a digest of the whole document (so it moves with the release).
    Library versions are kept: without ``--env`` they come from the model folder's own files
    (requirements.txt, config.json), not from what is installed."""
    doc = json.loads(text)
    tools = doc["metadata"]["tools"]["components"]
    assert [t["name"] for t in tools] == ["mlgate"] and tools[0]["version"] == __version__
    assert re.fullmatch(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                        doc["serialNumber"]), doc["serialNumber"]
    text = _replace_exactly(text, f'"version": {json.dumps(__version__)}\n',
                            f'"version": "{VERSION}"\n', 1)
    return _replace_exactly(text, f'"serialNumber": "{doc["serialNumber"]}"',
                            f'"serialNumber": "{BOM_SERIAL}"', 1)


def normalise_check(text: str, out_dir: Path) -> str:
    """``mlgate check`` text/markdown: the out-dir (a temp folder) and the mlgate release."""
    for form in {str(out_dir.resolve()), str(out_dir)}:
        text = text.replace(form, OUT_DIR)
    return text.replace(f"mlgate {__version__}", f"mlgate {VERSION}")


# --- deterministic environment ---------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _reproducible(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", SOURCE_DATE_EPOCH)
    monkeypatch.delenv("MLGATE_DEBUG", raising=False)


# --- hostile inputs, built as raw bytes --------------------------------------------------------------

def os_system_pickle() -> bytes:
    """Protocol 2: GLOBAL 'os system', the argument tuple ('id',), REDUCE, STOP."""
    return b"\x80\x02" + b"cos\nsystem\n" + b"X\x02\x00\x00\x00id" + b"\x85" + b"R" + b"."


def zip_slip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("../../escape.txt", date_time=(2020, 1, 1, 0, 0, 0))
        zf.writestr(info, "written outside the target folder\n")
    return buf.getvalue()


def safetensors_with_trailing_bytes() -> bytes:
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    return struct.pack("<Q", len(header)) + header + b"\x00" * 8 + b"PAYLOAD!"


def hostile_folder(root: Path) -> Path:
    models = root / "models"
    models.mkdir(parents=True)
    (models / "evil.pkl").write_bytes(os_system_pickle())
    (models / "slip.zip").write_bytes(zip_slip())
    (models / "trailing.safetensors").write_bytes(safetensors_with_trailing_bytes())
    return models


# --- 1. SARIF of `mlgate scan` ----------------------------------------------------------------------

def test_scan_sarif_of_hostile_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    hostile_folder(work)
    monkeypatch.chdir(work)  # as in CI: a repository-relative folder, repository-relative URIs
    rc = main(["scan", "models", "--format", "sarif", "-o", "out.sarif"])
    assert rc == 1
    text = (work / "out.sarif").read_bytes().decode("utf-8")
    doc = json.loads(text)
    assert doc["version"] == "2.1.0"
    assert sorted(r["ruleId"] for r in doc["runs"][0]["results"]) == [
        "MLG-SCAN-011", "MLG-SCAN-050", "MLG-SCAN-104"]
    assert_no_leaks(text, tmp_path)
    assert_snapshot("scan-hostile.sarif", normalise_sarif(text))


# --- 2. CycloneDX BOM of the example model ------------------------------------------------------------

def test_bom_cyclonedx_json_of_example_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    outs = []
    for name in ("a.cdx.json", "b.cdx.json"):
        rc = main(["bom", EXAMPLE_MODEL, "--format", "cyclonedx-json", "-o", str(tmp_path / name)])
        assert rc == 0
        outs.append((tmp_path / name).read_bytes().decode("utf-8"))
    assert outs[0] == outs[1], "two builds of one model at one SOURCE_DATE_EPOCH must be identical"
    text = outs[0]
    doc = json.loads(text)
    assert doc["metadata"]["timestamp"] == "2023-11-14T22:13:20+00:00"
    assert_no_leaks(text, tmp_path)
    assert_snapshot("bom-example-model.cdx.json", normalise_bom(text))


# --- 3. PR / MR comment for a hold and a reject ---------------------------------------------------------

POLICY = """\
stages:
  staging:
    requires: [scan, bom, license]
    reject_on: critical
    hold_on: high
    waivers:
      - rule: MLG-SCAN-051
        path: "vendor/*"
        reason: "reviewed tokenizer class | ticket ML-123"
        approved_by: "ml-platform"
        expires: 2030-01-01
      - rule: MLG-LIC-*
        path: "*"
        reason: "legal exception"
        approved_by: "legal"
        expires: 2023-06-30
"""

GITHUB_ENV = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_API_URL": "https://api.github.com",
    "GITHUB_REPOSITORY": "acme/models",
    "GITHUB_RUN_ID": "4242",
    "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
}


def _scan(*findings: Finding, files: tuple[str, ...]) -> Report:
    recs = tuple(FileRecord(p, 1024, f"{i:064x}", "pickle") for i, p in enumerate(files, 1))
    return Report(kind="scan", target="models", findings=findings,
                  files=recs, created_at="2023-11-14T22:13:20Z", tool_version="0.0.0")


def _report(kind: str, *findings: Finding, shard: str | None = None) -> Report:
    return Report(kind=kind, target="models", findings=findings,
                  created_at="2023-11-14T22:13:20Z", tool_version="0.0.0", shard=shard)


def comment_body(decision: Decision, out_dir: Path) -> str:
    """What the GitHub adapter writes as the job summary and posts as the sticky PR comment
    (the same markdown; without a token it stops after writing it)."""
    platform = GitHubPlatform(GITHUB_ENV, out_dir=out_dir, echo=lambda line: None)
    result = platform.publish(decision=decision)
    assert result.posted == ()
    body = (out_dir / "decision.md").read_bytes().decode("utf-8")
    assert body.startswith(MARKER + "\n")
    return body


def decide_staging(reports: list[Report]) -> Decision:
    policy = parse_policy_text(POLICY, "mlgate.yml")
    return decide(reports, policy, stage="staging", today=date(2024, 1, 1))


def test_comment_for_hold(tmp_path: Path) -> None:
    scan = _scan(
        PK.GLOBAL_NOT_ALLOWED.finding(
            "GLOBAL at offset 96 imports tokenizers.Tokenizer",
            Location("pytorch_model.bin", member="archive/data.pkl", offset=96)),
        PK.GLOBAL_NOT_ALLOWED.finding(
            "GLOBAL at offset 12 imports vendor_lib.Vocab", Location("vendor/vocab.pkl", offset=12)),
        PK.TRAILING_BYTES.finding("40 bytes after STOP", Location("vendor/vocab.pkl", offset=300)),
        files=("pytorch_model.bin", "vendor/vocab.pkl"),
    )
    bom = _report("bom", shard="1/2")  # half of a sharded BOM: incomplete
    decision = decide_staging([scan, bom])  # no license report at all
    assert decision.outcome == "hold"
    body = comment_body(decision, tmp_path / "hold")
    assert_no_leaks(body, tmp_path)
    assert_snapshot("comment-hold.md", body)


def test_comment_for_reject(tmp_path: Path) -> None:
    scan = _scan(
        PK.DANGEROUS_GLOBAL.finding("GLOBAL at offset 2 imports os.system", Location("model.pkl", offset=2)),
        PK.GLOBAL_NOT_ALLOWED.finding("GLOBAL at offset 7 imports evil.run",
                                      Location("odd|name <v2>_`final`.pkl", offset=7)),
        files=("model.pkl", "odd|name <v2>_`final`.pkl"),
    )
    lic = _report("license", LIC.NOT_ALLOWED.finding("CC-BY-NC-4.0 is not allowed",
                                                     Location("README.md", line=3)))
    decision = decide_staging([scan, _report("bom"), lic])
    assert decision.outcome == "reject"
    body = comment_body(decision, tmp_path / "reject")
    assert_no_leaks(body, tmp_path)
    assert_snapshot("comment-reject.md", body)


# --- 4. `mlgate check` of the example model -------------------------------------------------------------

def test_check_example_model_text_and_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    out_dir = tmp_path / "mlgate-out"
    rc = main(["check", EXAMPLE_MODEL, "--out-dir", str(out_dir), "-o", str(tmp_path / "check.txt")])
    assert rc == 0
    text = normalise_check((tmp_path / "check.txt").read_bytes().decode("utf-8"), out_dir)
    summary = normalise_check((out_dir / "summary.md").read_bytes().decode("utf-8"), out_dir)
    assert OUT_DIR in text
    for rendered in (text, summary):
        assert_no_leaks(rendered, tmp_path)
    assert_snapshots({"check-example-model.txt": text, "check-example-model.summary.md": summary})
