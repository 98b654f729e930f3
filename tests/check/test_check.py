"""`mlgate check` end to end on the example model (offline, no token)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlgate.check.run import maturity_sources, parse_shard
from mlgate.cli import main
from mlgate.core.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "fixtures" / "example-model"


def test_readme_first_command_promotes_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for var in ("GITHUB_TOKEN", "GITLAB_TOKEN", "HF_TOKEN", "GITHUB_ACTIONS", "GITLAB_CI"):
        monkeypatch.delenv(var, raising=False)
    rc = main(["check", str(EXAMPLE)])
    out = tmp_path / "mlgate-out"
    check = json.loads((out / "check.json").read_text(encoding="utf-8"))
    assert check["outcome"] == "promote", check["reasons"]
    assert rc == 0


def test_every_file_is_written_and_maturity_skip_is_explicit(tmp_path: Path) -> None:
    out = tmp_path / "o"
    main(["check", str(EXAMPLE), "--out-dir", str(out), "--offline"])
    for name in ("scan.json", "bom.cdx.json", "license.json", "decision.json", "summary.md",
                 "decision-record.intoto.json", "report.sarif", "check.json"):
        assert (out / name).is_file(), name
    steps = {s["step"]: s for s in json.loads((out / "check.json").read_text("utf-8"))["steps"]}
    assert steps["maturity"]["status"] == "skipped" and "offline" in steps["maturity"]["detail"]
    # the BOM reuses the scan's hashes: the same sha256 for the weights in both
    scan = json.loads((out / "scan.json").read_text("utf-8"))
    bom = (out / "bom.cdx.json").read_text("utf-8")
    digest = next(f["sha256"] for f in scan["files"] if f["path"] == "model.safetensors")
    assert digest in bom


def test_missing_path_is_usage_error(tmp_path: Path) -> None:
    assert main(["check", str(tmp_path / "nope"), "--out-dir", str(tmp_path / "o")]) == 2


def test_pickle_with_os_system_is_rejected_or_held(tmp_path: Path) -> None:
    import pickle

    class Boom:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            import os

            return (os.system, ("true",))

    model = tmp_path / "m"
    model.mkdir()
    (model / "model.pkl").write_bytes(pickle.dumps(Boom()))
    rc = main(["check", str(model), "--out-dir", str(tmp_path / "o"), "--no-maturity"])
    assert rc == 1
    decision = json.loads((tmp_path / "o" / "check.json").read_text("utf-8"))["outcome"]
    assert decision in ("hold", "reject")


@pytest.mark.parametrize("text", ["0/2", "3/2", "a/b", "1"])
def test_bad_shard(text: str) -> None:
    with pytest.raises(UsageError):
        parse_shard(text)


def test_sources_from_the_model_card() -> None:
    assert maturity_sources(EXAMPLE) == [
        "hf:mlgate-examples/tiny-bert-base",
        "hf:datasets/mlgate-examples/tiny-reviews",
    ]


def test_a_symlinked_card_names_no_source(tmp_path: Path) -> None:
    outside = tmp_path / "outside.md"
    outside.write_text("---\nbase_model: evil/model\n---\n", encoding="utf-8")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "README.md").symlink_to(outside)
    assert maturity_sources(tmp_path / "m") == []


def test_sources_from_a_hostile_card(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("---\n- [unclosed\n---\n", encoding="utf-8")
    assert maturity_sources(tmp_path) == []
    (tmp_path / "README.md").write_bytes(b"---\n" + b"a" * (2 << 20))
    assert maturity_sources(tmp_path) == []


def test_sources_from_a_card_with_alias_bomb_or_deep_nesting(tmp_path: Path) -> None:
    # YAML nesting attack and billion-laughs alias bomb in the card front matter
    depth = 20_000
    (tmp_path / "README.md").write_text(
        "---\nbase_model: a/b\nx: " + "[" * depth + "]" * depth + "\n---\n", encoding="utf-8")
    assert maturity_sources(tmp_path) == []
    bomb = "---\nbase_model: a/b\na: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 9):
        bomb += f"{chr(97 + i)}: &{chr(97 + i)} [" + ", ".join([f"*{chr(96 + i)}"] * 10) + "]\n"
    (tmp_path / "README.md").write_text(bomb + "---\n", encoding="utf-8")
    assert maturity_sources(tmp_path) == []


def test_check_bom_counts_for_a_stage_that_requires_it(tmp_path: Path) -> None:
    # regression: the bom step ran but decide saw no bom report, so staging always held
    out = tmp_path / "o"
    rc = main(["check", str(EXAMPLE), "--out-dir", str(out), "--stage", "staging"])
    decision = json.loads((out / "decision.json").read_text(encoding="utf-8"))
    assert "bom" in [i["kind"] for i in decision["inputs"]]
    assert decision["decision"] == "promote", decision["reasons"]
    assert rc == 0


def test_check_non_utf8_folder_name_writes_every_file(tmp_path: Path) -> None:
    # regression: a folder name that is not UTF-8 crashed writing bom.cdx.json / the digests
    import os
    import shutil

    model = Path(os.fsdecode(os.fsencode(str(tmp_path)) + b"/bad\xff"))
    shutil.copytree(EXAMPLE, model)
    out = tmp_path / "o"
    rc = main(["check", str(model), "--out-dir", str(out)])
    assert rc in (0, 1)
    for name in ("bom.cdx.json", "decision.json", "decision-record.intoto.json", "check.json"):
        json.loads((out / name).read_text(encoding="utf-8"))  # valid UTF-8 JSON
    assert "bad\udcff" in json.loads((out / "check.json").read_text(encoding="utf-8"))["target"]
    assert not list(out.glob("*.tmp"))


def _bench_results(tmp_path: Path, name: str, samples: list[float]) -> Path:
    import sys

    out = tmp_path / f"{name}.json"
    code = f"import json; print(json.dumps({{'latency_ms': {samples!r}}}))"
    assert main(["bench", "run", "--repeat", "1", "--warmup", "0", "--name", "tiny",
                 "--better", "latency_ms=lower", "--output", str(out), "--",
                 sys.executable, "-c", code]) == 0
    return out


def test_check_gates_bench_results_against_the_policy_baseline(
        tmp_path: Path, example_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLGATE_BENCH_TORCH_PROBE", "0")
    policy = tmp_path / "mlgate.yml"
    policy.write_text(
        "extends: commercial-safe\n"
        f"bench:\n  baseline: {tmp_path / 'baselines'}/\n"
        "  metrics:\n    latency_ms: {better: lower, unit: ms}\n", encoding="utf-8")
    steady = [10.0, 10.1, 9.9, 10.0, 10.2, 9.8, 10.1, 10.0, 9.9, 10.0, 10.1, 9.9]
    # no results given: the step says why it did not run
    out0 = tmp_path / "o0"
    assert main(["check", str(example_model), "--policy", str(policy), "--out-dir", str(out0),
                 "--format", "json", "-o", str(tmp_path / "c0.json")]) == 0
    steps0 = {s["step"]: s for s in json.loads((tmp_path / "c0.json").read_text())["steps"]}
    assert steps0["bench"]["status"] == "skipped" and "--bench-results" in steps0["bench"]["detail"]
    # results but no baseline yet: the bench step runs and its "no baseline" finding holds
    first = _bench_results(tmp_path, "first", steady)
    out1 = tmp_path / "o1"
    assert main(["check", str(example_model), "--policy", str(policy), "--out-dir", str(out1),
                 "--bench-results", str(first)]) == 1
    bench1 = json.loads((out1 / "bench.json").read_text())
    assert {f["rule_id"] for f in bench1["findings"]} == {"MLG-BENCH-006"}
    # a stored baseline and a candidate 40 % slower: the regression rejects or holds
    assert main(["bench", "baseline", "update", str(first), "--policy", str(policy)]) == 0
    slow = _bench_results(tmp_path, "slow", [x * 1.4 for x in steady])
    out2 = tmp_path / "o2"
    assert main(["check", str(example_model), "--policy", str(policy), "--out-dir", str(out2),
                 "--bench-results", str(slow)]) == 1
    bench2 = json.loads((out2 / "bench.json").read_text())
    assert "MLG-BENCH-001" in {f["rule_id"] for f in bench2["findings"]}
    # the same numbers as the baseline pass, and the decision includes the bench report
    same = _bench_results(tmp_path, "same", steady)
    out3 = tmp_path / "o3"
    assert main(["check", str(example_model), "--policy", str(policy), "--out-dir", str(out3),
                 "--bench-results", str(same)]) == 0
    kinds = {i["kind"] for i in json.loads((out3 / "decision.json").read_text())["inputs"]}
    assert "bench" in kinds


def test_check_includes_reports_from_other_jobs(tmp_path: Path, example_model: Path) -> None:
    from mlgate.core.findings import Finding, Report, Severity

    other = Report(kind="maturity", target="hf:acme/tiny", findings=(
        Finding("MLG-MAT-001", Severity.HIGH, "Source is archived", "acme/tiny is archived"),))
    path = tmp_path / "maturity.json"
    path.write_text(other.dumps(), encoding="utf-8")
    out = tmp_path / "o"
    assert main(["check", str(example_model), "--out-dir", str(out), "--report", str(path)]) == 1
    decision = json.loads((out / "decision.json").read_text())
    assert any("MLG-MAT-001" in r["text"] for r in decision["reasons"])
