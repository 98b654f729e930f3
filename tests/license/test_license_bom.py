"""`mlgate license PATH --bom FILE`: Python dependencies (and their licenses) from a CycloneDX BOM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlgate.bom.build import build_bom_dict
from mlgate.cli import main
from mlgate.core.errors import InputError
from mlgate.core.policy import load_preset
from mlgate.license.bomfile import read_bom
from mlgate.license.check import check_licenses


def _model(tmp_path: Path, requirements: str = "") -> Path:
    model = tmp_path / "model"
    model.mkdir()
    (model / "README.md").write_text("---\nlicense: apache-2.0\n---\n# m\n", encoding="utf-8")
    if requirements:
        (model / "requirements.txt").write_text(requirements, encoding="utf-8")
    return model


def _bom(tmp_path: Path, components: list[dict[str, object]]) -> Path:
    doc = {"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
           "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
           "metadata": {"timestamp": "2026-12-01T10:00:00Z",
                        "component": {"type": "application", "name": "svc", "bom-ref": "svc"}},
           "components": components}
    p = tmp_path / "bom.cdx.json"
    p.write_text(json.dumps(doc), encoding="utf-8")
    return p


def _lib(name: str, version: str, licenses: list[dict[str, object]]) -> dict[str, object]:
    return {"type": "library", "bom-ref": f"pkg:pypi/{name}@{version}", "name": name,
            "version": version, "purl": f"pkg:pypi/{name}@{version}", "licenses": licenses}


def deps(report) -> dict[str, dict[str, object]]:  # type: ignore[no-untyped-def]
    return {r["subject"]: r for r in report.evidence["licenses"] if r["kind"] == "dependency"}


def test_bom_written_by_mlgate_bom_is_read(tmp_path: Path) -> None:
    model = _model(tmp_path, "pyyaml\nclick\n")
    doc = build_bom_dict(model, include_env=True, environ={"SOURCE_DATE_EPOCH": "1700000000"})
    bom = tmp_path / "bom.cdx.json"
    bom.write_text(json.dumps(doc), encoding="utf-8")
    (model / "requirements.txt").unlink()  # only the BOM names them now
    report = check_licenses(model, load_preset("commercial-safe"), bom=bom)
    rows = deps(report)
    assert set(rows) == {"pyyaml", "click"}
    assert rows["pyyaml"]["license"] == "MIT" and rows["pyyaml"]["source"] == "bom"
    assert rows["click"]["license"] == "BSD-3-Clause" and rows["pyyaml"]["location"] == "bom.cdx.json"
    assert report.findings == ()


def test_bom_license_forms_id_name_expression(tmp_path: Path) -> None:
    model = _model(tmp_path)
    bom = _bom(tmp_path, [
        _lib("requests", "2.32.3", [{"license": {"id": "Apache-2.0"}}]),
        _lib("certifi", "2024.8.30", [{"license": {"name": "MPL-2.0"}}]),
        _lib("cryptography", "43.0.1", [{"expression": "Apache-2.0 OR BSD-3-Clause"}]),
        _lib("pygments", "2.18.0", [{"license": {"name": "BSD License"}}]),
        _lib("chardet", "5.2.0", [{"license": {"id": "LGPL-2.1-only"}},
                                  {"license": {"id": "MIT"}}]),
        # not Python dependencies: ignored here
        {"type": "library", "name": "left-pad", "purl": "pkg:npm/left-pad@1.3.0",
         "licenses": [{"license": {"id": "WTFPL"}}]},
        {"type": "machine-learning-model", "name": "m", "purl": "pkg:huggingface/acme/m"},
    ])
    report = check_licenses(model, load_preset("permissive"), bom=bom)
    rows = deps(report)
    assert rows["requests"]["license"] == "Apache-2.0"
    assert rows["certifi"]["license"] == "MPL-2.0" and rows["certifi"]["status"] == "not-allowed"
    assert rows["cryptography"]["license"] == "Apache-2.0 OR BSD-3-Clause"
    assert rows["pygments"]["license"] == "BSD-3-Clause"  # trove classifier name
    # several license entries: all apply, so the weak-copyleft one is held by `permissive`
    assert rows["chardet"]["license"] == "LGPL-2.1-only AND MIT"
    assert "left-pad" not in rows
    held = sorted(str(f.properties["subject"]) for f in report.findings if f.rule_id == "MLG-LIC-003")
    assert held == ["certifi", "chardet"]


def test_denied_dependency_license_from_bom(tmp_path: Path) -> None:
    model = _model(tmp_path)
    bom = _bom(tmp_path, [_lib("somepkg", "1.0", [{"license": {"id": "CC-BY-NC-4.0"}}])])
    report = check_licenses(model, load_preset("commercial-safe"), bom=bom)
    [f] = report.findings
    assert f.rule_id == "MLG-LIC-002" and f.properties["subject"] == "somepkg"
    assert f.location is not None and f.location.path == "bom.cdx.json"


def test_bom_without_license_falls_back_to_installed_metadata_else_unknown(tmp_path: Path) -> None:
    model = _model(tmp_path)
    bom = _bom(tmp_path, [
        _lib("click", "0.1", []),  # installed here: its metadata is used, and says so
        _lib("surely-not-installed-pkg", "1.0", [{"license": {"name": "Proprietary EULA v2"}}]),
    ])
    report = check_licenses(model, load_preset("commercial-safe"), bom=bom)
    rows = deps(report)
    assert rows["click"]["license"] == "BSD-3-Clause"
    assert str(rows["click"]["source"]).startswith("installed-metadata")
    assert "the BOM names no license" in str(rows["click"]["source"])
    [f] = report.findings
    assert f.rule_id == "MLG-LIC-001" and f.severity.value == "high"
    assert "surely-not-installed-pkg==1.0" in f.detail and "Proprietary EULA v2" in f.detail


def test_bom_and_requirements_are_merged_bom_wins(tmp_path: Path) -> None:
    model = _model(tmp_path, "click\nPyYAML\n")
    bom = _bom(tmp_path, [_lib("PyYAML", "6.0.2", [{"license": {"id": "MIT"}}])])
    rows = deps(check_licenses(model, load_preset("commercial-safe"), bom=bom))
    assert rows["pyyaml"]["source"] == "bom"
    assert rows["click"]["location"] == "requirements.txt"
    assert len(rows) == 2


@pytest.mark.parametrize("content, message", [
    (b"{not json", "not JSON"),
    (b'{"bomFormat": "SPDX"}', "not a CycloneDX"),
    (b'{"bomFormat": "CycloneDX", "components": {"a": 1}}', "not a list"),
    (b"\xff\xfe\x00garbage", "not JSON"),
])
def test_malformed_bom_is_exit_2(tmp_path: Path, content: bytes, message: str,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    model = _model(tmp_path)
    bom = tmp_path / "bad.json"
    bom.write_bytes(content)
    assert main(["license", str(model), "--bom", str(bom)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_deeply_nested_bom_is_refused_not_a_crash(tmp_path: Path) -> None:
    comp: dict[str, object] = {"type": "library", "name": "x"}
    for _ in range(40):
        comp = {"type": "library", "name": "x", "components": [comp]}
    bom = tmp_path / "deep.json"
    bom.write_text(json.dumps({"bomFormat": "CycloneDX", "components": [comp]}), encoding="utf-8")
    with pytest.raises(InputError, match="nested deeper"):
        read_bom(bom)


def test_cli_license_with_bom_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = _model(tmp_path)
    bom = _bom(tmp_path, [_lib("gpl-thing", "2.0", [{"license": {"id": "GPL-3.0-only"}}])])
    out = tmp_path / "license.json"
    code = main(["license", str(model), "--bom", str(bom), "--format", "json", "--output", str(out)])
    assert code == 1
    data = json.loads(out.read_text(encoding="utf-8"))
    assert [f["rule_id"] for f in data["findings"]] == ["MLG-LIC-003"]


def test_bom_that_is_a_fifo_is_refused(tmp_path: Path) -> None:
    # regression: `--bom` naming a FIFO blocked the read forever
    import os

    fifo = tmp_path / "bom.json"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        read_bom(fifo)
