"""The attack corpus against the scanner: every technique caught, every benign file clean, the
marker never created (nothing was loaded), and the CLI exit codes agree (1 malicious, 0 benign).

The corpus is built once per session (tests/scan/corpus.py); each case is scanned on its own
with the ``commercial-safe`` policy, the way ``mlgate scan FILE`` would."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlgate.cli import main
from mlgate.core.findings import Finding, Report, Severity
from mlgate.core.policy import Policy, load_policy
from mlgate.scan.engine import scan_paths
from tests.scan.corpus import Case, build_corpus


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    base = tmp_path_factory.mktemp("corpus")
    marker = base / "PWNED_MARKER"
    build_corpus(base / "files", marker)
    yield base / "files", marker
    # the session-wide guarantee: after every scan below, nothing ever ran a payload
    assert not marker.exists(), "a corpus payload ran during the scan tests"


def _cases() -> list[Case]:
    """Case metadata for parametrization (built into a throwaway dir at collection time)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return build_corpus(Path(tmp) / "files", Path(tmp) / "PWNED_MARKER")


CASES = _cases()
MALICIOUS = [c for c in CASES if c.malicious]
BENIGN = [c for c in CASES if not c.malicious]

# Known product gaps, reported to the scan owners; strict, so each flips to a failure when fixed.
# techniques the scanner is known to miss (strict xfail: fixing one makes its test fail until
# the entry is removed here); empty: every corpus technique is caught
KNOWN_GAPS: dict[str, str] = {}


def _params(cases: list[Case]) -> list[object]:
    return [pytest.param(c, id=c.name, marks=[pytest.mark.xfail(reason=KNOWN_GAPS[c.name],
                                                                strict=True)])
            if c.name in KNOWN_GAPS else pytest.param(c, id=c.name) for c in cases]


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy("commercial-safe")


def _scan(path: Path, policy: Policy) -> Report:
    return scan_paths([path], policy=policy)


def _show(findings: tuple[Finding, ...] | list[Finding]) -> str:
    return "; ".join(f"{f.rule_id}/{f.severity.value}: {f.title}" for f in findings) or "none"


def test_corpus_covers_every_technique_class() -> None:
    names = {c.name for c in CASES}
    assert len(MALICIOUS) >= 70 and len(BENIGN) >= 12
    for required in ("stack_global_memo", "ext_code_copyreg", "torch_zip_bad_crc",
                     "torch_legacy_sequence", "npy_object_array", "sevenz_pickle",
                     "keras_v3_lambda", "gguf_chat_template_ssti", "savedmodel_pyfunc",
                     "benign_torch_state_dict", "benign_torch_legacy"):
        assert required in names
    assert all(c.source and c.description for c in CASES)


@pytest.mark.parametrize("case", _params(MALICIOUS))
def test_malicious_case_is_caught(case: Case, corpus_dir: tuple[Path, Path],
                                  policy: Policy) -> None:
    root, marker = corpus_dir
    report = _scan(root / case.path, policy)
    floor = Severity.parse(case.min_severity)
    hits = [f for f in report.findings if f.severity >= floor]
    assert hits, f"{case.name}: nothing at or above {floor.value} ({_show(report.findings)})"
    if case.expected_rule_prefix:
        assert any(f.rule_id.startswith(case.expected_rule_prefix) for f in hits), (
            f"{case.name}: expected a {case.expected_rule_prefix}* finding, got "
            f"{_show(report.findings)}")
    assert not marker.exists()


@pytest.mark.parametrize("case", BENIGN, ids=lambda c: c.name)
def test_benign_case_is_clean(case: Case, corpus_dir: tuple[Path, Path],
                              policy: Policy) -> None:
    root, marker = corpus_dir
    report = _scan(root / case.path, policy)
    # info findings (e.g. "modelscan does not support this file") are allowed; nothing else
    noisy = [f for f in report.findings if f.severity >= Severity.LOW]
    assert noisy == [], f"{case.name}: false positive(s): {_show(noisy)}"
    assert report.files and all(r.sha256 for r in report.files)
    assert not marker.exists()


@pytest.mark.parametrize("case", MALICIOUS + BENIGN, ids=lambda c: c.name)
def test_cli_exit_code(case: Case, corpus_dir: tuple[Path, Path], tmp_path: Path) -> None:
    root, marker = corpus_dir
    out = tmp_path / "report.json"
    rc = main(["scan", str(root / case.path), "--policy", "commercial-safe",
               "--format", "json", "--output", str(out)])
    assert rc == (1 if case.malicious else 0), f"{case.name}: exit code {rc}"
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["kind"] == "scan"
    assert bool(data["findings"]) or not case.malicious
    assert not marker.exists()


def test_whole_corpus_in_one_scan(corpus_dir: tuple[Path, Path], policy: Policy) -> None:
    """One scan of the whole tree: every malicious path has a finding, no benign path has one
    of severity low or worse, and still nothing ran."""
    root, marker = corpus_dir
    report = _scan(root, policy)
    flagged = {f.location.path for f in report.findings
               if f.location is not None and f.severity >= Severity.MEDIUM}
    noisy = {f.location.path for f in report.findings
             if f.location is not None and f.severity >= Severity.LOW}
    for case in CASES:
        hit = any(p == case.path or p.startswith(case.path + "/") for p in flagged)
        noise = any(p == case.path or p.startswith(case.path + "/") for p in noisy)
        if case.malicious:
            assert hit, f"{case.name} not flagged in the folder scan"
        else:
            assert not noise, f"{case.name} flagged in the folder scan"
    assert not marker.exists()
