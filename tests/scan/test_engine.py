"""The scan engine: safe walk, sniffing, dispatch, limits, hashing, sharding (hostile inputs
built in code, one test per technique). Nothing here loads a model."""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from mlgate.core.artifacts import Format
from mlgate.core.findings import Finding, Report, Severity, merge_reports
from mlgate.core.policy import Policy
from mlgate.core.policy.scan import ScanPolicy
from mlgate.scan import base
from mlgate.scan.base import ScanContext
from mlgate.scan.engine import scan_paths


# proto 2: os.system("touch <marker>") -- built as bytes, never loaded
def evil_pickle(marker: str = "/tmp/mlgate-marker-never-created") -> bytes:
    cmd = f"touch {marker}".encode()
    return (b"\x80\x02cos\nsystem\nX" + len(cmd).to_bytes(4, "little") + cmd
            + b"\x85R.")


def policy(**scan: Any) -> Policy:
    return Policy(scan=ScanPolicy(**scan))


def run(path: Path, **scan: Any) -> Report:
    return scan_paths([path], policy=policy(**scan))


def rules(report: Report) -> set[str]:
    return {f.rule_id for f in report.findings}


def at(report: Report, path: str) -> list[Finding]:
    return [f for f in report.findings if f.location and f.location.path == path]


def make_zip(entries: Iterable[tuple[str, bytes]], compression: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return buf.getvalue()


# --- benign -------------------------------------------------------------------------------

def test_example_model_is_clean_and_every_file_hashed(example_model: Path) -> None:
    report = run(example_model)
    assert report.kind == "scan"
    assert report.findings == (), [f.to_json() for f in report.findings]
    on_disk = sorted(p.relative_to(example_model).as_posix()
                     for p in example_model.rglob("*") if p.is_file())
    assert sorted(r.path for r in report.files) == on_disk
    for rec in report.files:
        data = (example_model / rec.path).read_bytes()
        assert rec.sha256 == hashlib.sha256(data).hexdigest()
        assert rec.size == len(data)
    formats = {r.path: r.format for r in report.files}
    assert formats["model.safetensors"] == "safetensors"


def test_benign_torch_checkpoints_give_no_finding(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.randn(4, 4), "b": torch.zeros(4)}, tmp_path / "model.pt")
    # a storage whose raw bytes look like a pickle header: torch never unpickles it
    torch.save(torch.tensor([0x80, 0x02, 0x1F, 0x8B], dtype=torch.uint8), tmp_path / "u8.bin")
    report = run(tmp_path)
    assert report.findings == (), [f.to_json() for f in report.findings]
    assert {r.format for r in report.files} == {"zip"}


def test_report_json_round_trip(tmp_path: Path) -> None:
    (tmp_path / "w.safetensors").write_bytes(evil_pickle())
    report = run(tmp_path)
    again = Report.from_json(json.loads(report.dumps()))
    assert again.findings == report.findings
    assert again.files == report.files
    assert again.kind == "scan" and again.evidence["engine"] == "mlgate"


def test_no_hash_leaves_digest_out(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("hello")
    report = scan_paths([tmp_path], policy=policy(), hash_files=False)
    assert [r.sha256 for r in report.files] == [None]
    assert report.files[0].error is None


def test_sharding_union_equals_full_scan(tmp_path: Path) -> None:
    for i in range(7):
        (tmp_path / f"f{i}.txt").write_bytes(b"x" * (i * 1000 + 1))
    (tmp_path / "bad.safetensors").write_bytes(evil_pickle())
    os.symlink("/etc/passwd", tmp_path / "leak")
    full = run(tmp_path)
    shards = [scan_paths([tmp_path], policy=policy(), shard=(i, 3)) for i in (1, 2, 3)]
    paths = [r.path for s in shards for r in s.files]
    assert sorted(paths) == sorted(r.path for r in full.files)  # each file in exactly one shard
    merged = merge_reports(shards)
    assert merged.complete
    assert {f.fingerprint for f in merged.findings} == {f.fingerprint for f in full.findings}
    assert [s.shard for s in shards] == ["1/3", "2/3", "3/3"]


def test_several_roots_keep_paths_apart(tmp_path: Path) -> None:
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "config.txt").write_text(d)
    report = scan_paths([tmp_path / "a", tmp_path / "b"], policy=policy())
    assert len({r.path for r in report.files}) == 2


# --- the walk -------------------------------------------------------------------------------

def test_symlink_outside_root_is_reported_and_never_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside.pkl"
    outside.write_bytes(evil_pickle())
    model = tmp_path / "model"
    model.mkdir()
    os.symlink(outside, model / "pytorch_model.bin")
    report = run(model)
    assert rules(report) == {"MLG-SCAN-001"}  # the pickle behind it was not analysed
    (rec,) = report.files
    assert rec.sha256 is None and rec.error


