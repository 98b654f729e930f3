"""`mlgate bom`: CycloneDX XML, the official JSON schema checked independently, MLflow models,
pyproject.toml dependencies and parallel hashing."""

from __future__ import annotations

import hashlib
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from mlgate.bom.build import build_bom, hash_folder, read_pyproject, validate_bom_xml
from mlgate.bom.mlflow import (
    MlflowRef,
    clean_repository_url,
    load_mlmodel,
    mlflow_purl,
    parse_mlmodel,
)
from mlgate.cli import main
from mlgate.core.errors import ToolError, UsageError

FIXED = {"SOURCE_DATE_EPOCH": "1700000000"}
NS = {"c": "http://cyclonedx.org/schema/bom/1.6"}

# an MLmodel as MLflow 2.x writes it for mlflow.sklearn.log_model(..., signature=...)
MLMODEL = """\
artifact_path: model
flavors:
  python_function:
    env:
      conda: conda.yaml
      virtualenv: python_env.yaml
    loader_module: mlflow.sklearn
    model_path: model.pkl
    predict_fn: predict
    python_version: 3.11.7
  sklearn:
    code: null
    pickled_model: model.pkl
    serialization_format: cloudpickle
    sklearn_version: 1.4.2
mlflow_version: 2.12.1
model_size_bytes: 1489
model_uuid: 5a2c0b8f1e2d4c7a9b3e6f0d1c2b3a4e
run_id: 8e3b1f5d9c2a4e6f8a0b1c2d3e4f5a6b
signature:
  inputs: '[{"type": "double", "name": "sepal length (cm)", "required": true}, {"type":
    "double", "name": "sepal width (cm)", "required": true}]'
  outputs: '[{"type": "long", "required": true}]'
  params: null
utc_time_created: '2024-05-02 09:14:31.223344'
"""

TENSOR_SIGNATURE = """\
flavors:
  pytorch:
    model_data: data
    pytorch_version: 2.3.0
    code: null
  python_function:
    loader_module: mlflow.pytorch
    python_version: 3.10.12
mlflow_version: 2.12.1
signature:
  inputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 1, 28, 28]}}]'
  outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 10]}}]'
"""


def _cdx_res() -> Path:
    import cyclonedx.schema._res as res

    return Path(res.__file__).parent


def _xml_bom(path: Path, **kw: Any) -> ET.Element:
    return ET.fromstring(build_bom(path, environ=FIXED, fmt="cyclonedx-xml", **kw))


def _model(doc: dict[str, Any]) -> dict[str, Any]:
    model = doc["components"][0]
    assert model["bom-ref"] == "model"
    return model  # type: ignore[no-any-return]


def _mlflow_folder(tmp_path: Path, mlmodel: str = MLMODEL) -> Path:
    folder = tmp_path / "iris-model"
    folder.mkdir()
    (folder / "MLmodel").write_text(mlmodel)
    (folder / "model.pkl").write_bytes(b"\x80\x04K\x01.")  # built, never loaded
    (folder / "requirements.txt").write_text("mlflow==2.12.1\nscikit-learn==1.4.2\n")
    return folder


# --- XML ---------------------------------------------------------------------------------

def test_example_xml_validates_with_the_library_xsd_validator(example_model: Path) -> None:
    from cyclonedx.schema import OutputFormat, SchemaVersion
    from cyclonedx.validation import make_schemabased_validator

    text = build_bom(example_model, environ=FIXED, fmt="cyclonedx-xml")
    assert make_schemabased_validator(OutputFormat.XML, SchemaVersion.V1_6).validate_str(text) is None
    root = ET.fromstring(text)
    assert root.tag == "{http://cyclonedx.org/schema/bom/1.6}bom"
    mc = root.find("c:components/c:component[@bom-ref='model']/c:modelCard", NS)
    assert mc is not None
    assert mc.findtext("c:modelParameters/c:task", namespaces=NS) == "text-classification"
    assert mc.findtext("c:modelParameters/c:datasets/c:ref", namespaces=NS) == \
        "dataset:mlgate-examples/tiny-reviews"
    data = root.find("c:components/c:component[@type='data']/c:data", NS)
    assert data is not None
    assert data.findtext("c:type", namespaces=NS) == "dataset"


