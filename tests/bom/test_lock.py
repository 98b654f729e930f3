"""`mlgate lock` / `mlgate verify`: a lock pins every byte; verify catches each difference."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlgate.bom.lock import lock_folder, parse_lock, read_lock, verify_lock
from mlgate.cli import main
from mlgate.core.errors import InputError, UsageError


def _locked(model: Path, tmp_path: Path) -> Path:
    lockfile = tmp_path / "mlgate.lock"
    lockfile.write_text(lock_folder(model).to_text())
    return lockfile


def _rules(report: object) -> list[str]:
    return sorted(f.rule_id for f in report.findings)  # type: ignore[attr-defined]


def test_identical_folder_verifies_clean(example_model: Path, tmp_path: Path) -> None:
    report = verify_lock(example_model, _locked(example_model, tmp_path))
    assert report.kind == "verify"
    assert report.findings == ()
    assert report.evidence["identical"] is True


def test_lock_is_location_independent(example_model: Path, tmp_path: Path) -> None:
    lockfile = _locked(example_model, tmp_path)
    copy = tmp_path / "elsewhere" / "model"
    shutil.copytree(example_model, copy)
    assert verify_lock(copy, lockfile).findings == ()
    assert str(example_model) not in lockfile.read_text()


def test_flipped_byte_is_changed(example_model: Path, tmp_path: Path) -> None:
    lockfile = _locked(example_model, tmp_path)
    weights = example_model / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[5000] ^= 0x01
    weights.write_bytes(bytes(data))
    report = verify_lock(example_model, lockfile)
    assert _rules(report) == ["MLG-BOM-002"]
    assert report.findings[0].location.path == "model.safetensors"  # type: ignore[union-attr]


def test_renamed_file(example_model: Path, tmp_path: Path) -> None:
    lockfile = _locked(example_model, tmp_path)
    (example_model / "vocab.txt").rename(example_model / "vocab2.txt")
    report = verify_lock(example_model, lockfile)
    assert _rules(report) == ["MLG-BOM-004"]
    assert report.findings[0].properties == {"from": "vocab.txt", "to": "vocab2.txt"}


def test_added_file(example_model: Path, tmp_path: Path) -> None:
    lockfile = _locked(example_model, tmp_path)
    (example_model / "extra.pkl").write_bytes(b"\x80\x04N.")
    assert _rules(verify_lock(example_model, lockfile)) == ["MLG-BOM-003"]


def test_removed_file(example_model: Path, tmp_path: Path) -> None:
    lockfile = _locked(example_model, tmp_path)
    (example_model / "config.json").unlink()
    assert _rules(verify_lock(example_model, lockfile)) == ["MLG-BOM-001"]


def test_symlink_swapped_in_is_unverifiable(example_model: Path, tmp_path: Path) -> None:
    lockfile = _locked(example_model, tmp_path)
    outside = tmp_path / "outside.json"
    outside.write_bytes((example_model / "config.json").read_bytes())
    (example_model / "config.json").unlink()
    (example_model / "config.json").symlink_to(outside)
    assert _rules(verify_lock(example_model, lockfile)) == ["MLG-BOM-005"]


def test_lock_inside_folder_is_ignored(example_model: Path) -> None:
    (example_model / "mlgate.lock").write_text(lock_folder(example_model).to_text())
    assert verify_lock(example_model, example_model / "mlgate.lock").findings == ()


def test_lock_refuses_unreadable_entries(example_model: Path, tmp_path: Path) -> None:
    (example_model / "dangling").symlink_to(tmp_path / "missing")
    with pytest.raises(UsageError, match="cannot lock"):
        lock_folder(example_model)


def test_lock_text_is_stable_and_one_file_per_line(example_model: Path) -> None:
    a = lock_folder(example_model).to_text()
    assert a == lock_folder(example_model).to_text()
    data = json.loads(a)
    assert data["mlgate_lock"] == 1
    assert [f["path"] for f in data["files"]] == sorted(f["path"] for f in data["files"])
    assert sum('"path"' in line for line in a.splitlines()) == len(data["files"])


@pytest.mark.parametrize("text, message", [
    ("not json", "not valid JSON"),
    ('{"mlgate_lock": 2, "source": {"type": "local"}, "files": []}', "not an mlgate lockfile"),
    ('{"mlgate_lock": 1, "source": {"type": "local"}, "files": [{"path": "../x", "size": 1,'
     ' "sha256": "' + "a" * 64 + '"}]}', "relative POSIX path"),
    ('{"mlgate_lock": 1, "source": {"type": "local"}, "files": [{"path": "/etc/passwd",'
     ' "size": 1, "sha256": "' + "a" * 64 + '"}]}', "relative POSIX path"),
    ('{"mlgate_lock": 1, "source": {"type": "local"}, "files": [{"path": "x", "size": -1,'
     ' "sha256": "' + "a" * 64 + '"}]}', "non-negative"),
    ('{"mlgate_lock": 1, "source": {"type": "local"}, "files": [{"path": "x", "size": 1,'
     ' "sha256": "zz"}]}', "64 lower-case hex"),
    ('{"mlgate_lock": 1, "source": {"type": "huggingface", "repo": "a/b", "revision": "main"},'
     ' "files": []}', "40-hex commit"),
])
def test_malformed_locks_are_input_errors(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_lock(text)


def test_missing_lockfile_is_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        read_lock(tmp_path / "nope.lock")


def test_cli_lock_then_verify_exit_codes(example_model: Path, tmp_path: Path) -> None:
    lockfile = tmp_path / "m.lock"
    assert main(["lock", str(example_model), "--output", str(lockfile)]) == 0
    assert main(["verify", str(example_model), "--lock", str(lockfile)]) == 0
    (example_model / "vocab.txt").write_text("tampered")
    out = tmp_path / "verify.json"
    assert main(["verify", str(example_model), "--lock", str(lockfile), "--format", "json",
                 "--output", str(out)]) == 1
    data = json.loads(out.read_text())
    assert data["kind"] == "verify"
    assert [f["rule_id"] for f in data["findings"]] == ["MLG-BOM-002"]


def test_cli_verify_without_lock_is_usage_error(example_model: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["verify", str(example_model)]) == 2


def test_deeply_nested_lockfile_is_an_input_error(tmp_path: Path) -> None:
    # JSON nesting attack on mlgate.lock (a pull request can change it): RecursionError
    lock = tmp_path / "mlgate.lock"
    lock.write_text('{"mlgate_lock": ' + "[" * 100_000 + "]" * 100_000 + "}", encoding="utf-8")
    with pytest.raises(InputError, match="not valid JSON"):
        read_lock(lock)


def test_verify_refuses_a_fifo_lockfile_and_deep_json(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    # regression: a FIFO lockfile blocked forever; a 10k-deep JSON lock was an internal error
    import os

    fifo = tmp_path / "fifo.lock"
    os.mkfifo(fifo)
    deep = tmp_path / "deep.lock"
    deep.write_text("[" * 10000 + "]" * 10000, encoding="utf-8")
    model = tmp_path / "m"
    model.mkdir()
    (model / "a.txt").write_text("a", encoding="utf-8")
    assert main(["verify", str(model), "--lock", str(fifo)]) == 2
    assert main(["verify", str(model), "--lock", str(deep)]) == 2
    err = capsys.readouterr().err
    assert "not a regular file" in err and "internal error" not in err
