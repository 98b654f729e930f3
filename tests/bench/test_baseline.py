"""Baselines: round trip, directory layout keyed by device, trusted-run guard."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from mlgate.bench.baseline import (
    BenchResults,
    load_baseline,
    read_results,
    results_from_runs,
    save_baseline,
    untrusted_context,
)
from mlgate.bench.device import probe_device
from mlgate.bench.runner import run_benchmark
from mlgate.core.errors import InputError, UsageError


def make_results(name: str = "mlp", fail: bool = False) -> BenchResults:
    vals = iter([1.0, 1.1, 0.9, 1.05, 0.95, 1.0])
    rs = run_benchmark(lambda: {"latency_ms": next(vals)}, runs=5, warmup=1)
    res = results_from_runs(name, rs, probe_device({}), {"latency_ms": "lower"}, {"latency_ms": "ms"},
                            environ={"GITHUB_SHA": "abc123"})
    return replace(res, failed_runs=1) if fail else res


def test_round_trip_file(tmp_path: Path) -> None:
    res = make_results()
    path = save_baseline(tmp_path / "base.json", res, {})
    assert path == tmp_path / "base.json"
    back = read_results(path)
    assert back.to_json() == res.to_json()
    assert back.commit == "abc123"
    assert back.metrics["latency_ms"].samples == (1.1, 0.9, 1.05, 0.95, 1.0)
    assert back.metrics["latency_ms"].unit == "ms"


def test_directory_is_keyed_by_name_and_device(tmp_path: Path) -> None:
    res = make_results("my model/v2")
    path = save_baseline(tmp_path, res, {})
    assert path.parent == tmp_path
    assert path.name == f"my_model_v2-{res.device.fingerprint}.json"
    assert load_baseline(tmp_path, "my model/v2", res.device.fingerprint) is not None
    # another device class: the stored one comes back so the gate can say "not comparable"
    other = load_baseline(tmp_path, "my model/v2", "0" * 16)
    assert other is not None and other.device.fingerprint == res.device.fingerprint
    assert load_baseline(tmp_path, "unknown", res.device.fingerprint) is None
    assert load_baseline(tmp_path / "missing.json", "x", "y") is None


@pytest.mark.parametrize("env", [
    {"GITHUB_EVENT_NAME": "pull_request"},
    {"GITHUB_EVENT_NAME": "pull_request_target"},
    {"CI_MERGE_REQUEST_IID": "42"},
    {"CI_PIPELINE_SOURCE": "merge_request_event"},
])
def test_refuses_update_from_pull_requests(tmp_path: Path, env: dict[str, str]) -> None:
    with pytest.raises(UsageError, match="untrusted"):
        save_baseline(tmp_path / "b.json", make_results(), env)
    assert not (tmp_path / "b.json").exists()


def test_refuses_baseline_with_failed_runs(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="failed run"):
        save_baseline(tmp_path / "b.json", make_results(fail=True), {})


@pytest.mark.parametrize("content", [
    "{", "[]", '{"mlgate_bench_results": 99}',
    '{"mlgate_bench_results": 1, "name": "x", "metrics": {"m": {"samples": ["a"]}}}',
    '{"mlgate_bench_results": 1, "metrics": {}}',
])
def test_malformed_results_are_input_errors(tmp_path: Path, content: str) -> None:
    p = tmp_path / "r.json"
    p.write_text(content)
    with pytest.raises(InputError):
        read_results(p)


def test_results_json_is_plain_json(tmp_path: Path) -> None:
    data = json.loads(make_results().dumps())
    assert data["mlgate_bench_results"] == 1
    assert data["runs"][0]["warmup"] is True


def _event(tmp_path: Path, payload: dict[str, object]) -> str:
    p = tmp_path / "event.json"
    p.write_text(json.dumps(payload))
    return str(p)


def test_github_push_to_default_branch_is_trusted(tmp_path: Path) -> None:
    env = {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/heads/trunk",
           "GITHUB_EVENT_PATH": _event(tmp_path, {"ref": "refs/heads/trunk",
                                                  "repository": {"default_branch": "trunk"}})}
    assert untrusted_context(env) is None
    assert save_baseline(tmp_path / "b.json", make_results(), env).is_file()


@pytest.mark.parametrize("env_extra,why", [
    ({"GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/heads/feature"}, "not the default branch"),
    ({"GITHUB_EVENT_NAME": "pull_request_target", "GITHUB_REF": "refs/heads/trunk"}, "pull_request"),
    ({"GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/tags/v1"}, "not the default branch"),
])
def test_github_untrusted_refs(tmp_path: Path, env_extra: dict[str, str], why: str) -> None:
    env = {"GITHUB_ACTIONS": "true",
           "GITHUB_EVENT_PATH": _event(tmp_path, {"repository": {"default_branch": "trunk"}}),
           **env_extra}
    reason = untrusted_context(env)
    assert reason is not None and why in reason


def test_github_without_payload_fails_closed() -> None:
    reason = untrusted_context({"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "push",
                                "GITHUB_REF": "refs/heads/main"})
    assert reason is not None and "default branch" in reason


@pytest.mark.parametrize("env,trusted", [
    ({"GITLAB_CI": "true", "CI_COMMIT_BRANCH": "main", "CI_DEFAULT_BRANCH": "main",
      "CI_PIPELINE_SOURCE": "push"}, True),
    ({"GITLAB_CI": "true", "CI_COMMIT_BRANCH": "feature", "CI_DEFAULT_BRANCH": "main"}, False),
    ({"GITLAB_CI": "true", "CI_COMMIT_REF_NAME": "v1.0", "CI_DEFAULT_BRANCH": "main"}, False),
    ({"GITLAB_CI": "true", "CI_COMMIT_BRANCH": "main"}, False),
    ({"CI": "true"}, False),
    ({}, True),
])
def test_gitlab_and_other_ci(env: dict[str, str], trusted: bool) -> None:
    assert (untrusted_context(env) is None) is trusted