def test_xml_validator_rejects_modelcard_out_of_xsd_order(example_model: Path) -> None:
    text = build_bom(example_model, environ=FIXED, fmt="cyclonedx-xml")
    root = ET.fromstring(text)
    comp = root.find("c:components/c:component[@bom-ref='model']", NS)
    assert comp is not None
    mc = comp.find("c:modelCard", NS)
    assert mc is not None
    comp.remove(mc)
    comp.insert(0, mc)  # before <name>: the XSD sequence forbids it
    with pytest.raises(ToolError, match=r"not valid CycloneDX 1\.6"):
        validate_bom_xml(ET.tostring(root, encoding="unicode"))


def test_json_and_xml_agree_on_key_fields(example_model: Path) -> None:
    doc = json.loads(build_bom(example_model, environ=FIXED))
    root = _xml_bom(example_model)
    assert root.get("serialNumber") == doc["serialNumber"]
    assert root.findtext("c:metadata/c:timestamp", namespaces=NS) == doc["metadata"]["timestamp"]
    xml_comps = root.findall("c:components/c:component", NS)
    assert [c.get("bom-ref") for c in xml_comps] == [c["bom-ref"] for c in doc["components"]]
    for xc, jc in zip(xml_comps, doc["components"], strict=True):
        assert xc.get("type") == jc["type"]
        assert xc.findtext("c:name", namespaces=NS) == jc["name"]
        assert xc.findtext("c:purl", namespaces=NS) == jc.get("purl")
        xml_hashes = [h.text for h in xc.findall("c:hashes/c:hash", NS)]
        assert xml_hashes == [h["content"] for h in jc.get("hashes", [])]
    mc = _model(doc)["modelCard"]
    xmc = root.find("c:components/c:component[@bom-ref='model']/c:modelCard", NS)
    assert xmc is not None
    assert xmc.findtext("c:modelParameters/c:modelArchitecture", namespaces=NS) == \
        mc["modelParameters"]["modelArchitecture"]
    values = [m.findtext("c:value", namespaces=NS) for m in
              xmc.findall("c:quantitativeAnalysis/c:performanceMetrics/c:performanceMetric", NS)]
    assert values == [m["value"] for m in mc["quantitativeAnalysis"]["performanceMetrics"]]
    assert xmc.findtext("c:considerations/c:technicalLimitations/c:technicalLimitation",
                        namespaces=NS) == mc["considerations"]["technicalLimitations"][0]


def test_xml_is_deterministic(example_model: Path) -> None:
    a = build_bom(example_model, environ=FIXED, fmt="cyclonedx-xml")
    assert a == build_bom(example_model, environ=FIXED, fmt="cyclonedx-xml")
    assert a.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<bom xmlns="http://cyclonedx.org')


