from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlgate.core.errors import PolicyError
from mlgate.core.policy import json_schema, load_policy, parse_policy_text, preset_names


def test_presets_exist_and_load() -> None:
    assert {"permissive", "commercial-safe", "research"} <= set(preset_names())
    for name in preset_names():
        assert load_policy(name).source == f"preset:{name}"


def test_default_is_mlgate_yml_then_commercial_safe(tmp_path: Path) -> None:
    assert load_policy(None, cwd=tmp_path).source == "preset:commercial-safe"
    (tmp_path / "mlgate.yml").write_text("scan:\n  fail_on: high\n")
    pol = load_policy(None, cwd=tmp_path)
    assert pol.scan.fail_on == "high"
    assert pol.source.endswith("mlgate.yml")


def test_invalid_yaml_names_the_line() -> None:
    with pytest.raises(PolicyError, match="line 3"):
        parse_policy_text("scan:\n  fail_on: high\n bad: : x\n")
    with pytest.raises(PolicyError, match="starts at line 2"):
        parse_policy_text("scan:\n  fail_on: [high\n")


def test_wrong_type_names_line_and_field() -> None:
    text = "version: 1\nscan:\n  max_archive_depth: deep\n"
    with pytest.raises(PolicyError) as exc:
        parse_policy_text(text, "mlgate.yml")
    assert "line 3" in exc.value.message
    assert "scan.max_archive_depth" in exc.value.message


def test_unknown_field_is_rejected() -> None:
    with pytest.raises(PolicyError, match="scna"):
        parse_policy_text("scna: {}\n")


def test_unknown_preset_is_policy_error() -> None:
    with pytest.raises(PolicyError, match="no policy file or preset"):
        load_policy("enterprise-ultra")


def test_schema_is_json_schema() -> None:
    schema = json.loads(json_schema())
    assert schema["type"] == "object"
    assert "scan" in schema["properties"]


def test_unknown_preset_in_extends_names_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "mlgate.yml"
    bad.write_text("version: 1\n\nextends: nonexistent\n", encoding="utf-8")
    with pytest.raises(PolicyError) as err:
        load_policy(str(bad))
    assert "line 3" in str(err.value) and "'extends'" in str(err.value)


def test_deeply_nested_policy_yaml_is_a_policy_error() -> None:
    # YAML nesting attack on mlgate.yml: RecursionError in PyYAML's composer
    depth = 20_000
    with pytest.raises(PolicyError, match="nested too deeply"):
        parse_policy_text("version: 1\nx: " + "[" * depth + "]" * depth + "\n")
