"""Archive tricks, one test per technique; every archive is built in code."""

from __future__ import annotations

import gzip
import io
import pickle
import struct
import tarfile
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from mlgate.core.findings import Report, Severity
from mlgate.core.policy import Policy
from mlgate.scan.engine import scan_paths
from tests.scan.test_engine import evil_pickle, make_zip


def run(path: Path) -> Report:
    return scan_paths([path], policy=Policy())


def rules(report: Report) -> set[str]:
    return {f.rule_id for f in report.findings}


def critical(report: Report) -> list[str]:
    return [f.location.path + (f"!/{f.location.member}" if f.location.member else "")
            for f in report.findings if f.severity is Severity.CRITICAL and f.location]


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return tmp_path


def _patch_both_headers(data: bytes, member: str, field: str, value: int) -> bytes:
    """Set a field (flags/method) in the local header and the central record of ``member``."""
    buf = bytearray(data)
    name = member.encode()
    lpos = buf.find(b"PK\x03\x04")
    while lpos >= 0:
        n = struct.unpack_from("<H", buf, lpos + 26)[0]
        if bytes(buf[lpos + 30: lpos + 30 + n]) == name:
            struct.pack_into("<H", buf, lpos + (6 if field == "flags" else 8), value)
        lpos = buf.find(b"PK\x03\x04", lpos + 4)
    cpos = buf.find(b"PK\x01\x02")
    while cpos >= 0:
        n = struct.unpack_from("<H", buf, cpos + 28)[0]
        if bytes(buf[cpos + 46: cpos + 46 + n]) == name:
            struct.pack_into("<H", buf, cpos + (8 if field == "flags" else 10), value)
        cpos = buf.find(b"PK\x01\x02", cpos + 4)
    return bytes(buf)


# --- zip ----------------------------------------------------------------------------------------

def test_zip_slip_member_names(tmp_path: Path) -> None:
    data = make_zip([("../../etc/cron.d/x", b"hello"), ("/abs/path.txt", b"x")])
    report = run(write(tmp_path, "a.zip", data))
    slips = [f for f in report.findings if f.rule_id == "MLG-SCAN-011"]
    assert len(slips) == 2


def test_zip_bomb_declared_ratio(tmp_path: Path) -> None:
    data = make_zip([("zeros.bin", b"\0" * (64 << 20))], zipfile.ZIP_DEFLATED)
    assert len(data) < 1 << 20
    tracemalloc.start()
    report = run(write(tmp_path, "bomb.zip", data))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert "MLG-SCAN-015" in rules(report)
    assert peak < 48 << 20


def test_gzip_bomb_is_stopped_by_budget(tmp_path: Path) -> None:
    raw = gzip.compress(b"\0" * (64 << 20), compresslevel=9)
    tracemalloc.start()
    report = run(write(tmp_path, "weights.bin.gz", raw))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert rules(report) == {"MLG-SCAN-015"}
    assert peak < 48 << 20  # decompressed in chunks, spooled, never held whole