def test_bom_command_xml_and_json_alias(example_model: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    xml_out, json_out, cdx_out = tmp_path / "b.xml", tmp_path / "b.json", tmp_path / "c.json"
    assert main(["bom", str(example_model), "--format", "cyclonedx-xml", "-o", str(xml_out)]) == 0
    assert main(["bom", str(example_model), "--format", "json", "-o", str(json_out)]) == 0
    assert main(["bom", str(example_model), "-o", str(cdx_out)]) == 0
    assert json_out.read_text() == cdx_out.read_text()
    assert json.loads(json_out.read_text())["specVersion"] == "1.6"
    validate_bom_xml(xml_out.read_text())


def test_unknown_format_is_usage_error(example_model: Path) -> None:
    with pytest.raises(UsageError):
        build_bom(example_model, environ=FIXED, fmt="spdx")
    assert main(["bom", str(example_model), "--format", "spdx"]) == 2


# --- the official JSON schema, checked without the library's validator ---------------------

def test_example_json_validates_with_jsonschema_directly(example_model: Path) -> None:
    from jsonschema import Draft7Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT7

    res = _cdx_res()
    schema = json.loads((res / "bom-1.6.SNAPSHOT.schema.json").read_text())
    assert schema["$id"] == "http://cyclonedx.org/schema/bom-1.6.schema.json"
    resources: list[tuple[str, Resource[Any]]] = []
    for name in ("spdx.SNAPSHOT.schema.json", "jsf-0.82.SNAPSHOT.schema.json",
                 "cryptography-defs.SNAPSHOT.schema.json"):
        # the bom schema refers to them relative to its $id
        resources.append((f"http://cyclonedx.org/schema/{name}",
                          DRAFT7.create_resource(json.loads((res / name).read_text()))))
    validator = Draft7Validator(schema, registry=Registry().with_resources(resources),
                                format_checker=Draft7Validator.FORMAT_CHECKER)
    doc = json.loads(build_bom(example_model, environ=FIXED))
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    assert errors == []
    assert doc["specVersion"] == "1.6"
    # the check is real: a modelCard field the schema does not know is an error
    _model(doc)["modelCard"]["modelParameters"]["notInTheSchema"] = 1
    assert list(validator.iter_errors(doc))


# --- MLflow ------------------------------------------------------------------------------

def test_mlflow_purl_with_repository_url() -> None:
    purl = mlflow_purl(MlflowRef("iris-classifier", "3", "https://mlflow.example.com/"))
    assert purl == ("pkg:mlflow/iris-classifier@3?"
                    "repository_url=https://mlflow.example.com")


def test_mlflow_uri_credentials_never_reach_the_purl() -> None:
    assert clean_repository_url("https://alice:s3cret@mlflow.example.com:8443/api?token=x#f") == \
        "https://mlflow.example.com:8443/api"
    with pytest.raises(UsageError):
        clean_repository_url("databricks")


def test_mlmodel_is_parsed(tmp_path: Path) -> None:
    mm = load_mlmodel(_mlflow_folder(tmp_path))
    assert mm.status == "ok"
    assert mm.flavors == ("python_function", "sklearn")
    assert ("scikit-learn", "1.4.2") in mm.frameworks
    assert ("mlflow", "2.12.1") in mm.frameworks
    assert mm.run_id == "8e3b1f5d9c2a4e6f8a0b1c2d3e4f5a6b"
    assert mm.model_uuid == "5a2c0b8f1e2d4c7a9b3e6f0d1c2b3a4e"
    assert mm.utc_time_created == "2024-05-02 09:14:31.223344"
    assert mm.inputs == ("sepal length (cm): double", "sepal width (cm): double")
    assert mm.outputs == ("long",)


def test_mlmodel_tensor_signature() -> None:
    mm = parse_mlmodel(TENSOR_SIGNATURE)
    assert mm.inputs == ("tensor float32 [-1, 1, 28, 28]",)
    assert mm.outputs == ("tensor float32 [-1, 10]",)
    assert ("torch", "2.3.0") in mm.frameworks
    assert mm.python_version == "3.10.12"


def test_mlflow_bom_json_and_xml(tmp_path: Path) -> None:
    folder = _mlflow_folder(tmp_path)
    ref = MlflowRef("iris-classifier", "3", "https://user:tok@mlflow.example.com")
    doc = json.loads(build_bom(folder, environ=FIXED, mlflow=ref))
    model = _model(doc)
    assert model["name"] == "iris-classifier"
    assert model["version"] == "3"
    assert model["purl"] == ("pkg:mlflow/iris-classifier@3?"
                             "model_uuid=5a2c0b8f1e2d4c7a9b3e6f0d1c2b3a4e&"
                             "repository_url=https://mlflow.example.com&"
                             "run_id=8e3b1f5d9c2a4e6f8a0b1c2d3e4f5a6b")
    assert "tok" not in json.dumps(doc)
    props = {p["name"]: p["value"] for p in model["properties"]}
    assert props["mlgate:mlflow:run-id"] == "8e3b1f5d9c2a4e6f8a0b1c2d3e4f5a6b"
    assert props["mlgate:mlflow:flavors"] == "python_function,sklearn"
    assert props["mlgate:mlflow:utc-time-created"] == "2024-05-02 09:14:31.223344"
    params = model["modelCard"]["modelParameters"]
    assert params["inputs"] == [{"format": "sepal length (cm): double"},
                                {"format": "sepal width (cm): double"}]
    assert params["outputs"] == [{"format": "long"}]
    libs = {c["name"]: c for c in doc["components"] if c["type"] == "library"}
    assert libs["scikit-learn"]["purl"] == "pkg:pypi/scikit-learn@1.4.2"
    assert libs["mlflow"]["purl"] == "pkg:pypi/mlflow@2.12.1"
    root = _xml_bom(folder, mlflow=ref)
    xmodel = root.find("c:components/c:component[@bom-ref='model']", NS)
    assert xmodel is not None
    assert xmodel.findtext("c:purl", namespaces=NS) == model["purl"]
    formats = [e.text for e in xmodel.findall(
        "c:modelCard/c:modelParameters/c:inputs/c:input/c:format", NS)]
    assert formats == ["sepal length (cm): double", "sepal width (cm): double"]


def test_mlmodel_without_registry_name_keeps_generic_purl(tmp_path: Path) -> None:
    doc = json.loads(build_bom(_mlflow_folder(tmp_path), environ=FIXED))
    model = _model(doc)
    assert model["purl"] == "pkg:generic/iris-model"
    props = {p["name"]: p["value"] for p in model["properties"]}
    assert props["mlgate:mlflow:status"] == "ok"


def test_bom_command_mlflow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    folder = _mlflow_folder(tmp_path)
    out = tmp_path / "bom.json"
    assert main(["bom", str(folder), "--mlflow-model", "iris", "--mlflow-version", "7",
                 "--mlflow-uri", "https://mlflow.example.com", "-o", str(out)]) == 0
    assert _model(json.loads(out.read_text()))["purl"].startswith("pkg:mlflow/iris@7?")
    assert main(["bom", str(folder), "--mlflow-model", "iris"]) == 2  # no version
    assert main(["bom", str(folder), "--mlflow-version", "7"]) == 2  # no name
    assert main(["bom", str(folder), "--mlflow-model", "iris", "--mlflow-version", "7",
                 "--hf-repo", "a/b"]) == 2


def test_bad_mlmodel_is_explicit_and_bom_still_builds(tmp_path: Path) -> None:
    folder = _mlflow_folder(tmp_path, mlmodel="flavors: [unclosed\n")
    mm = load_mlmodel(folder)
    assert mm.status == "invalid"
    assert "not valid YAML" in mm.error
    props = {p["name"]: p["value"] for p in
             _model(json.loads(build_bom(folder, environ=FIXED)))["properties"]}
    assert props["mlgate:mlflow:status"] == "invalid"


def test_mlmodel_alias_bomb_is_refused() -> None:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    prev = "a"
    for i in range(12):
        lines.append(f"l{i}: &l{i} [" + ",".join([f"*{prev}"] * 10) + "]")
        prev = f"l{i}"
    with pytest.raises(ValueError, match="alias bomb"):
        parse_mlmodel("\n".join(lines) + "\n")


def test_mlmodel_symlink_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text(MLMODEL)
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "MLmodel").symlink_to(outside)
    mm = load_mlmodel(folder)
    assert mm.status == "invalid"
    assert "symlink" in mm.error