def test_broken_symlink(tmp_path: Path) -> None:
    os.symlink(tmp_path / "nowhere", tmp_path / "weights.bin")
    assert rules(run(tmp_path)) == {"MLG-SCAN-002"}


def test_fifo_is_reported_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "model.bin")
    report = run(tmp_path)
    assert rules(report) == {"MLG-SCAN-003"}
    assert report.at_or_above(Severity.MEDIUM)


def test_unreadable_file_fails_closed(tmp_path: Path) -> None:
    """chmod 000 stops only non-root users: as root the scan runs in a forked child that
    drops to uid 'nobody' (no monkeypatching: the real permission check decides)."""
    import shutil
    import tempfile
    import traceback

    shared = Path(tempfile.mkdtemp(prefix="mlgate-unreadable-"))  # reachable by 'nobody'
    try:
        shared.chmod(0o755)
        target = shared / "model.bin"
        target.write_bytes(evil_pickle())
        target.chmod(0)
        if os.geteuid() != 0:
            report = run(shared)
        else:
            import mlgate.scan.archives
            import mlgate.scan.pickle  # noqa: F401  (imported before privileges are dropped)

            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:  # child: drop to nobody, scan, send the report back
                try:
                    os.close(r)
                    os.setgid(65534)
                    os.setuid(65534)
                    try:
                        data = run(shared).dumps().encode()
                    except BaseException:
                        data = traceback.format_exc().encode()
                    with os.fdopen(w, "wb") as out:
                        out.write(data)
                finally:
                    os._exit(0)
            os.close(w)
            with os.fdopen(r, "rb") as inp:
                raw = inp.read().decode()
            os.waitpid(pid, 0)
            assert raw.startswith("{"), raw
            report = Report.from_json(json.loads(raw))
    finally:
        shutil.rmtree(shared, ignore_errors=True)
    assert rules(report) == {"MLG-SCAN-004"}
    assert report.files[0].sha256 is None and report.files[0].error


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    from mlgate.core.errors import UsageError

    with pytest.raises(UsageError):
        run(tmp_path / "missing")


# --- limits -----------------------------------------------------------------------------------

def test_max_file_size(tmp_path: Path) -> None:
    (tmp_path / "big.bin").write_bytes(b"\0" * 2048)
    report = run(tmp_path, max_file_size=1024)
    assert rules(report) == {"MLG-SCAN-005"}
    assert report.files[0].sha256 is None


def test_per_file_time_limit(tmp_path: Path) -> None:
    nested = make_zip((f"m{i}.pkl", pickle.dumps(i)) for i in range(200))
    (tmp_path / "many.zip").write_bytes(nested)
    report = run(tmp_path, max_seconds_per_file=1e-9)
    assert "MLG-SCAN-006" in rules(report)
    assert report.files[0].sha256 == hashlib.sha256(nested).hexdigest()  # still hashed


def test_nested_zip_beyond_depth(tmp_path: Path) -> None:
    data = evil_pickle()
    name = "payload.pkl"
    for level in range(4):
        data = make_zip([(name, data)])
        name = f"level{level}.zip"
    (tmp_path / "deep.zip").write_bytes(data)
    report = run(tmp_path, max_archive_depth=3)
    deep = [f for f in report.findings if f.rule_id == "MLG-SCAN-010"]
    assert deep and deep[0].location is not None and deep[0].location.member
    assert deep[0].location.member.count("!/") == 3
    # with a deeper limit the payload is reached and found
    report2 = run(tmp_path, max_archive_depth=5)
    assert any(f.severity is Severity.CRITICAL for f in report2.findings)


# --- content vs extension ---------------------------------------------------------------------

