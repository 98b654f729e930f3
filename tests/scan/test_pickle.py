"""One test per pickle attack technique (built from raw opcodes or with real tools), plus the
benign files that must pass. No test ever unpickles what it builds."""

from __future__ import annotations

import io
import os
import pickle
import struct
import zipfile
from pathlib import Path

import pytest

from mlgate.core.findings import Severity
from mlgate.scan.allowlist import Allowlist, dangerous_reason
from mlgate.scan.base import ScanContext
from mlgate.scan.pickle import PickleAnalysis, PickleHandler, analyze_pickle
from tests.scan.conftest import (
    BUILD,
    EMPTY_DICT,
    MARK,
    MEMOIZE,
    REDUCE,
    STACK_GLOBAL,
    STOP,
    TUPLE1,
    TUPLE2,
    call_global,
    make_ctx,
    marker_command,
    p_binget,
    p_binput,
    p_global,
    p_inst,
    p_proto,
    p_str,
)


def analyze(data: bytes, ctx: ScanContext | None = None, allow: Allowlist | None = None) -> PickleAnalysis:
    return analyze_pickle(io.BytesIO(data), len(data), allow=allow or Allowlist(), ctx=ctx or make_ctx())


def rules(a: PickleAnalysis) -> set[str]:
    return {f.rule_id for f in a.findings}


def critical_globals(a: PickleAnalysis) -> set[str]:
    return {str(f.properties.get("global")) for f in a.findings if f.rule_id == "MLG-SCAN-050"}


class _SystemCall:
    def __init__(self, cmd: str) -> None:
        self.cmd = cmd

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (self.cmd,))


# --- real tools: malicious ----------------------------------------------------------------


@pytest.mark.parametrize("proto", range(6))
def test_reduce_os_system_from_pickle_dumps(proto: int, marker: Path) -> None:
    data = pickle.dumps(_SystemCall(marker_command(marker)), protocol=proto)
    a = analyze(data)
    assert critical_globals(a) in ({"posix.system"}, {"nt.system"})
    f = next(f for f in a.findings if f.rule_id == "MLG-SCAN-050")
    assert f.severity is Severity.CRITICAL
    assert f.location is not None and f.location.offset is not None
    assert "runs processes" in f.detail
    assert any(c.opcode == "REDUCE" and c.callee.endswith(".system") for c in a.calls)
    assert a.complete
    assert not marker.exists()


# --- raw-opcode techniques -----------------------------------------------------------------


def test_global_os_system(marker: Path) -> None:
    a = analyze(call_global("os", "system", marker_command(marker)))
    assert critical_globals(a) == {"os.system"}
    f = a.findings[0]
    assert f.location is not None and f.location.offset == 2
    assert "GLOBAL" in f.detail


def test_inst_opcode_subprocess(marker: Path) -> None:
    data = MARK + p_str("touch") + p_str(str(marker)) + p_inst("subprocess", "Popen") + STOP
    a = analyze(data)
    assert critical_globals(a) == {"subprocess.Popen"}
    assert any(c.opcode == "INST" for c in a.calls)


def test_stack_global_from_memo(marker: Path) -> None:
    # module and name strings are memoized, then fetched back for STACK_GLOBAL
    data = (p_proto(4) + p_str("os") + MEMOIZE + p_str("system") + MEMOIZE
            + b"0" + b"0" + p_binget(0) + p_binget(1) + STACK_GLOBAL
            + p_str(marker_command(marker)) + TUPLE1 + REDUCE + STOP)
    a = analyze(data)
    assert critical_globals(a) == {"os.system"}
    assert a.globals[0].opcode == "STACK_GLOBAL"


def test_stack_global_from_binput_memo() -> None:
    data = (p_proto(2) + p_str("builtins") + p_binput(7) + b"0" + p_str("exec") + p_binput(8) + b"0"
            + p_binget(7) + p_binget(8) + STACK_GLOBAL + STOP)
    assert critical_globals(analyze(data)) == {"builtins.exec"}


