"""TensorFlow SavedModel / GraphDef op checks on protobufs encoded by hand (no TensorFlow)."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st

from mlgate.core.findings import Finding
from mlgate.core.policy.scan import ScanPolicy
from mlgate.scan.base import ScanContext
from mlgate.scan.savedmodel import SavedModelHandler, collect_ops


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def ld(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def vi(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def node(name: str, op: str) -> bytes:
    return ld(1, name.encode()) + ld(2, op.encode()) + ld(3, b"input:0")


def graph(*nodes: bytes, functions: tuple[bytes, ...] = ()) -> bytes:
    g = b"".join(ld(1, n) for n in nodes)
    if functions:
        lib = b"".join(ld(1, ld(1, ld(1, b"fn")) + b"".join(ld(3, n) for n in fb))
                       for fb in [functions])
        g += ld(2, lib)
    return g


def saved_model(g: bytes) -> bytes:
    meta = ld(1, ld(1, b"serve")) + ld(2, g)
    return vi(1, 1) + ld(2, meta)


def scan(data: bytes) -> list[Finding]:
    c = ScanContext(path="saved_model.pb", name="saved_model.pb", policy=ScanPolicy())
    return SavedModelHandler().scan(io.BytesIO(data), len(data), c)


def rules(f: list[Finding]) -> list[str]:
    return sorted(x.rule_id for x in f)


BIG_CONST = ld(5, ld(1, b"value") + ld(2, b"\x00" * 100_000))  # attr map with a large tensor


def test_benign_saved_model_passes() -> None:
    data = saved_model(graph(node("x", "Placeholder"), node("w", "Const") + BIG_CONST,
                             node("y", "MatMul"), node("restore", "RestoreV2")))
    assert scan(data) == []
    assert set(collect_ops(io.BytesIO(data), len(data))) == {"Placeholder", "Const", "MatMul",
                                                              "RestoreV2"}


def test_frozen_graphdef_with_readfile() -> None:
    data = graph(node("path", "Const"), node("leak", "ReadFile"))
    f = scan(data)
    assert rules(f) == ["MLG-SCAN-141"] and "leak" in f[0].detail


def test_saved_model_with_writefile() -> None:
    assert rules(scan(saved_model(graph(node("w", "WriteFile"))))) == ["MLG-SCAN-141"]


def test_pyfunc_in_function_library() -> None:
    data = saved_model(graph(node("x", "Placeholder"), functions=(node("cb", "EagerPyFunc"),)))
    f = scan(data)
    assert rules(f) == ["MLG-SCAN-140"] and "EagerPyFunc" in f[0].detail


def test_pyfunc_stateless_and_matching_files() -> None:
    data = graph(node("a", "PyFuncStateless"), node("b", "MatchingFiles"))
    assert rules(scan(data)) == ["MLG-SCAN-140", "MLG-SCAN-141"]


def test_debug_identity_network_op() -> None:
    assert rules(scan(graph(node("d", "DebugIdentity")))) == ["MLG-SCAN-143"]


def test_truncated_protobuf_is_malformed() -> None:
    data = saved_model(graph(node("leak", "ReadFile")))
    assert rules(scan(data[:-3])) == ["MLG-SCAN-142"]


def test_length_past_end_is_malformed() -> None:
    assert rules(scan(varint(1 << 3 | 2) + varint(1 << 40) + b"abc")) == ["MLG-SCAN-142"]


def test_bad_wire_type_is_malformed() -> None:
    assert rules(scan(varint(1 << 3 | 3) + b"\x00")) == ["MLG-SCAN-142"]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_random_bytes_never_raise(data: bytes) -> None:
    assert isinstance(scan(data), list)