def test_mlmodel_hostile_values_are_dropped() -> None:
    mm = parse_mlmodel("flavors:\n  sklearn: {sklearn_version: '1.0; rm -rf /'}\n"
                       "run_id: '../../etc'\nsignature: {inputs: '[not json'}\n")
    assert mm.frameworks == (("scikit-learn", None),)
    assert mm.run_id == ""
    assert mm.inputs == ("unparsable signature",)


# --- pyproject.toml ----------------------------------------------------------------------

PYPROJECT = """\
[project]
name = "my-model"
dependencies = [
  "torch>=2.1",
  "transformers==4.46.0",
  "sentencepiece ; python_version < '3.13'",
  "private-lib @ git+https://token123@git.example.com/lib.git",
]
"""


def test_pyproject_dependencies_become_libraries(example_model: Path) -> None:
    (example_model / "pyproject.toml").write_text(PYPROJECT)
    doc = json.loads(build_bom(example_model, environ=FIXED))
    libs = {c["name"]: c for c in doc["components"] if c["type"] == "library"}
    assert libs["torch"]["purl"] == "pkg:pypi/torch"
    assert libs["sentencepiece"]["purl"] == "pkg:pypi/sentencepiece"
    assert libs["transformers"]["purl"] == "pkg:pypi/transformers@4.46.0"
    assert libs["numpy"]["purl"] == "pkg:pypi/numpy"  # requirements.txt still read
    assert "private-lib" in libs
    assert "token123" not in json.dumps(doc)
    props = {p["name"]: p["value"] for p in _model(doc)["properties"]}
    assert props["mlgate:pyproject:status"] == "ok"