def test_stack_global_with_computed_name_is_unresolvable() -> None:
    # name = builtins.str.join('', ['sys', 'tem']) computed by a call: not a constant
    data = (p_proto(4) + p_str("os") + p_global("builtins", "str") + b"\x8c\x04join" + STACK_GLOBAL
            + STOP)
    a = analyze(data + b"")
    assert "MLG-SCAN-052" in rules(a) or "MLG-SCAN-055" in rules(a)
    computed = (p_proto(4) + p_str("os") + p_global("_operator", "add") + p_str("sys") + p_str("tem")
                + TUPLE2 + REDUCE + STACK_GLOBAL + b"N" + REDUCE + STOP)
    a = analyze(computed)
    assert "MLG-SCAN-052" in rules(a)
    f = next(f for f in a.findings if f.rule_id == "MLG-SCAN-052")
    assert f.severity >= Severity.HIGH
    assert "not constant" in f.detail


def test_stack_global_from_unknown_memo_slot_is_unresolvable() -> None:
    data = p_proto(4) + p_str("os") + p_binget(42) + STACK_GLOBAL + STOP
    assert "MLG-SCAN-052" in rules(analyze(data))


def test_ext1_extension_registry() -> None:
    data = p_proto(2) + b"\x82\x01" + p_str("x") + TUPLE1 + REDUCE + STOP
    a = analyze(data)
    assert "MLG-SCAN-053" in rules(a)
    assert "MLG-SCAN-054" in rules(a)  # calling what EXT1 produced


@pytest.mark.parametrize("op", [b"\x83\x01\x00", b"\x84\x01\x00\x00\x00"])
def test_ext2_ext4_extension_registry(op: bytes) -> None:
    assert "MLG-SCAN-053" in rules(analyze(p_proto(2) + op + STOP))


def test_builtins_getattr_import_chain(marker: Path) -> None:
    # getattr(__import__('os'), 'system')('touch marker')
    data = (p_proto(2) + p_global("builtins", "getattr")
            + p_global("builtins", "__import__") + p_str("os") + TUPLE1 + REDUCE
            + p_str("system") + TUPLE2 + REDUCE
            + p_str(marker_command(marker)) + TUPLE1 + REDUCE + STOP)
    a = analyze(data)
    assert critical_globals(a) == {"builtins.getattr", "builtins.__import__"}
    assert "MLG-SCAN-054" in rules(a)  # the final call is of a computed callable
    reasons = " ".join(f.detail for f in a.findings)
    assert "attribute or method getter" in reasons and "import machinery" in reasons


def test_operator_attrgetter() -> None:
    data = (p_proto(2) + p_global("operator", "attrgetter") + p_str("system") + TUPLE1 + REDUCE
            + p_global("os", "path") + TUPLE1 + REDUCE + STOP)
    assert "operator.attrgetter" in critical_globals(analyze(data))


def test_functools_partial_wrapper(marker: Path) -> None:
    data = (p_proto(2) + p_global("functools", "partial") + p_global("os", "system")
            + p_str(marker_command(marker)) + TUPLE2 + REDUCE + b")" + REDUCE + STOP)
    assert critical_globals(analyze(data)) == {"functools.partial", "os.system"}


def test_builtin_py2_alias(marker: Path) -> None:
    a = analyze(call_global("__builtin__", "eval", f"__import__('os').system('{marker}')"))
    assert critical_globals(a) == {"builtins.eval"}
    assert "written as '__builtin__'" in a.findings[0].detail


def test_copy_reg_alias_stays_allowed() -> None:
    data = (p_proto(2) + p_global("copy_reg", "_reconstructor") + p_global("collections", "OrderedDict")
            + p_global("__builtin__", "object") + b"N" + b"\x87" + REDUCE + STOP)
    a = analyze(data)
    assert a.findings == ()
    assert all(g.allowed for g in a.globals)


