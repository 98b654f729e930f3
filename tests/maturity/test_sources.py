"""Source references, environment overrides, rate-limit header arithmetic, the CLI edges."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from mlgate.cli import main
from mlgate.core.errors import UsageError
from mlgate.core.policy import load_preset
from mlgate.maturity.base import parse_source
from mlgate.maturity.http import is_rate_limited, rate_limit_wait, reset_text


@pytest.mark.parametrize(("text", "kind", "path", "repo_type"), [
    ("github:pytorch/pytorch", "github", "pytorch/pytorch", ""),
    ("https://github.com/pytorch/pytorch/tree/main/torch", "github", "pytorch/pytorch", ""),
    ("https://github.com/pytorch/pytorch.git", "github", "pytorch/pytorch", ""),
    ("gitlab:group/sub/project", "gitlab", "group/sub/project", ""),
    ("https://gitlab.com/group/project/-/blob/main/README.md", "gitlab", "group/project", ""),
    ("hf:google-bert/bert-base-uncased", "huggingface", "google-bert/bert-base-uncased", "model"),
    ("hf:gpt2", "huggingface", "gpt2", "model"),
    ("hf:datasets/allenai/c4", "huggingface", "allenai/c4", "dataset"),
    ("https://huggingface.co/datasets/allenai/c4/tree/main/en", "huggingface", "allenai/c4", "dataset"),
    ("https://huggingface.co/meta-llama/Llama-3.1-8B", "huggingface", "meta-llama/Llama-3.1-8B", "model"),
])
def test_parse_source(text: str, kind: str, path: str, repo_type: str) -> None:
    ref = parse_source(text, {})
    assert (ref.kind, ref.path, ref.repo_type) == (kind, path, repo_type)


@pytest.mark.parametrize("text", [
    "", "github:onlyowner", "github:a/b/c", "gitlab:project", "https://example.com/a/b", "hf:a/b/c/../d",
    "hf:spaces/a/b", "github:../etc", "x" * 600, "ftp://github.com/a/b",
])
def test_bad_source_is_usage_error(text: str) -> None:
    with pytest.raises(UsageError):
        parse_source(text, {})


def test_api_urls_from_environment() -> None:
    env = {"GITHUB_API_URL": "https://ghe.example.com/api/v3/", "CI_API_V4_URL": "https://git.example.com/api/v4",
           "HF_ENDPOINT": "https://hf-mirror.example.com"}
    assert parse_source("github:a/b", env).api_url == "https://ghe.example.com/api/v3"
    assert parse_source("gitlab:g/p", env).api_url == "https://git.example.com"
    assert parse_source("https://git.example.com/g/p", env).ref == "gitlab:g/p"
    assert parse_source("https://hf-mirror.example.com/org/m", env).ref == "hf:org/m"
    assert parse_source("gitlab:g/p", {"CI_SERVER_URL": "https://gl.corp"}).api_url == "https://gl.corp"
    assert parse_source("gitlab:g/p", {}).api_url == "https://gitlab.com"


def test_rate_limit_headers() -> None:
    now = 1_000_000.0
    assert rate_limit_wait({"Retry-After": "7"}, now) == 7
    assert rate_limit_wait({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(now) + 90)}, now) == 90
    assert rate_limit_wait({"X-RateLimit-Remaining": "12", "X-RateLimit-Reset": "1"}, now) is None
    assert rate_limit_wait({"retry-after": "soon"}, now) is None
    assert is_rate_limited(403, {"X-RateLimit-Remaining": "0"})
    assert not is_rate_limited(403, {"X-RateLimit-Remaining": "5"})
    assert is_rate_limited(429, {})
    text = reset_text({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()) + 600)})
    assert text.startswith(" (resets at ") and "in 10 min" in text


def test_presets_fail_archived_and_differ_on_errors() -> None:
    for name in ("permissive", "commercial-safe", "research"):
        mp = load_preset(name).maturity
        assert not mp.thresholds_for("github", "github:a/b").allow_archived
    assert load_preset("commercial-safe").maturity.on_error == "fail"
    assert load_preset("research").maturity.on_error == "warn"
    cs = load_preset("commercial-safe").maturity
    assert cs.thresholds_for("huggingface", "hf:a/b").max_days_since_commit is None
    assert cs.thresholds_for("github", "github:a/b").max_days_since_commit == 730


def test_cli_without_sources_is_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["maturity"]) == 2
    assert "no sources" in capsys.readouterr().err
    assert main(["maturity", "github:only-owner"]) == 2


def test_cli_offline_writes_json_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "maturity.json"
    rc = main(["maturity", "github:a/b", "hf:datasets/x/y", "--offline", "--format", "json",
               "--output", str(out)])
    assert rc == 1
    data = json.loads(out.read_text())
    assert data["kind"] == "maturity" and data["complete"] is False
    assert [s["status"] for s in data["evidence"]["sources"]] == ["offline", "offline"]
    assert main(["maturity", "github:a/b", "--offline", "--policy", "research"]) == 0


def test_bad_policy_field_is_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pol = tmp_path / "mlgate.yml"
    pol.write_text("version: 1\nmaturity:\n  min_stars: lots\n", encoding="utf-8")
    assert main(["maturity", "github:a/b", "--offline", "--policy", str(pol)]) == 2
    assert "maturity.min_stars" in capsys.readouterr().err


def test_deeply_nested_card_front_matter_names_no_source(tmp_path: Path) -> None:
    # YAML nesting attack: a card nested 20000 levels deep is ignored, never a RecursionError
    from mlgate.maturity.check import read_front_matter, sources_from_model_card

    depth = 20_000
    text = "---\nbase_model: org/name\nx: " + "[" * depth + "]" * depth + "\n---\n"
    (tmp_path / "README.md").write_text(text, encoding="utf-8")
    assert read_front_matter(text) == {}
    assert sources_from_model_card(tmp_path) == []
