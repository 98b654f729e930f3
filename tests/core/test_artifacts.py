from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from mlgate.core.artifacts import (
    ArtifactKind,
    Format,
    parse_shard,
    select_shard,
    sha256_file,
    sniff,
    walk,
)
from mlgate.core.errors import UsageError


def test_walk_lists_files_sorted_with_posix_paths(tmp_path: Path) -> None:
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text("{}")
    (tmp_path / "b.bin").write_bytes(b"x")
    rels = [a.rel for a in walk(tmp_path)]
    assert rels == ["1_Pooling/config.json", "b.bin"]


def test_symlink_outside_root_is_reported_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    root = tmp_path / "model"
    root.mkdir()
    (root / "weights.bin").symlink_to(outside)
    (root / "dangling").symlink_to(root / "nope")
    kinds = {a.rel: a.kind for a in walk(root)}
    assert kinds["weights.bin"] is ArtifactKind.SYMLINK_OUTSIDE
    assert kinds["dangling"] is ArtifactKind.SYMLINK_BROKEN


def test_symlink_inside_root_is_read_and_dir_links_not_descended(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "w.bin").write_bytes(b"abc")
    (tmp_path / "alias.bin").symlink_to(tmp_path / "real" / "w.bin")
    (tmp_path / "loop").symlink_to(tmp_path)  # a link to the root itself: no loop
    arts = {a.rel: a for a in walk(tmp_path)}
    assert set(arts) == {"alias.bin", "real/w.bin"}
    assert arts["alias.bin"].readable and arts["alias.bin"].size == 3


def test_fifo_is_special_and_never_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.bin")
    (art,) = walk(tmp_path)
    assert art.kind is ArtifactKind.SPECIAL
    assert not art.readable


def test_missing_root_is_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        walk(tmp_path / "absent")


def test_sha256_matches_hashlib(tmp_path: Path) -> None:
    data = os.urandom(3 * (1 << 20) + 17)
    p = tmp_path / "f"
    p.write_bytes(data)
    assert sha256_file(p) == (hashlib.sha256(data).hexdigest(), len(data))


def test_sha256_refuses_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "t").write_bytes(b"x")
    (tmp_path / "l").symlink_to(tmp_path / "t")
    with pytest.raises(OSError):
        sha256_file(tmp_path / "l")


@pytest.mark.parametrize(
    ("head", "name", "fmt"),
    [
        (b"PK\x03\x04rest", "model.pt", Format.ZIP),
        (b"\x80\x04\x95", "model.bin", Format.PICKLE),
        (b"\x80\x02}q\x00", "weights.txt", Format.PICKLE),  # content wins over the extension
        (b"\x93NUMPY\x01\x00", "a.npy", Format.NUMPY),
        (b"\x89HDF\r\n\x1a\n", "m.h5", Format.HDF5),
        (b"GGUF\x03\x00\x00\x00", "m.gguf", Format.GGUF),
        (b"\x1f\x8b\x08", "m.pkl.gz", Format.GZIP),
        (b"7z\xbc\xaf\x27\x1c", "m.7z", Format.SEVENZ),
        (b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":1}     ", "m.safetensors", Format.SAFETENSORS),
        (b"cos\nsystem\n(S'id'\ntR.", "model.pkl", Format.PICKLE),
        (b"{\"a\": 1}", "config.json", Format.JSON),
        (b"import os\n", "x.py", Format.PYTHON),
        (b"", "empty", Format.EMPTY),
        (b"\x00\x01\x02\xff", "blob", Format.UNKNOWN),
    ],
)
def test_sniff(head: bytes, name: str, fmt: Format) -> None:
    assert sniff(head, name, size=len(head) + 100) is fmt


def test_safetensors_header_longer_than_file_is_not_safetensors() -> None:
    head = (1 << 40).to_bytes(8, "little") + b"{}"
    assert sniff(head, "m.safetensors", size=10) is not Format.SAFETENSORS


def test_shards_cover_everything_once(tmp_path: Path) -> None:
    for i in range(10):
        (tmp_path / f"f{i}").write_bytes(b"x" * (i * 100 + 1))
    arts = walk(tmp_path)
    parts = [select_shard(arts, i, 3) for i in (1, 2, 3)]
    names = sorted(a.rel for part in parts for a in part)
    assert names == sorted(a.rel for a in arts)
    sizes = [sum(a.size for a in part) for part in parts]
    assert max(sizes) - min(sizes) <= max(a.size for a in arts)


@pytest.mark.parametrize("bad", ["0/2", "3/2", "x", "1/0", "a/b"])
def test_bad_shard_is_usage_error(bad: str) -> None:
    with pytest.raises(UsageError):
        parse_shard(bad)


def test_read_json_refuses_a_fifo(tmp_path: Path) -> None:
    # regression: a FIFO handed as a report/decision/results file blocked the read forever
    from mlgate.core.errors import InputError
    from mlgate.core.jsonfile import read_json

    fifo = tmp_path / "r.json"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        read_json(fifo, what="report")


def test_require_model_path_symlink_loop_is_usage_error(tmp_path: Path) -> None:
    from mlgate.core.artifacts import require_model_path
    from mlgate.core.errors import UsageError

    os.symlink(tmp_path / "loopb", tmp_path / "loopa")
    os.symlink(tmp_path / "loopa", tmp_path / "loopb")
    os.symlink(tmp_path / "nowhere", tmp_path / "dangling")
    for link in ("loopa", "dangling"):
        with pytest.raises(UsageError, match="symlink that cannot be resolved"):
            require_model_path(tmp_path / link)
    with pytest.raises(UsageError, match="no such file or folder"):
        require_model_path(tmp_path / "absent")
    with pytest.raises(UsageError, match="cannot read"):
        require_model_path(tmp_path / "loopa" / "x")
    (tmp_path / "model").mkdir()
    os.symlink(tmp_path / "model", tmp_path / "good")
    assert require_model_path(tmp_path / "good") == tmp_path / "good"