def test_module_with_trailing_space_is_still_critical() -> None:
    assert dangerous_reason("os ", "system") is not None
    a = analyze(call_global("os ", "system", "x"))
    assert "MLG-SCAN-050" in rules(a)


def test_dotted_name_attribute_path() -> None:
    # protocol 4 STACK_GLOBAL with a dotted name walks attributes: torch -> serialization.load
    data = p_proto(4) + p_str("torch") + p_str("serialization.load") + STACK_GLOBAL + STOP
    assert critical_globals(analyze(data)) == {"torch.serialization.load"}
    data = p_proto(4) + p_str("builtins") + p_str("__dict__.get") + STACK_GLOBAL + STOP
    assert "MLG-SCAN-051" in rules(analyze(data))


def test_torch_load_from_bytes_nesting() -> None:
    inner = call_global("os", "system", "id")
    data = (p_proto(2) + p_global("torch.storage", "_load_from_bytes") + b"C" + bytes([len(inner)])
            + inner + TUPLE1 + REDUCE + STOP)
    a = analyze(data)
    assert critical_globals(a) == {"torch.storage._load_from_bytes"}
    assert "nested deserializer" in a.findings[0].detail


def test_numpy_testing_runstring() -> None:
    a = analyze(call_global("numpy.testing._private.utils", "runstring", "import os", "{}"))
    assert critical_globals(a) == {"numpy.testing._private.utils.runstring"}


def test_pickle_loads_nesting() -> None:
    assert critical_globals(analyze(call_global("_pickle", "loads", "x"))) == {"_pickle.loads"}


def test_concatenated_pickles_second_malicious() -> None:
    benign = pickle.dumps({"a": 1}, protocol=4)
    evil = call_global("os", "system", "id")
    a = analyze(benign + evil)
    assert a.pickles == 2
    assert critical_globals(a) == {"os.system"}
    assert a.findings[0].location is not None
    assert a.findings[0].location.offset == len(benign) + 2


def test_truncated_after_malicious_global_still_reports_it() -> None:
    data = call_global("os", "system", "id")[:-6]
    a = analyze(data)
    assert critical_globals(a) == {"os.system"}
    assert "MLG-SCAN-055" in rules(a)
    assert not a.complete
    brk = next(f for f in a.findings if f.rule_id == "MLG-SCAN-055")
    assert brk.severity >= Severity.MEDIUM


def test_unknown_opcode_breaks_closed() -> None:
    a = analyze(p_proto(2) + b"\xff" + STOP)
    assert rules(a) == {"MLG-SCAN-055"}
    assert "unknown opcode 0xff" in a.findings[0].detail


def test_stack_underflow_breaks_closed() -> None:
    a = analyze(p_proto(2) + REDUCE + STOP)
    assert "MLG-SCAN-055" in rules(a)


def test_protocol_0_text_pickle(marker: Path) -> None:
    data = b"cposix\nsystem\n(S'" + marker_command(marker).encode() + b"'\ntR."
    a = analyze(data)
    assert critical_globals(a) == {"posix.system"}
    assert a.protocol is None and a.complete


def test_protocol_0_memo_get_put() -> None:
    data = b"Vos\np0\n0Vsystem\np1\n0g0\ng1\n\x93."  # STACK_GLOBAL via text memo ops
    assert critical_globals(analyze(data)) == {"os.system"}


def test_protocol_5_frame_bytearray8_next_buffer() -> None:
    body = (p_str("x") + b"\x96" + struct.pack("<Q", 3) + b"abc" + b"\x97" + b"\x98"
            + p_global("os", "system") + STOP)
    data = p_proto(5) + b"\x95" + struct.pack("<Q", len(body)) + body
    a = analyze(data)
    assert critical_globals(a) == {"os.system"}
    assert a.protocol == 5 and a.complete


def test_benign_protocol_5_out_of_band_buffers() -> None:
    buf = pickle.PickleBuffer(b"0123456789")
    data = pickle.dumps([buf, bytearray(b"x" * 100)], protocol=5, buffer_callback=lambda b: False)
    a = analyze(data)
    assert a.findings == () and a.complete


