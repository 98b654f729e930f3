"""The published JSON Schema of mlgate.yml, the presets against it, and malformed policy files."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from mlgate.cli import main
from mlgate.core.policy import json_schema, preset_names, presets_dir

DOCS_SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "policy.schema.json"


def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(json_schema())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_published_schema_is_up_to_date() -> None:
    assert DOCS_SCHEMA.read_text(encoding="utf-8") == json_schema(), (
        "docs/policy.schema.json is stale: regenerate it with "
        "`mlgate policy schema > docs/policy.schema.json`"
    )


def test_policy_schema_command_prints_the_published_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "schema"]) == 0
    assert capsys.readouterr().out == DOCS_SCHEMA.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["permissive", "commercial-safe", "research"])
def test_every_preset_validates_against_the_schema(name: str) -> None:
    assert name in preset_names()
    data = yaml.safe_load((presets_dir() / f"{name}.yml").read_text(encoding="utf-8"))
    errors = sorted(_validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    assert errors == [], [f"{list(e.absolute_path)}: {e.message}" for e in errors]


def test_schema_rejects_what_the_loader_rejects() -> None:
    v = _validator()
    assert not v.is_valid({"license": {"unknown": "maybe"}})
    assert not v.is_valid({"maturity": {"min_stars": "many"}})
    assert not v.is_valid({"licence": {}})  # a typo of a section is an unknown field
    assert v.is_valid({"version": 1, "extends": "research", "license": {"allow": ["MIT"]}})


def _bad(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "mlgate.yml"
    p.write_text(text, encoding="utf-8")
    (tmp_path / "model").mkdir(exist_ok=True)
    (tmp_path / "model" / "README.md").write_text("---\nlicense: mit\n---\n", encoding="utf-8")
    return p


def _run(tmp_path: Path, policy: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["license", str(tmp_path / "model"), "--policy", policy])
    return code, capsys.readouterr().err


def test_invalid_yaml_is_exit_2_with_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _bad(tmp_path, "version: 1\nlicense:\n  allow: [MIT, Apache-2.0\n  unknown: warn\n")
    code, err = _run(tmp_path, str(bad), capsys)
    assert code == 2
    assert "not valid YAML" in err and "line 4" in err and "mlgate.yml" in err
    assert "Traceback" not in err


def test_wrong_type_is_exit_2_naming_line_and_field(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    bad = _bad(tmp_path, "version: 1\nlicense:\n  allow: [MIT]\n  unknown: sometimes\n")
    code, err = _run(tmp_path, str(bad), capsys)
    assert code == 2
    assert "line 4" in err and "license.unknown" in err


def test_wrong_type_deep_in_maturity_names_line_and_field(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    bad = _bad(tmp_path, "maturity:\n  overrides:\n    github:\n      min_stars: lots\n")
    code, err = _run(tmp_path, str(bad), capsys)
    assert code == 2
    assert "line 4" in err and "maturity.overrides.github.min_stars" in err


def test_unknown_field_is_exit_2_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _bad(tmp_path, "version: 1\nlicense:\n  allow: [MIT]\n  alow: [GPL-3.0-only]\n")
    code, err = _run(tmp_path, str(bad), capsys)
    assert code == 2
    assert "line 4" in err and "license.alow" in err


def test_unknown_preset_name_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _bad(tmp_path, "")
    code, err = _run(tmp_path, "commercial-unsafe", capsys)
    assert code == 2
    assert "commercial-unsafe" in err and "commercial-safe" in err  # the hint lists presets


def test_unknown_preset_in_extends_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _bad(tmp_path, "version: 1\nextends: strict\n")
    code, err = _run(tmp_path, str(bad), capsys)
    assert code == 2
    assert "strict" in err and "preset" in err