def test_invalid_pyproject_is_explicit(example_model: Path) -> None:
    (example_model / "pyproject.toml").write_text("[project\ndependencies = 1\n")
    deps = read_pyproject(example_model)
    assert deps.status == "invalid"
    assert "not valid TOML" in deps.note
    props = {p["name"]: p["value"] for p in
             _model(json.loads(build_bom(example_model, environ=FIXED)))["properties"]}
    assert props["mlgate:pyproject:status"].startswith("invalid: ")


def test_pyproject_without_toml_parser_is_skipped_with_a_note(
        example_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Python 3.10 without tomli: an explicit 'skipped', never a silent empty list."""
    (example_model / "pyproject.toml").write_text(PYPROJECT)
    monkeypatch.setitem(sys.modules, "tomllib", None)  # type: ignore[arg-type]
    monkeypatch.setitem(sys.modules, "tomli", None)  # type: ignore[arg-type]
    deps = read_pyproject(example_model)
    assert deps.status == "skipped"
    assert "tomllib" in deps.note
    props = {p["name"]: p["value"] for p in
             _model(json.loads(build_bom(example_model, environ=FIXED)))["properties"]}
    assert props["mlgate:pyproject:status"].startswith("skipped: ")


# --- parallel hashing --------------------------------------------------------------------

def test_parallel_hashing_matches_hashlib_in_path_order(tmp_path: Path) -> None:
    sizes = [0, 1, 3 << 20, 17, 5 << 20, 1 << 20, 4096, (2 << 20) + 5]
    for i, size in enumerate(sizes):
        (tmp_path / f"f{i:02d}.bin").write_bytes(bytes([i]) * size)
    serial = hash_folder(tmp_path, workers=1)
    parallel = hash_folder(tmp_path, workers=4)
    assert [r.path for r in parallel] == sorted(r.path for r in parallel)
    assert parallel == serial
    for rec in parallel:
        want = hashlib.sha256((tmp_path / rec.path).read_bytes()).hexdigest()
        assert rec.sha256 == want
        assert rec.size == (tmp_path / rec.path).stat().st_size


@pytest.mark.parametrize("uri", ["https://user:S3CRET@host:99999999/", "https://user:S3CRET@host:abc/",
                                 "ftp://host/?access_token=S3CRET"])
def test_mlflow_uri_with_credentials_never_echoed_in_errors(
        uri: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # credential-leak attack: a bad tracking URI must be a usage error that hides the token
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "a.txt").write_text("x", encoding="utf-8")
    rc = main(["bom", str(tmp_path / "m"), "--mlflow-model", "x", "--mlflow-version", "1",
               "--mlflow-uri", uri, "-o", str(tmp_path / "bom.json")])
    assert rc == 2
    err = capsys.readouterr().err
    assert "S3CRET" not in err and "internal error" not in err


def test_xml_bom_of_a_non_utf8_file_name(tmp_path: Path) -> None:
    # regression: a file name that is not UTF-8 crashed the XML BOM (lone surrogate)
    import os

    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    Path(os.fsdecode(os.fsencode(str(tmp_path)) + b"/v\xfe.txt")).write_bytes(b"x")
    xml_text = build_bom(tmp_path, fmt="cyclonedx-xml")
    assert "v\\udcfe.txt" in xml_text
    ET.fromstring(xml_text)