def test_frame_larger_than_file() -> None:
    data = p_proto(4) + b"\x95" + struct.pack("<Q", 1 << 40) + STOP
    assert "MLG-SCAN-058" in rules(analyze(data))


def test_huge_binbytes8_length_bounded_memory() -> None:
    data = p_proto(4) + b"\x8e" + struct.pack("<Q", 1 << 60) + b"tiny" + STOP
    a = analyze(data)
    assert "MLG-SCAN-058" in rules(a)
    assert not a.complete
    assert "declares" in a.findings[0].detail


def test_large_binbytes_is_skipped_not_held(tmp_path: Path) -> None:
    import tracemalloc

    big = 64 << 20
    path = tmp_path / "big.pkl"
    with path.open("wb") as fh:
        fh.write(p_proto(4) + b"\x8e" + struct.pack("<Q", big))
        fh.seek(big - 1, io.SEEK_CUR)
        fh.write(b"\0" + b"0" + p_global("os", "system") + STOP)
    size = path.stat().st_size
    tracemalloc.start()
    with path.open("rb") as fh:
        a = analyze_pickle(fh, size, allow=Allowlist(), ctx=make_ctx())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert critical_globals(a) == {"os.system"}
    assert peak < 4 << 20, f"peak {peak} bytes for a {size}-byte pickle"


def test_deeply_nested_lists_no_recursion_crash() -> None:
    depth = 150_000
    data = p_proto(2) + (b"]" + MARK) * depth + (b"e") * depth + STOP
    a = analyze(data)
    assert "MLG-SCAN-057" in rules(a) or a.complete
    a = analyze(p_proto(2) + b"(" * 50_000 + b"l" * 50_000 + STOP)
    assert a.complete and a.findings == ()


def test_trailing_garbage_after_last_stop() -> None:
    data = pickle.dumps([1, 2], protocol=4) + b"\xff\xfe hidden payload"
    a = analyze(data)
    assert rules(a) == {"MLG-SCAN-056"}
    assert a.findings[0].severity is Severity.MEDIUM


def test_newobj_and_build_record_calls() -> None:
    data = (p_proto(2) + p_global("mymodule", "Evil") + b")" + b"\x81" + EMPTY_DICT + BUILD + STOP)
    a = analyze(data)
    assert "MLG-SCAN-051" in rules(a)
    assert [c.opcode for c in a.calls] == ["NEWOBJ", "BUILD"]
    assert all(c.callee == "mymodule.Evil" for c in a.calls)


def test_obj_opcode() -> None:
    data = MARK + p_global("os", "system") + p_str("id") + b"o" + STOP
    a = analyze(data)
    assert critical_globals(a) == {"os.system"}
    assert any(c.opcode == "OBJ" for c in a.calls)


def test_newobj_ex() -> None:
    data = p_proto(4) + p_global("subprocess", "Popen") + b")" + EMPTY_DICT + b"\x92" + STOP
    a = analyze(data)
    assert critical_globals(a) == {"subprocess.Popen"}
    assert any(c.opcode == "NEWOBJ_EX" for c in a.calls)


def test_repeated_global_reported_once_with_count() -> None:
    data = p_proto(2) + (p_global("os", "system") + b"0") * 500 + b"N" + STOP
    a = analyze(data)
    assert len(a.findings) == 1
    assert a.findings[0].properties["occurrences"] == 500


# --- allowlist policy -----------------------------------------------------------------------


def test_unknown_global_is_high_not_critical() -> None:
    a = analyze(call_global("mypackage.models", "CustomNet"))
    assert rules(a) == {"MLG-SCAN-051"}
    assert a.findings[0].severity is Severity.HIGH
    assert "mypackage.models.CustomNet" in a.findings[0].detail


