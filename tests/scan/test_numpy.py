"""NumPy .npy handler: object arrays are analysed as pickles, headers are checked, sizes must
match. Files are written with numpy.save or assembled by hand; never loaded."""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlgate.core.findings import Severity
from mlgate.scan.numpy import NumpyHandler, descr_itemsize
from tests.scan.conftest import make_ctx, marker_command

np = pytest.importorskip("numpy")


def scan(data: bytes, allow: list[str] | None = None) -> list[tuple[str, Severity, str]]:
    out = NumpyHandler().scan(io.BytesIO(data), len(data), make_ctx("a.npy", allow))
    return [(f.rule_id, f.severity, f.detail) for f in out]


def saved(arr: object, **kw: object) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, **kw)
    return buf.getvalue()


class _SystemCall:
    def __init__(self, cmd: str) -> None:
        self.cmd = cmd

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (self.cmd,))


@pytest.mark.parametrize("arr", [
    np.arange(12, dtype=np.float32).reshape(3, 4),
    np.zeros((0, 5)),
    np.array(["abc", "d"]),
    np.zeros(3, dtype=[("a", "<f4"), ("b", "<i8", (2,))]),
    np.asfortranarray(np.ones((3, 2), dtype=np.complex128)),
    np.array(3.5),
    np.zeros(4, dtype="datetime64[s]"),
])
def test_benign_arrays_pass(arr: object) -> None:
    assert scan(saved(arr)) == []


def test_benign_object_array_of_plain_values_is_info_only() -> None:
    data = saved(np.array([1, "two", None, 3.5], dtype=object), allow_pickle=True)
    found = scan(data)
    assert [r for r, _, _ in found] == ["MLG-SCAN-061"]
    assert found[0][1] is Severity.INFO


def test_object_array_with_malicious_reduce(marker: Path) -> None:
    arr = np.empty(1, dtype=object)
    arr[0] = _SystemCall(marker_command(marker))
    found = scan(saved(arr, allow_pickle=True))
    crit = [d for r, s, d in found if r == "MLG-SCAN-050" and s is Severity.CRITICAL]
    assert crit and ".system" in crit[0]
    assert not marker.exists()


def test_structured_dtype_with_object_field_is_analysed() -> None:
    arr = np.zeros(2, dtype=[("a", "<f4"), ("b", "O")])
    found = scan(saved(arr, allow_pickle=True))
    assert "MLG-SCAN-061" in {r for r, _, _ in found}


def test_truncated_payload_is_size_mismatch() -> None:
    data = saved(np.arange(100, dtype=np.int64))[:-8]
    found = scan(data)
    assert [r for r, _, _ in found] == ["MLG-SCAN-062"]
    assert "missing" in found[0][2]


def test_appended_bytes_are_size_mismatch() -> None:
    found = scan(saved(np.arange(4)) + b"import os")
    assert [r for r, _, _ in found] == ["MLG-SCAN-062"]
    assert "extra" in found[0][2]


def _npy(header: bytes, payload: bytes = b"", version: int = 1) -> bytes:
    if version == 1:
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + payload
    return b"\x93NUMPY" + bytes([version, 0]) + struct.pack("<I", len(header)) + header + payload


@pytest.mark.parametrize("header", [
    b"{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'x': __import__('os')}",
    b"__import__('os').system('id')",
    b"{'descr': '<f8', 'fortran_order': False}",
    b"{'descr': '<f8', 'fortran_order': 'no', 'shape': (1,)}",
    b"{'descr': '<f8', 'fortran_order': False, 'shape': (-1,)}",
    b"{'descr': '<f8', 'fortran_order': False, 'shape': " + b"(" * 500 + b")" * 500 + b"}",
    b"\xff\xfe not a dict",
])
def test_malformed_headers(header: bytes) -> None:
    found = scan(_npy(header, b"\0" * 8))
    assert [r for r, _, _ in found] == ["MLG-SCAN-060"]
    assert found[0][1] >= Severity.HIGH


def test_header_longer_than_file() -> None:
    data = b"\x93NUMPY\x02\x00" + struct.pack("<I", 1 << 31) + b"{}"
    assert [r for r, _, _ in scan(data)] == ["MLG-SCAN-060"]


def test_version_3_utf8_header() -> None:
    header = b"{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }"
    assert scan(_npy(header, b"\0" * 8, version=3)) == []


def test_object_array_hidden_after_pickle_is_trailing() -> None:
    data = saved(np.array([1, 2], dtype=object), allow_pickle=True) + b"junk"
    assert "MLG-SCAN-056" in {r for r, _, _ in scan(data)}


def test_itemsize_parser() -> None:
    for d in ("<f8", "|b1", "<U7", "|S3", "<c16", "<M8[ns]", "|V12", "<i2"):
        assert descr_itemsize(d) == np.dtype(d).itemsize, d
    fields = [("a", "<f4"), ("b", "<i8", (2, 3)), ("c", [("x", "|u1")])]
    assert descr_itemsize(fields) == np.dtype(fields).itemsize


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_npy_bytes_never_raise(tail: bytes) -> None:
    data = b"\x93NUMPY" + tail
    NumpyHandler().scan(io.BytesIO(data), len(data), make_ctx("a.npy"))
