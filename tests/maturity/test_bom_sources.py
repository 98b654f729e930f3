"""`mlgate maturity --bom bom.cdx.json`: sources from the purls and references of a CycloneDX BOM."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from mlgate.bom.build import build_bom_dict
from mlgate.cli import main
from mlgate.maturity.bomsources import sources_from_bom
from mlgate.maturity.check import check_maturity

from .conftest import FakeGitHub, policy
from .test_huggingface import FakeHub

NOW = datetime(2026, 12, 2, tzinfo=timezone.utc)


def write_bom(tmp_path: Path, components: list[dict[str, Any]], meta: dict[str, Any] | None = None) -> Path:
    doc: dict[str, Any] = {"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
                           "metadata": {"timestamp": "2026-12-01T00:00:00Z"}, "components": components}
    if meta:
        doc["metadata"]["component"] = meta
    p = tmp_path / "bom.cdx.json"
    p.write_text(json.dumps(doc), encoding="utf-8")
    return p


COMPONENTS: list[dict[str, Any]] = [
    {"type": "machine-learning-model", "bom-ref": "model", "name": "acme/classifier",
     "purl": "pkg:huggingface/acme/classifier@0123456789abcdef0123456789abcdef01234567",
     "properties": [{"name": "mlgate:base-model", "value": "google-bert/bert-base-uncased"}],
     "externalReferences": [{"type": "vcs", "url": "git+https://github.com/acme/training.git"},
                            {"type": "build-system", "url": "https://github.com/acme/training/actions/runs/1"}]},
    {"type": "data", "bom-ref": "dataset:acme/reviews", "name": "acme/reviews",
     "externalReferences": [{"type": "distribution", "url": "https://huggingface.co/datasets/acme/reviews"}]},
    {"type": "library", "bom-ref": "pypi:torch", "name": "torch", "version": "2.5.1",
     "purl": "pkg:pypi/torch@2.5.1",
     "externalReferences": [{"type": "website", "url": "https://pytorch.org/"},
                            {"type": "vcs", "url": "git@github.com:pytorch/pytorch.git"}]},
    {"type": "library", "name": "tokenizers-src", "purl": "pkg:github/huggingface/tokenizers@v0.20.0",
     "components": [{"type": "library", "name": "nested", "purl": "pkg:npm/left-pad@1.3.0"}]},
    {"type": "file", "bom-ref": "file:model.safetensors", "name": "model.safetensors"},
]


def test_sources_read_from_purls_references_and_properties(tmp_path: Path) -> None:
    bom = write_bom(tmp_path, COMPONENTS)
    found, notes = sources_from_bom(bom)
    texts = [s.text for s in found]
    assert texts == [
        "hf:acme/classifier", "https://github.com/acme/training", "hf:google-bert/bert-base-uncased",
        "https://huggingface.co/datasets/acme/reviews", "https://pytorch.org/",
        "https://github.com/pytorch/pytorch", "github:huggingface/tokenizers",
    ]
    assert any("pkg:pypi/torch@2.5.1 skipped" in n for n in notes)
    assert any("pkg:npm/left-pad" in n for n in notes)


def test_maturity_checks_bom_sources(github: FakeGitHub, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    hub = FakeHub(github.server)
    monkeypatch.setenv("HF_ENDPOINT", hub.base)
    for owner, name in (("acme", "training"), ("pytorch", "pytorch"), ("huggingface", "tokenizers")):
        github.add_repo(owner, name)
    hub.model("acme/classifier", downloads=3)
    hub.model("google-bert/bert-base-uncased")
    hub.dataset("acme/reviews")
    bom = write_bom(tmp_path, COMPONENTS)
    report = check_maturity([], policy("  min_downloads: 100\n"), bom=bom, now=NOW)
    checked = {s["source"]: s for s in report.evidence["sources"]}
    assert set(checked) == {"hf:acme/classifier", "github:acme/training", "hf:google-bert/bert-base-uncased",
                            "hf:datasets/acme/reviews", "github:pytorch/pytorch",
                            "github:huggingface/tokenizers"}
    assert all(s["status"] == "checked" for s in checked.values())
    assert checked["github:pytorch/pytorch"]["from"] == "bom.cdx.json: torch (vcs)"
    assert [(f.rule_id, f.properties["source"]) for f in report.findings] == [
        ("MLG-MAT-007", "hf:acme/classifier")]
    skipped = report.evidence["skipped"]
    assert any("https://pytorch.org/" in n for n in skipped)  # a website that is no repository
    assert report.complete


def test_unknown_vcs_reference_is_a_finding_not_a_silent_skip(tmp_path: Path) -> None:
    bom = write_bom(tmp_path, [], meta={
        "type": "application", "name": "svc",
        "externalReferences": [{"type": "vcs", "url": "https://bitbucket.org/acme/svc"}]})
    report = check_maturity([], policy(), bom=bom, offline=True, now=NOW)
    assert [f.rule_id for f in report.findings] == ["MLG-MAT-019"]
    assert not report.complete


def test_bom_written_by_mlgate_bom(tmp_path: Path) -> None:
    model = tmp_path / "m"
    model.mkdir()
    (model / "README.md").write_text("---\nlicense: mit\nbase_model: acme/base\ndatasets: [acme/data]\n"
                                     "---\n# m\n", encoding="utf-8")
    (model / "requirements.txt").write_text("numpy\n", encoding="utf-8")
    doc = build_bom_dict(model, hf_repo="acme/m", environ={"SOURCE_DATE_EPOCH": "1700000000",
                                                           "GITHUB_SERVER_URL": "https://github.com",
                                                           "GITHUB_REPOSITORY": "acme/ml"})
    bom = tmp_path / "bom.cdx.json"
    bom.write_text(json.dumps(doc), encoding="utf-8")
    report = check_maturity([], policy(), bom=bom, offline=True, now=NOW)
    refs = sorted(s["source"] for s in report.evidence["sources"])
    assert {"hf:acme/m", "hf:acme/base", "hf:datasets/acme/data"} <= set(refs)
    assert all(s["status"] == "offline" for s in report.evidence["sources"])
    assert any("pkg:pypi/numpy" in n for n in report.evidence["skipped"])


def test_cli_bom_option_and_bad_bom(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bom = write_bom(tmp_path, COMPONENTS)
    out = tmp_path / "m.json"
    assert main(["maturity", "--bom", str(bom), "--offline", "--format", "json", "--output", str(out)]) == 1
    data = json.loads(out.read_text(encoding="utf-8"))
    assert {f["rule_id"] for f in data["findings"]} == {"MLG-MAT-016"}
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2", encoding="utf-8")
    assert main(["maturity", "--bom", str(bad)]) == 2
    assert "not JSON" in capsys.readouterr().err


def test_empty_bom_is_no_sources_finding(tmp_path: Path) -> None:
    bom = write_bom(tmp_path, [{"type": "file", "name": "a.bin"}])
    report = check_maturity([], policy(), bom=bom, now=NOW)
    assert [f.rule_id for f in report.findings] == ["MLG-MAT-017"]
    assert not report.complete