def test_policy_allow_globals_extends_allowlist() -> None:
    data = call_global("mypackage.models", "CustomNet")
    allow = Allowlist.from_policy(["mypackage.models.CustomNet"])
    assert analyze(data, allow=allow).findings == ()
    assert analyze(data, allow=Allowlist.from_policy(["mypackage.*"])).findings == ()
    assert analyze(data, allow=Allowlist.from_policy(["mypackage.other.*"])).findings != ()


def test_policy_cannot_allow_dangerous_globals() -> None:
    data = call_global("os", "system", "id")
    for entry in ("os.system", "os.*", "builtins.*"):
        a = analyze(data, allow=Allowlist.from_policy([entry]))
        assert critical_globals(a) == {"os.system"}, entry
    a = analyze(call_global("builtins", "getattr"), allow=Allowlist.from_policy(["builtins.*"]))
    assert critical_globals(a) == {"builtins.getattr"}
    assert "cannot be allowed by configuration" in a.findings[0].detail


def test_handler_uses_policy_allow_globals() -> None:
    data = call_global("mypackage.models", "CustomNet")
    handler = PickleHandler()
    assert handler.name == "pickle"
    assert handler.scan(io.BytesIO(data), len(data), make_ctx()) != []
    ctx = make_ctx(allow_globals=["mypackage.models.CustomNet"])
    assert handler.scan(io.BytesIO(data), len(data), ctx) == []


# --- real tools: benign ---------------------------------------------------------------------


def _torch_state_dict() -> dict[str, object]:
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3), torch.nn.Embedding(5, 2))
    sd: dict[str, object] = model.state_dict()
    return sd


