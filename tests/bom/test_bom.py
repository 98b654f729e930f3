"""`mlgate bom`: a valid CycloneDX 1.6 ML-BOM with the model card, every file and its hash."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from mlgate.bom.build import build_bom, hash_folder, provenance_from_env, validate_bom_json
from mlgate.bom.modelcard import (
    MAX_CARD_BYTES,
    CardError,
    load_model_card,
    parse_model_card,
)
from mlgate.cli import main
from mlgate.core.errors import ToolError

FIXED = {"SOURCE_DATE_EPOCH": "1700000000"}


def _bom(path: Path, **kw: object) -> dict[str, object]:
    return json.loads(build_bom(path, environ=FIXED, **kw))  # type: ignore[arg-type]


def _components(doc: dict[str, object]) -> list[dict[str, object]]:
    comps = doc["components"]
    assert isinstance(comps, list)
    return comps


def test_example_bom_validates_against_official_1_6_schema(example_model: Path) -> None:
    text = build_bom(example_model, environ=FIXED)
    validate_bom_json(text)  # raises on error
    doc = json.loads(text)
    assert doc["specVersion"] == "1.6"
    assert doc["bomFormat"] == "CycloneDX"
    assert doc["serialNumber"].startswith("urn:uuid:")
    tools = doc["metadata"]["tools"]["components"]
    assert tools[0]["name"] == "mlgate"


def test_validator_rejects_a_broken_document() -> None:
    with pytest.raises(ToolError):
        validate_bom_json(json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6",
                                      "components": [{"type": "no-such-type", "name": "x"}]}))


def test_every_file_is_a_component_with_its_sha256(example_model: Path) -> None:
    doc = _bom(example_model)
    files = {c["name"]: c for c in _components(doc) if c["type"] == "file"}
    on_disk = sorted(p.relative_to(example_model).as_posix()
                     for p in example_model.rglob("*") if p.is_file())
    assert sorted(files) == on_disk
    for rel, comp in files.items():
        want = hashlib.sha256((example_model / rel).read_bytes()).hexdigest()
        hashes = comp["hashes"]
        assert isinstance(hashes, list)
        assert hashes == [{"alg": "SHA-256", "content": want}]


def test_nested_file_named_by_posix_relative_path(example_model: Path) -> None:
    (example_model / "1_Pooling").mkdir()
    (example_model / "1_Pooling" / "config.json").write_text('{"pooling": "mean"}')
    names = [c["name"] for c in _components(_bom(example_model)) if c["type"] == "file"]
    assert "1_Pooling/config.json" in names


def test_model_card_fields_are_mapped(example_model: Path) -> None:
    doc = _bom(example_model)
    model = _components(doc)[0]
    assert model["type"] == "machine-learning-model"
    assert model["name"] == "tiny-sentiment"
    assert model["licenses"] == [{"license": {"id": "Apache-2.0"}}]
    mc = model["modelCard"]
    assert isinstance(mc, dict)
    params = mc["modelParameters"]
    assert params["task"] == "text-classification"
    assert params["architectureFamily"] == "bert"
    assert params["modelArchitecture"] == "BertForSequenceClassification"
    assert params["datasets"] == [{"ref": "dataset:mlgate-examples/tiny-reviews"}]
    metrics = {m["type"]: m for m in mc["quantitativeAnalysis"]["performanceMetrics"]}
    assert metrics["accuracy"]["value"] == "0.861"
    assert metrics["f1"]["slice"] == "tiny-reviews test"
    assert "not trained" in mc["considerations"]["technicalLimitations"][0]
    data = [c for c in _components(doc) if c["type"] == "data"]
    assert data[0]["name"] == "mlgate-examples/tiny-reviews"
    assert data[0]["data"] == [{"type": "dataset", "name": "mlgate-examples/tiny-reviews"}]
    libs = {c["name"]: c for c in _components(doc) if c["type"] == "library"}
    assert libs["transformers"]["purl"] == "pkg:pypi/transformers@4.46.0"
    assert libs["numpy"]["purl"] == "pkg:pypi/numpy"
    assert libs["safetensors"]["purl"] == "pkg:pypi/safetensors"
    dep = next(d for d in doc["dependencies"] if d["ref"] == "model")  # type: ignore[union-attr]
    assert "file:model.safetensors" in dep["dependsOn"]


def test_hub_purl_has_namespace_and_lowercase_commit(example_model: Path) -> None:
    rev = "ABCDEF0123456789ABCDEF0123456789ABCDEF01"
    model = _components(_bom(example_model, hf_repo="acme/tiny", revision=rev))[0]
    assert model["purl"] == f"pkg:huggingface/acme/tiny@{rev.lower()}"


def test_deterministic_with_source_date_epoch(example_model: Path) -> None:
    a = build_bom(example_model, environ=FIXED)
    b = build_bom(example_model, environ=FIXED)
    assert a == b
    assert json.loads(a)["metadata"]["timestamp"].startswith("2023-11-14T22:13:20")
    (example_model / "vocab.txt").write_text("changed")
    c = build_bom(example_model, environ=FIXED)
    assert json.loads(c)["serialNumber"] != json.loads(a)["serialNumber"]


def test_file_records_from_scan_are_reused_not_rehashed(example_model: Path) -> None:
    records = hash_folder(example_model)
    fake = [r if r.path != "vocab.txt" else type(r)(r.path, r.size, "0" * 64, r.format)
            for r in records]
    doc = json.loads(build_bom(example_model, file_records=fake, environ=FIXED))
    vocab = next(c for c in _components(doc) if c["name"] == "vocab.txt")
    assert vocab["hashes"][0]["content"] == "0" * 64  # type: ignore[index]


def test_github_provenance(example_model: Path) -> None:
    env = {**FIXED, "GITHUB_ACTIONS": "true", "GITHUB_SHA": "a" * 40,
           "GITHUB_REPOSITORY": "acme/models", "GITHUB_RUN_ID": "42",
           "GITHUB_SERVER_URL": "https://github.example.com"}
    doc = json.loads(build_bom(example_model, environ=env))
    props = {p["name"]: p["value"] for p in doc["metadata"]["properties"]}
    assert props["mlgate:ci:commit"] == "a" * 40
    assert props["mlgate:ci:platform"] == "github"
    refs = {r["type"]: r["url"] for r in _components(doc)[0]["externalReferences"]}
    assert refs["vcs"] == "https://github.example.com/acme/models"
    assert refs["build-system"] == "https://github.example.com/acme/models/actions/runs/42"


def test_gitlab_provenance() -> None:
    prov = provenance_from_env({"GITLAB_CI": "true", "CI_COMMIT_SHA": "b" * 40,
                                "CI_PROJECT_URL": "https://gl.example/g/p",
                                "CI_PIPELINE_URL": "https://gl.example/g/p/-/pipelines/7"})
    assert prov.platform == "gitlab"
    assert prov.run_url.endswith("/pipelines/7")
    assert ("mlgate:ci:commit", "b" * 40) in prov.properties


def test_symlink_outside_is_listed_without_hash(example_model: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read")
    (example_model / "leak.bin").symlink_to(secret)
    doc = _bom(example_model)
    leak = next(c for c in _components(doc) if c["name"] == "leak.bin")
    assert "hashes" not in leak
    props = {p["name"]: p["value"] for p in leak["properties"]}  # type: ignore[union-attr]
    assert "symlink-outside-root" in props["mlgate:error"]


def test_llama_license_becomes_licenseref(example_model: Path) -> None:
    card = (example_model / "README.md").read_text().replace(
        "license: apache-2.0",
        "license: llama3\nlicense_link: https://llama.meta.com/llama3/license/")
    (example_model / "README.md").write_text(card)
    model = _components(_bom(example_model))[0]
    assert model["licenses"] == [{"license": {
        "name": "LicenseRef-llama3", "url": "https://llama.meta.com/llama3/license/"}}]


def test_dual_license_is_an_expression(example_model: Path) -> None:
    card = (example_model / "README.md").read_text().replace("license: apache-2.0",
                                                             "license: apache-2.0 OR mit")
    (example_model / "README.md").write_text(card)
    model = _components(_bom(example_model))[0]
    assert model["licenses"] == [{"expression": "Apache-2.0 OR MIT"}]


# --- hostile model cards ------------------------------------------------------------------

def test_alias_bomb_is_refused_quickly() -> None:
    lines = ["---", 'a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    prev = "a"
    for i in range(12):
        name = f"l{i}"
        lines.append(f"{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},"
                     f"*{prev},*{prev},*{prev},*{prev}]")
        prev = name
    lines.append("---")
    with pytest.raises(CardError, match="alias bomb"):
        parse_model_card("\n".join(lines) + "\n")


def test_bad_yaml_card_is_explicit_invalid(example_model: Path) -> None:
    (example_model / "README.md").write_text("---\nlicense: [unclosed\n---\nbody\n")
    card = load_model_card(example_model)
    assert card.status == "invalid"
    assert "not valid YAML" in card.error
    doc = _bom(example_model)  # the BOM still builds and says so
    props = {p["name"]: p["value"] for p in _components(doc)[0]["properties"]}  # type: ignore
    assert props["mlgate:modelcard:status"] == "invalid"


def test_huge_card_is_not_read_whole(example_model: Path) -> None:
    (example_model / "README.md").write_bytes(b"---\nlicense: mit\n---\n" + b"x" * MAX_CARD_BYTES)
    card = load_model_card(example_model)
    assert card.status == "invalid"
    assert "larger than" in card.error


def test_unclosed_front_matter() -> None:
    with pytest.raises(CardError, match="never closed"):
        parse_model_card("---\nlicense: mit\n")


def test_front_matter_not_a_mapping() -> None:
    with pytest.raises(CardError, match="mapping"):
        parse_model_card("---\n- a\n- b\n---\n")


def test_python_tags_are_not_constructed() -> None:
    with pytest.raises(CardError):
        parse_model_card("---\nx: !!python/object/apply:os.system ['echo hi']\n---\n")


def test_wrong_types_in_card_are_ignored_not_crashing() -> None:
    card = parse_model_card("---\nlicense: {a: 1}\ndatasets: 5\nmodel-index: [1, {results: x}]"
                            "\ntags: [[1], ok]\n---\n")
    assert card.licenses == ()
    assert card.datasets == ("5",)
    assert card.tags == ("ok",)
    assert card.metrics == ()


def test_missing_card(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"x")
    assert load_model_card(tmp_path).status == "missing"
    doc = _bom(tmp_path)
    assert _components(doc)[0]["name"] == tmp_path.name


# --- command ------------------------------------------------------------------------------

def test_bom_command_writes_file(example_model: Path, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    out = tmp_path / "bom.json"
    assert main(["bom", str(example_model), "--output", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["specVersion"] == "1.6"


def test_bom_command_missing_path_is_usage_error(tmp_path: Path) -> None:
    assert main(["bom", str(tmp_path / "nope")]) == 2


def test_deeply_nested_card_front_matter_is_invalid_not_a_crash(tmp_path: Path) -> None:
    # YAML nesting attack: PyYAML's composer recurses once per level (RecursionError)
    depth = 20_000
    (tmp_path / "README.md").write_text(
        "---\nlicense: mit\nx: " + "[" * depth + "]" * depth + "\n---\nbody\n", encoding="utf-8")
    card = load_model_card(tmp_path)
    assert card.status == "invalid"
    assert "nested too deeply" in card.error
    assert main(["bom", str(tmp_path), "-o", str(tmp_path / "bom.json")]) == 0


def test_huge_sparse_config_pyproject_requirements_are_not_read_whole(tmp_path: Path) -> None:
    # memory-exhaustion attack: 512 MiB (sparse) side files in the model folder
    import tracemalloc

    from mlgate.bom.build import read_config, read_pyproject, read_requirements

    for name in ("config.json", "pyproject.toml", "requirements.txt"):
        with open(tmp_path / name, "wb") as fh:
            fh.write(b"{" if name == "config.json" else b"x")
            fh.truncate(512 << 20)
    tracemalloc.start()
    try:
        assert read_config(tmp_path) == {}
        assert read_pyproject(tmp_path).status == "invalid"
        read_requirements(tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20, f"peak {peak} bytes"


def _model_props(doc: dict[str, object]) -> dict[str, str]:
    (model,) = [c for c in _components(doc) if c.get("bom-ref") == "model"]
    props = model.get("properties", [])
    assert isinstance(props, list)
    return {p["name"]: p["value"] for p in props}


def test_requirements_not_utf8_or_too_big_recorded_as_status(tmp_path: Path) -> None:
    from mlgate.bom.build import MAX_REQUIREMENTS_BYTES

    (tmp_path / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    (tmp_path / "requirements.txt").write_text("torch==2.3.0\n", encoding="utf-16")
    (tmp_path / "requirements-big.txt").write_bytes(
        b"numpy==1.26.0\n" + b"#" * MAX_REQUIREMENTS_BYTES)
    (tmp_path / "requirements-ok.txt").write_text("scipy==1.13.0\n", encoding="utf-8")
    doc = _bom(tmp_path)
    props = _model_props(doc)
    assert props["mlgate:requirements:requirements.txt:status"] == "skipped: not UTF-8"
    assert props["mlgate:requirements:requirements-big.txt:status"].startswith(
        "skipped: larger than")
    assert "mlgate:requirements:requirements-ok.txt:status" not in props
    names = {c["name"] for c in _components(doc)}
    assert "scipy" in names and "torch" not in names and "numpy" not in names


def test_config_json_unparsable_recorded_as_status(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    (tmp_path / "config.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    props = _model_props(_bom(tmp_path))
    assert props["mlgate:config:status"] == "invalid: config.json is nested too deeply"
    (tmp_path / "config.json").write_text('{"model_type": ', encoding="utf-8")
    props = _model_props(_bom(tmp_path))
    assert props["mlgate:config:status"].startswith("invalid: config.json is not valid JSON")
    (tmp_path / "config.json").write_text('{"model_type": "bert"}', encoding="utf-8")
    assert "mlgate:config:status" not in _model_props(_bom(tmp_path))
