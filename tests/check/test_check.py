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
        "https://huggingface.co/mlgate-examples/tiny-bert-base",
        "https://huggingface.co/datasets/mlgate-examples/tiny-reviews",
    ]


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