def _data_pkl(zip_bytes: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as zf:
        name = next(n for n in zf.namelist() if n.endswith("data.pkl"))
        return zf.read(name)


def test_benign_torch_state_dict_zip_has_no_findings() -> None:
    import torch

    buf = io.BytesIO()
    torch.save(_torch_state_dict(), buf)
    a = analyze(_data_pkl(buf.getvalue()))
    assert a.findings == ()
    assert a.complete
    assert {g.module for g in a.globals} >= {"collections", "torch._utils"}


def test_benign_torch_tensors_of_many_dtypes() -> None:
    import torch

    tensors = {str(dt): torch.zeros(2, dtype=dt) for dt in (torch.float16, torch.bfloat16, torch.int8,
                                                            torch.bool, torch.complex64)}
    tensors["param"] = torch.nn.Parameter(torch.ones(2))  # type: ignore[assignment]
    buf = io.BytesIO()
    torch.save(tensors, buf)
    assert analyze(_data_pkl(buf.getvalue())).findings == ()


def test_benign_torch_legacy_format_has_no_findings() -> None:
    import torch

    buf = io.BytesIO()
    torch.save(_torch_state_dict(), buf, _use_new_zipfile_serialization=False)
    a = analyze(buf.getvalue())
    assert a.findings == ()
    assert a.layout == "torch-legacy"
    assert a.pickles == 5


def test_torch_zip_with_malicious_data_pkl(marker: Path) -> None:
    import torch

    buf = io.BytesIO()
    torch.save({"w": torch.zeros(2), "evil": _SystemCall(marker_command(marker))}, buf)
    a = analyze(_data_pkl(buf.getvalue()))
    assert critical_globals(a) in ({"posix.system"}, {"nt.system"})
    assert not marker.exists()


def test_full_module_pickle_is_reported() -> None:
    import torch

    buf = io.BytesIO()
    torch.save(torch.nn.Linear(2, 2), buf)
    a = analyze(_data_pkl(buf.getvalue()))
    assert "torch.nn.modules.linear.Linear" in {str(f.properties.get("global")) for f in a.findings}


def test_benign_numpy_pickles() -> None:
    np = pytest.importorskip("numpy")
    for proto in range(6):
        data = pickle.dumps({"a": np.arange(6.0).reshape(2, 3), "s": np.float32(1.5),
                             "o": np.array([1, "x", None], dtype=object),
                             "dt": np.dtype([("a", "f4"), ("b", "i8")])}, protocol=proto)
        a = analyze(data)
        assert a.findings == (), (proto, a.findings)


def test_benign_joblib_numpy_array() -> None:
    np = pytest.importorskip("numpy")
    joblib = pytest.importorskip("joblib")
    buf = io.BytesIO()
    joblib.dump({"x": np.arange(1000, dtype=np.float64), "y": [np.ones((3, 4), dtype=np.int16)],
                 "s": np.array(["ab", "c"]), "o": np.array([1, "two"], dtype=object)}, buf)
    a = analyze(buf.getvalue())
    assert a.findings == (), a.findings
    assert a.layout == "joblib"
    assert a.complete


class SklearnLikeEstimator:
    """Stands in for an sklearn estimator: a plain class with numpy attributes."""

    def __init__(self) -> None:
        import numpy as np

        self.coef_ = np.ones((2, 3))
        self.classes_ = np.array(["a", "b"], dtype=object)


def test_joblib_sklearn_like_object_reports_its_class() -> None:
    joblib = pytest.importorskip("joblib")
    buf = io.BytesIO()
    joblib.dump(SklearnLikeEstimator(), buf)
    a = analyze(buf.getvalue())
    cls = f"{SklearnLikeEstimator.__module__}.SklearnLikeEstimator"
    assert {str(f.properties.get("global")) for f in a.findings} == {cls}
    assert rules(a) == {"MLG-SCAN-051"}
    allow = Allowlist.from_policy([cls])
    assert analyze(buf.getvalue(), allow=allow).findings == ()


def test_joblib_with_malicious_object(marker: Path) -> None:
    joblib = pytest.importorskip("joblib")
    np = pytest.importorskip("numpy")
    buf = io.BytesIO()
    joblib.dump([np.zeros(10), _SystemCall(marker_command(marker))], buf)
    a = analyze(buf.getvalue())
    assert critical_globals(a) in ({"posix.system"}, {"nt.system"})
    assert not marker.exists()


def test_small_object_pickle_memory_stays_flat() -> None:
    """The memo keeps a shared placeholder for containers, not a description of each one:
    400k memo entries (200k dicts, 200k short strings) cost ~50 MB, a dict slot and the short
    string each (a description of each dict was about three times that)."""
    import tracemalloc

    data = pickle.dumps([{"id": i, "name": f"n{i}", "v": i * 0.5} for i in range(200_000)],
                        protocol=4)
    tracemalloc.start()
    a = analyze(data)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert a.complete and not a.findings
    assert peak < 72 << 20, f"peak {peak} bytes for a {len(data)}-byte pickle"


def test_memo_still_resolves_globals_after_many_objects() -> None:
    # 100k memoized dicts, then STACK_GLOBAL from memoized strings: still caught
    body = pickle.dumps([{} for _ in range(100_000)], protocol=4)[:-1] + b"0"  # drop STOP, POP
    data = (body + p_str("os") + MEMOIZE + p_str("system") + MEMOIZE + b"0" + b"0")
    # the two strings are memo entries n and n+1 (n = memoized values so far)
    n = 100_001  # the list and its 100k dicts
    data += p_binget(n) if n < 256 else b"j" + struct.pack("<I", n)
    data += b"j" + struct.pack("<I", n + 1) + STACK_GLOBAL + p_str("true") + TUPLE1 + REDUCE + STOP
    a = analyze(data)
    assert critical_globals(a) == {"os.system"}


def test_record_lists_are_capped_but_findings_count_every_call() -> None:
    from mlgate.scan.pickle import RECORD_CAP

    one = p_global("mymodule", "Thing") + b"\x94" + b")" + REDUCE + b"0"
    data = p_proto(4) + one + (b"h\x00)" + REDUCE + b"0") * (RECORD_CAP + 50) + b"N" + STOP
    a = analyze(data)
    assert len(a.calls) == RECORD_CAP
    assert any("not kept" in n for n in a.notes)
    assert "MLG-SCAN-051" in rules(a)