def test_duplicate_names_every_copy_scanned(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf, pytest.warns(UserWarning):
        zf.writestr("archive/data.pkl", pickle.dumps({"ok": 1}, protocol=2))
        zf.writestr("archive/data.pkl", evil_pickle())
    report = run(write(tmp_path, "model.pt", buf.getvalue()))
    assert "MLG-SCAN-012" in rules(report)
    assert critical(report) == ["model.pt!/archive/data.pkl"]


def test_duplicate_names_malicious_first_copy(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf, pytest.warns(UserWarning):
        zf.writestr("archive/data.pkl", evil_pickle())
        zf.writestr("archive/data.pkl", pickle.dumps({"ok": 1}, protocol=2))
    report = run(write(tmp_path, "model.pt", buf.getvalue()))
    assert critical(report) == ["model.pt!/archive/data.pkl"]


def test_local_header_name_differs_from_central_directory(tmp_path: Path) -> None:
    data = make_zip([("archive/data.pkl", evil_pickle())])
    # rename in the local header only (same length): the central directory says data.pkl
    pos = data.find(b"PK\x03\x04") + 30
    data = data[:pos] + b"archive/data.pkX" + data[pos + 16:]
    report = run(write(tmp_path, "model.pt", data))
    assert "MLG-SCAN-013" in rules(report)
    assert critical(report)  # the content is still analysed


def test_encrypted_member(tmp_path: Path) -> None:
    data = _patch_both_headers(make_zip([("secret.pkl", evil_pickle())]), "secret.pkl", "flags", 1)
    report = run(write(tmp_path, "a.zip", data))
    assert "MLG-SCAN-014" in rules(report)
    assert report.at_or_above(Severity.MEDIUM)


def test_unsupported_compression_method(tmp_path: Path) -> None:
    data = _patch_both_headers(make_zip([("x.pkl", evil_pickle())]), "x.pkl", "method", 9)
    report = run(write(tmp_path, "a.zip", data))
    assert "MLG-SCAN-017" in rules(report)


def test_bad_crc_is_reported_and_content_still_scanned(tmp_path: Path) -> None:
    data = bytearray(make_zip([("archive/data.pkl", evil_pickle())], zipfile.ZIP_DEFLATED))
    cpos = data.find(b"PK\x01\x02")
    lpos = data.find(b"PK\x03\x04")
    struct.pack_into("<I", data, cpos + 16, 0xDEADBEEF)
    struct.pack_into("<I", data, lpos + 14, 0xDEADBEEF)
    report = run(write(tmp_path, "model.pt", bytes(data)))
    assert "MLG-SCAN-021" in rules(report)
    assert critical(report)


def test_member_hidden_from_central_directory(tmp_path: Path) -> None:
    hidden = make_zip([("hidden.pkl", evil_pickle())])
    visible = make_zip([("ok.txt", b"hello")])
    # hidden's local record, then the visible archive with its offsets moved
    local_end = hidden.find(b"PK\x01\x02")
    head = hidden[:local_end]
    buf = bytearray(head + visible)
    cpos = buf.find(b"PK\x01\x02", len(head))
    struct.pack_into("<I", buf, cpos + 42, struct.unpack_from("<I", buf, cpos + 42)[0] + len(head))
    epos = buf.rfind(b"PK\x05\x06")
    struct.pack_into("<I", buf, epos + 16, struct.unpack_from("<I", buf, epos + 16)[0] + len(head))
    with zipfile.ZipFile(io.BytesIO(bytes(buf))) as zf:
        assert zf.namelist() == ["ok.txt"]
    report = run(write(tmp_path, "a.zip", bytes(buf)))
    assert "MLG-SCAN-022" in rules(report)


def test_data_after_end_of_central_directory(tmp_path: Path) -> None:
    data = make_zip([("ok.txt", b"hi")]) + b"trailing bytes"
    report = run(write(tmp_path, "a.zip", data))
    assert "MLG-SCAN-016" in rules(report)


def test_truncated_zip(tmp_path: Path) -> None:
    data = make_zip([("a.txt", b"x" * 1000)])
    report = run(write(tmp_path, "a.zip", data[: len(data) // 2]))
    assert report.at_or_above(Severity.MEDIUM)


def test_corrupt_deflate_stream(tmp_path: Path) -> None:
    data = bytearray(make_zip([("m.pkl", evil_pickle() * 50)], zipfile.ZIP_DEFLATED))
    lpos = data.find(b"PK\x03\x04")
    n, m = struct.unpack_from("<HH", data, lpos + 26)
    start = lpos + 30 + n + m
    data[start: start + 8] = b"\xff" * 8
    report = run(write(tmp_path, "a.zip", bytes(data)))
    assert "MLG-SCAN-018" in rules(report)


def test_keras_v3_members_are_dispatched_by_content(tmp_path: Path) -> None:
    data = make_zip([
        ("metadata.json", b'{"keras_version": "3.0.0"}'),
        ("config.json", b'{"class_name": "Sequential", "config": {"layers": []}}'),
        ("model.weights.h5", evil_pickle()),  # an .h5 name on a pickle
    ], zipfile.ZIP_DEFLATED)
    report = run(write(tmp_path, "model.keras", data))
    mism = [f for f in report.findings if f.rule_id == "MLG-SCAN-009"]
    assert mism and mism[0].location is not None
    assert mism[0].location.member == "model.weights.h5"
    assert critical(report)


def test_npz_with_object_member(tmp_path: Path) -> None:
    data = make_zip([("arr.npy", evil_pickle())])
    report = run(write(tmp_path, "x.npz", data))
    assert critical(report)


# --- tar ----------------------------------------------------------------------------------------

def _tar(entries: list[tarfile.TarInfo], payloads: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for info in entries:
            body = payloads.get(info.name)
            if body is not None:
                info.size = len(body)
                tf.addfile(info, io.BytesIO(body))
            else:
                tf.addfile(info)
    return buf.getvalue()


def test_tar_links_devices_and_traversal(tmp_path: Path) -> None:
    link = tarfile.TarInfo("weights.bin")
    link.type, link.linkname = tarfile.SYMTYPE, "../../../etc/passwd"
    hard = tarfile.TarInfo("hard.bin")
    hard.type, hard.linkname = tarfile.LNKTYPE, "weights.bin"
    dev = tarfile.TarInfo("dev")
    dev.type = tarfile.CHRTYPE
    slip = tarfile.TarInfo("../escape.pkl")
    good = tarfile.TarInfo("model/data.pkl")
    data = _tar([link, hard, dev, slip, good],
                {"../escape.pkl": b"hello", "model/data.pkl": evil_pickle()})
    report = run(write(tmp_path, "m.tar", data))
    found = rules(report)
    assert {"MLG-SCAN-019", "MLG-SCAN-020", "MLG-SCAN-011"} <= found
    assert len([f for f in report.findings if f.rule_id == "MLG-SCAN-019"]) == 2
    assert critical(report) == ["m.tar!/model/data.pkl"]


def test_tar_gz_member_scanned(tmp_path: Path) -> None:
    good = tarfile.TarInfo("inner/model.pkl")
    raw = gzip.compress(_tar([good], {"inner/model.pkl": evil_pickle()}))
    report = run(write(tmp_path, "m.tar.gz", raw))
    assert critical(report) == ["m.tar.gz!/m.tar!/inner/model.pkl"]


def test_truncated_tar(tmp_path: Path) -> None:
    good = tarfile.TarInfo("model.pkl")
    raw = _tar([good], {"model.pkl": evil_pickle() + b"\0" * 4000})
    report = run(write(tmp_path, "m.tar", raw[:1200]))
    assert report.at_or_above(Severity.MEDIUM)


# --- 7z -----------------------------------------------------------------------------------------

def test_7z_members_are_scanned(tmp_path: Path) -> None:
    py7zr = pytest.importorskip("py7zr")
    src = tmp_path / "src"
    src.mkdir()
    (src / "model.pkl").write_bytes(evil_pickle())
    archive = tmp_path / "out" / "m.7z"
    archive.parent.mkdir()
    with py7zr.SevenZipFile(archive, "w") as z:
        z.write(src / "model.pkl", "model.pkl")
    report = run(archive.parent)
    assert critical(report) == ["m.7z!/model.pkl"]


def test_corrupt_7z_fails_closed(tmp_path: Path) -> None:
    report = run(write(tmp_path, "m.7z", b"7z\xbc\xaf\x27\x1c" + b"\x00\x04" + b"\xff" * 100))
    assert "MLG-SCAN-023" in rules(report)


def test_scan_of_large_stored_member_is_fast(tmp_path: Path) -> None:
    """A stored member is read in place: 64 MiB of tensor bytes are not copied or parsed."""
    data = make_zip([("archive/data.pkl", pickle.dumps({"a": 1}, protocol=2)),
                     ("archive/data/0", b"\x01" * (64 << 20))])
    write(tmp_path, "model.pt", data)
    t0 = time.perf_counter()
    report = scan_paths([tmp_path], policy=Policy(), hash_files=False)
    assert time.perf_counter() - t0 < 5
    assert report.findings == ()


# --- mutated archives: our handlers report, never crash ----------------------------------------

def _seed_archives(tmp_path: Path) -> dict[str, bytes]:
    import bz2

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        info = tarfile.TarInfo("m.pkl")
        info.size = len(evil_pickle())
        tf.addfile(info, io.BytesIO(evil_pickle()))
    plain = io.BytesIO()
    with tarfile.open(fileobj=plain, mode="w") as tf:
        info = tarfile.TarInfo("m.pkl")
        info.size = len(evil_pickle())
        tf.addfile(info, io.BytesIO(evil_pickle()))
        link = tarfile.TarInfo("l")
        link.type, link.linkname = tarfile.SYMTYPE, "../x"
        tf.addfile(link)
    seeds = {
        "t.pt": make_zip([("archive/data.pkl", pickle.dumps({"a": 1}, protocol=2)),
                          ("archive/data/0", b"\1" * 64), ("archive/version", b"3\n")]),
        "k.keras": make_zip([("config.json", b'{"a": 1}'), ("model.weights.h5", b"x" * 100)],
                            zipfile.ZIP_DEFLATED),
        "a.tar.gz": buf.getvalue(),
        "p.tar": plain.getvalue(),
        "b.pkl.bz2": bz2.compress(evil_pickle() * 20),
    }
    try:
        import py7zr

        (tmp_path / "m.pkl").write_bytes(evil_pickle())
        with py7zr.SevenZipFile(tmp_path / "a.7z", "w") as z:
            z.write(tmp_path / "m.pkl", "m.pkl")
        seeds["a.7z"] = (tmp_path / "a.7z").read_bytes()
    except ImportError:
        pass
    return seeds


def test_mutated_archives_never_crash_a_handler(tmp_path: Path) -> None:
    import random

    rng = random.Random(20240601)
    seeds = _seed_archives(tmp_path)
    case = tmp_path / "case"
    case.mkdir()
    crashes: list[str] = []
    for _ in range(400):
        name, base = rng.choice(sorted(seeds.items()))
        data = bytearray(base)
        for _ in range(rng.randint(1, 8)):
            pos = rng.randrange(len(data))
            op = rng.random()
            if op < 0.6:
                data[pos] = rng.randrange(256)
            elif op < 0.8:
                del data[pos: pos + rng.randint(1, 50)]
            else:
                data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 20)))
        for old in case.iterdir():
            old.unlink()
        (case / name).write_bytes(bytes(data))
        t0 = time.perf_counter()
        report = run(case)
        assert time.perf_counter() - t0 < 5
        crashes += [f.detail for f in report.findings if f.rule_id == "MLG-SCAN-007"
                    and any(k in f.detail for k in ("zip", "tar", "7z", "gzip", "bzip2", "xz"))]
    assert not crashes, crashes[:5]


def test_zip64_directory_declaring_millions_of_members_is_not_opened(tmp_path: Path) -> None:
    # a tiny file whose zip64 end record claims 10 million members: zipfile would try to read
    # them all (gigabytes for a real one); the scanner stops at the declared count
    prefix = b"PK\x03\x04" + bytes(26)
    z64_offset = len(prefix)
    z64 = (b"PK\x06\x06" + struct.pack("<QHHII", 44, 45, 45, 0, 0)
           + struct.pack("<QQQQ", 10_000_000, 10_000_000, 46 * 10_000_000, 0))
    locator = b"PK\x06\x07" + struct.pack("<IQI", 0, z64_offset, 1)
    eocd = b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    (tmp_path / "weights.zip").write_bytes(prefix + z64 + locator + eocd)
    tracemalloc.start()
    report = run(tmp_path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    hits = [f for f in report.findings if f.rule_id == "MLG-SCAN-024"]
    assert hits and hits[0].properties["declared"] == 10_000_000
    assert peak < 64 << 20


def _7z_with_duplicates(tmp_path: Path, first: bytes, second: bytes) -> Path:
    py7zr = pytest.importorskip("py7zr")
    archive = tmp_path / "out" / "m.7z"
    archive.parent.mkdir()
    with py7zr.SevenZipFile(archive, "w") as z:
        z.writestr(first, "model.pkl")
        z.writestr(second, "model.pkl")
    with py7zr.SevenZipFile(archive, "r") as z:  # the archive really holds both copies
        assert [str(i.filename) for i in z.list()] == ["model.pkl", "model.pkl"]
    return archive.parent


@pytest.mark.parametrize("order", ["evil-last", "evil-first"])
def test_7z_duplicate_member_every_copy_scanned(tmp_path: Path, order: str) -> None:
    benign = pickle.dumps({"weights": [1, 2, 3]}, protocol=2)
    pair = (benign, evil_pickle()) if order == "evil-last" else (evil_pickle(), benign)
    report = run(_7z_with_duplicates(tmp_path, *pair))
    dup = [f for f in report.findings if f.rule_id == "MLG-SCAN-012"]
    assert len(dup) == 1 and dup[0].properties["member"] == "model.pkl"
    assert critical(report) == ["m.7z!/model.pkl"]


def test_7z_duplicate_member_both_evil_reported_twice(tmp_path: Path) -> None:
    report = run(_7z_with_duplicates(tmp_path, evil_pickle(), evil_pickle()))
    assert critical(report) == ["m.7z!/model.pkl", "m.7z!/model.pkl"]