def test_safetensors_that_is_a_pickle(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").write_bytes(evil_pickle())
    report = run(tmp_path)
    mism = [f for f in report.findings if f.rule_id == "MLG-SCAN-009"]
    assert mism and mism[0].severity is Severity.HIGH
    assert any(f.severity is Severity.CRITICAL for f in report.findings)  # and it was analysed


def test_bin_that_is_a_torch_zip_is_fine(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    torch.save({"a": torch.ones(2)}, tmp_path / "pytorch_model.bin")
    assert run(tmp_path).findings == ()


def test_unknown_format_model_file(tmp_path: Path) -> None:
    (tmp_path / "model.mlmodel").write_bytes(b"\xff\x00\x13garbage" * 10)
    report = run(tmp_path)
    assert rules(report) == {"MLG-SCAN-008"}


def test_garbage_under_a_data_only_name_goes_to_that_formats_parser(tmp_path: Path) -> None:
    (tmp_path / "model.onnx").write_bytes(b"\xff\x00\x13garbage" * 10)
    (tmp_path / "model.safetensors").write_bytes((1 << 40).to_bytes(8, "little") + b'{"a": ')
    report = run(tmp_path)
    by_file = {f.location.path: f.rule_id for f in report.findings if f.location}
    assert by_file == {"model.onnx": "MLG-SCAN-123", "model.safetensors": "MLG-SCAN-100"}


def test_unknown_bytes_under_a_pickle_name_fail_closed(tmp_path: Path) -> None:
    (tmp_path / "weights.bin").write_bytes(b"\xff\xfe\x00\x01" * 64)
    report = run(tmp_path)
    assert report.at_or_above(Severity.MEDIUM)


def test_pickle_without_proto_opcode_under_text_sniff(tmp_path: Path) -> None:
    # protocol 0 starting with a FLOAT then POP: first byte 'F' looks like text
    (tmp_path / "model.pkl").write_bytes(b"F1.0\n0cos\nsystem\n(S'touch x'\ntR.")
    report = run(tmp_path)
    assert any(f.severity is Severity.CRITICAL for f in report.findings)


def test_pickle_in_torch_zip_is_analysed(tmp_path: Path) -> None:
    data = make_zip([
        ("archive/data.pkl", evil_pickle()),
        ("archive/version", b"3\n"),
        ("archive/data/0", b"\0" * 16),
    ])
    (tmp_path / "pytorch_model.bin").write_bytes(data)
    report = run(tmp_path)
    crit = [f for f in report.findings if f.severity is Severity.CRITICAL]
    assert crit and crit[0].location is not None
    assert crit[0].location.member == "archive/data.pkl"


def test_pickle_hidden_in_torch_storage_member(tmp_path: Path) -> None:
    data = make_zip([
        ("archive/data.pkl", pickle.dumps({"a": 1}, protocol=2)),
        ("archive/data/0", evil_pickle()),  # a convincing pickle (ends with STOP)
    ])
    (tmp_path / "model.pt").write_bytes(data)
    assert any(f.severity is Severity.CRITICAL for f in run(tmp_path).findings)


def test_gzip_wrapped_pickle(tmp_path: Path) -> None:
    import gzip

    (tmp_path / "model.pkl.gz").write_bytes(gzip.compress(evil_pickle()))
    report = run(tmp_path)
    crit = [f for f in report.findings if f.severity is Severity.CRITICAL]
    assert crit and crit[0].location is not None and crit[0].location.member == "model.pkl"


def test_xz_and_bz2_wrapped_pickles(tmp_path: Path) -> None:
    import bz2
    import lzma

    (tmp_path / "a.pkl.xz").write_bytes(lzma.compress(evil_pickle()))
    (tmp_path / "b.pkl.bz2").write_bytes(bz2.compress(evil_pickle()))
    report = run(tmp_path)
    assert {f.location.path for f in report.findings
            if f.severity is Severity.CRITICAL and f.location} == {"a.pkl.xz", "b.pkl.bz2"}


def test_joblib_zlib_compressed_dump_is_decompressed(tmp_path: Path) -> None:
    import zlib

    (tmp_path / "model.joblib").write_bytes(zlib.compress(evil_pickle()))
    assert any(f.severity is Severity.CRITICAL for f in run(tmp_path).findings)


def test_appended_zip_polyglot(tmp_path: Path) -> None:
    benign = pickle.dumps({"a": 1}, protocol=2)
    (tmp_path / "model.pkl").write_bytes(benign + make_zip([("x/data.pkl", evil_pickle())]))
    report = run(tmp_path)
    assert "MLG-SCAN-016" in rules(report)
    assert any(f.severity is Severity.CRITICAL for f in report.findings)


# --- handler failures fail closed ---------------------------------------------------------------

class ExplodingHandler:
    name = "boom"

    def scan(self, stream: BinaryIO, size: int, ctx: ScanContext) -> list[Finding]:
        raise RuntimeError("parser bug")


def test_missing_handler_module_fails_closed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(base.HANDLERS, Format.GGUF, "mlgate.scan.not_written_yet:Handler")
    (tmp_path / "m.gguf").write_bytes(b"GGUF" + b"\0" * 64)
    report = run(tmp_path)
    assert rules(report) == {"MLG-SCAN-007"}
    assert "not_written_yet" in report.findings[0].detail


def test_crashing_handler_fails_closed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(base.HANDLERS, Format.GGUF, f"{__name__}:ExplodingHandler")
    (tmp_path / "m.gguf").write_bytes(b"GGUF" + b"\0" * 64)
    report = run(tmp_path)
    assert rules(report) == {"MLG-SCAN-007"}
    assert "RuntimeError: parser bug" in report.findings[0].detail
    assert report.files[0].sha256 is not None


def test_modelscan_engine_merges_findings(tmp_path: Path) -> None:
    pytest.importorskip("modelscan")
    try:
        import mlgate.scan.modelscan  # noqa: F401
    except ImportError:
        pytest.fail("mlgate.scan.modelscan (run_modelscan) is not written yet")
    (tmp_path / "model.pkl").write_bytes(evil_pickle())
    report = scan_paths([tmp_path], policy=policy(), engine="both")
    engines = {f.engine for f in report.findings}
    assert engines == {"mlgate", "modelscan"}


def test_unknown_engine_is_a_usage_error(tmp_path: Path) -> None:
    from mlgate.core.errors import UsageError

    with pytest.raises(UsageError):
        scan_paths([tmp_path], policy=policy(), engine="nope")


# --- several files on several cores ---------------------------------------------------------

def _mixed_folder(root: Path) -> Path:
    """Clean and hostile files of several formats, nested folders, a big-ish pickle."""
    import numpy as np

    (root / "sub" / "deep").mkdir(parents=True)
    (root / "model.pkl").write_bytes(pickle.dumps([{"i": i, "s": f"x{i}"} for i in range(20000)]))
    (root / "evil.pkl").write_bytes(evil_pickle())
    (root / "sub" / "weights.npy").write_bytes(_npy(np.arange(100, dtype=np.float32)))
    (root / "sub" / "ckpt.zip").write_bytes(make_zip([("archive/data.pkl", evil_pickle()),
                                                     ("archive/version", b"3\n")]))
    (root / "sub" / "deep" / "config.json").write_text(json.dumps({"auto_map": {"AutoModel": "m.M"}}))
    (root / "sub" / "deep" / "m.py").write_text("import os\nos.system('x')\n")
    (root / "sub" / "deep" / "junk.safetensors").write_bytes(b"\xff" * 40)
    (root / "README.md").write_text("# model\n")
    return root


def _npy(arr: Any) -> bytes:
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def test_jobs_gives_the_same_report_as_in_process(tmp_path: Path) -> None:
    root = _mixed_folder(tmp_path / "m")
    one = scan_paths([root], policy=policy(), jobs=1)
    two = scan_paths([root], policy=policy(), jobs=2)
    assert one.findings == two.findings
    assert one.files == two.files
    assert [f.path for f in two.files] == sorted(f.path for f in two.files)
    assert {"MLG-SCAN-050"} <= rules(two)  # the hostile pickles are still caught in workers
    assert all(f.sha256 for f in two.files)
    assert two.evidence["jobs"] == 2 and two.evidence["files_scanned"] == len(two.files)


def test_default_jobs_stays_in_process_for_small_files(tmp_path: Path) -> None:
    root = _mixed_folder(tmp_path / "m")
    auto = scan_paths([root], policy=policy(), jobs=None)
    assert auto.evidence["jobs"] == 1  # small files: workers would cost more than they save
    assert auto.findings == scan_paths([root], policy=policy(), jobs=1).findings


def test_jobs_enforce_the_per_file_deadline_in_workers(tmp_path: Path) -> None:
    nested = make_zip((f"m{i}.pkl", pickle.dumps(i)) for i in range(200))
    for name in ("a.zip", "b.zip"):
        (tmp_path / name).write_bytes(nested)
    report = scan_paths([tmp_path], policy=policy(max_seconds_per_file=1e-9), jobs=2)
    timed_out = {f.location.path for f in report.findings
                 if f.rule_id == "MLG-SCAN-006" and f.location}
    assert timed_out == {"a.zip", "b.zip"}


def test_jobs_must_be_positive(tmp_path: Path) -> None:
    from mlgate.core.errors import UsageError

    with pytest.raises(UsageError):
        scan_paths([tmp_path], policy=policy(), jobs=0)


def test_engine_names_from_the_issue_map_to_internal_ones(tmp_path: Path) -> None:
    (tmp_path / "model.pkl").write_bytes(evil_pickle())
    report = scan_paths([tmp_path], policy=policy(), engine="builtin")
    assert report.evidence["engine"] == "mlgate"
    assert {f.engine for f in report.findings} == {"mlgate"}


def test_empty_weights_files_fail_closed(tmp_path: Path) -> None:
    for name in ("model.pkl", "pytorch_model.bin", "model.pt", "model.safetensors"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "notes.txt").write_bytes(b"")  # an empty non-model file is fine
    report = run(tmp_path)
    flagged = {f.location.path for f in report.findings
               if f.rule_id == "MLG-SCAN-008" and f.location and f.severity >= Severity.MEDIUM}
    assert flagged == {"model.pkl", "pytorch_model.bin", "model.pt", "model.safetensors"}


def test_an_empty_folder_is_not_a_clean_scan(tmp_path: Path) -> None:
    from mlgate.core.errors import UsageError

    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no files to scan"):
        scan_paths([tmp_path / "empty"], policy=policy())
