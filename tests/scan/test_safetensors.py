"""safetensors header checks: one test per technique, on files made with the safetensors package
and then corrupted the way an attacker would."""

from __future__ import annotations

import io
import json
import pickle
import struct
import tracemalloc
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.numpy import save, save_file

from mlgate.core.findings import Finding
from mlgate.core.policy import load_policy
from mlgate.core.policy.scan import ScanPolicy
from mlgate.scan.base import ScanContext
from mlgate.scan.engine import scan_paths
from mlgate.scan.safetensors import SafetensorsHandler


def ctx(nested: list[tuple[str, bytes]] | None = None) -> ScanContext:
    c = ScanContext(path="model.safetensors", name="model.safetensors", policy=ScanPolicy())
    if nested is not None:
        def scan_nested(stream: BinaryIO, size: int, name: str, _c: ScanContext) -> list[Finding]:
            nested.append((name, stream.read()))
            return []
        c.scan_nested = scan_nested
    return c


def scan(data: bytes, c: ScanContext | None = None) -> list[Finding]:
    return SafetensorsHandler().scan(io.BytesIO(data), len(data), c or ctx())


def rules(findings: list[Finding]) -> list[str]:
    return sorted(f.rule_id for f in findings)


def benign() -> bytes:
    return save({"a": np.arange(6, dtype=np.float32).reshape(2, 3),
                 "b": np.zeros((4,), dtype=np.int64)}, metadata={"format": "np"})


def split(data: bytes) -> tuple[dict[str, Any], bytes]:
    n = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8:8 + n]), data[8 + n:]


def build(header: dict[str, Any] | str, payload: bytes) -> bytes:
    raw = (header if isinstance(header, str) else json.dumps(header)).encode()
    return struct.pack("<Q", len(raw)) + raw + payload


def test_benign_file_from_safetensors_package_passes(tmp_path: Path) -> None:
    save_file({"w": np.ones((3, 3), dtype=np.float16)}, tmp_path / "m.safetensors")
    data = (tmp_path / "m.safetensors").read_bytes()
    assert scan(data) == []
    assert scan(benign()) == []


def test_empty_tensor_and_padded_header_pass() -> None:
    data = save({"e": np.zeros((0, 3), dtype=np.float32), "x": np.ones(2, dtype=np.uint8)})
    assert scan(data) == []
    header, payload = split(data)
    raw = json.dumps(header).encode() + b"      "  # trailing spaces are allowed
    assert scan(struct.pack("<Q", len(raw)) + raw + payload) == []


def test_header_length_overflow() -> None:
    data = benign()
    bad = struct.pack("<Q", 2**64 - 1) + data[8:]
    assert rules(scan(bad)) == ["MLG-SCAN-100"]


def test_header_larger_than_file() -> None:
    data = benign()
    n = struct.unpack("<Q", data[:8])[0]
    bad = struct.pack("<Q", n + len(data)) + data[8:]
    f = scan(bad)
    assert rules(f) == ["MLG-SCAN-100"] and "past the end" in f[0].detail


def test_file_shorter_than_length_prefix() -> None:
    assert rules(scan(b"\x10\x00\x00")) == ["MLG-SCAN-100"]


def test_header_not_json() -> None:
    assert rules(scan(build("{not json", b""))) == ["MLG-SCAN-101"]


def test_header_with_nan_constant_rejected() -> None:
    assert rules(scan(build('{"__metadata__": {"a": NaN}}', b""))) == ["MLG-SCAN-101"]


def test_header_deeply_nested_is_a_finding_not_a_crash() -> None:
    assert rules(scan(build("{\"a\":" + "[" * 100000 + "]" * 100000 + "}", b""))) == ["MLG-SCAN-101"]


def test_duplicate_keys() -> None:
    data = benign()
    header, payload = split(data)
    text = json.dumps(header)
    dup = text[:-1] + ', "a": ' + json.dumps(header["a"]) + "}"
    f = scan(build(dup, payload))
    assert rules(f) == ["MLG-SCAN-102"] and "'a'" in f[0].detail


def test_bad_dtype() -> None:
    header, payload = split(benign())
    header["a"]["dtype"] = "PICKLE"
    f = scan(build(header, payload))
    assert rules(f) == ["MLG-SCAN-103"] and "unknown dtype" in f[0].detail


def test_offsets_inconsistent_with_shape() -> None:
    header, payload = split(benign())
    header["a"]["shape"] = [2, 4]
    f = scan(build(header, payload))
    assert "MLG-SCAN-103" in rules(f) and "needs 32 bytes" in f[0].detail


def test_huge_shape_does_not_hang() -> None:
    header, payload = split(benign())
    header["a"]["shape"] = [2**62] * 50
    assert "MLG-SCAN-103" in rules(scan(build(header, payload)))


def test_offsets_past_data_section() -> None:
    header, payload = split(benign())
    header["b"]["data_offsets"] = [24, 10**12]
    assert "MLG-SCAN-103" in rules(scan(build(header, payload)))


def test_overlapping_offsets() -> None:
    # two tensors claiming the same bytes: a 'b' that also reads 'a'
    a = np.arange(4, dtype=np.float32)
    data = save({"a": a, "b": a})
    header, payload = split(data)
    header["b"]["data_offsets"] = [0, 16]
    f = scan(build(header, payload[:16]))
    assert rules(f) == ["MLG-SCAN-104"] and "overlaps" in f[0].detail


def test_trailing_bytes() -> None:
    f = scan(benign() + b"\x00" * 7)
    assert rules(f) == ["MLG-SCAN-104"] and "7 trailing bytes" in f[0].detail


def test_gap_between_tensors() -> None:
    header, payload = split(benign())
    # move 'b' 8 bytes further: a hole appears between 'a' and 'b'
    b0, b1 = header["b"]["data_offsets"]
    header["b"]["data_offsets"] = [b0 + 8, b1 + 8]
    f = scan(build(header, payload[:b0] + b"\xff" * 8 + payload[b0:]))
    assert rules(f) == ["MLG-SCAN-104"] and "unclaimed" in f[0].detail


def test_appended_pickle_is_handed_to_the_nested_scan() -> None:
    payload = pickle.dumps({"x": 1}, protocol=4)
    seen: list[tuple[str, bytes]] = []
    f = scan(benign() + payload, ctx(seen))
    assert rules(f) == ["MLG-SCAN-104"]
    assert seen and seen[0][1] == payload


def test_metadata_not_string_map() -> None:
    header, payload = split(benign())
    header["__metadata__"] = {"n": 3}
    assert rules(scan(build(header, payload))) == ["MLG-SCAN-105"]


def test_unknown_entry_field() -> None:
    header, payload = split(benign())
    header["a"]["loader"] = "os.system"
    assert "MLG-SCAN-103" in rules(scan(build(header, payload)))


def test_entry_not_an_object() -> None:
    header, payload = split(benign())
    header["junk"] = [1, 2]
    assert "MLG-SCAN-103" in rules(scan(build(header, payload)))


def _reference_accepts(data: bytes) -> bool:
    from safetensors import deserialize

    try:
        deserialize(data)
    except Exception:
        return False
    return True


@pytest.mark.parametrize("mutate", ["dtype", "trailing", "overlap", "ok"])
def test_agrees_with_reference_loader(mutate: str) -> None:
    header, payload = split(benign())
    if mutate == "dtype":
        header["a"]["dtype"] = "F31"
    elif mutate == "trailing":
        payload += b"x"
    elif mutate == "overlap":
        header["b"]["data_offsets"] = [0, 32]
        payload = payload[:32]
    data = build(header, payload)
    assert (scan(data) == []) == _reference_accepts(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_fuzz_random_bytes_never_raise(data: bytes) -> None:
    result = scan(data)
    assert isinstance(result, list)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=400), st.binary(min_size=1, max_size=8))
def test_fuzz_mutated_benign_file_never_raises(pos: int, junk: bytes) -> None:
    data = bytearray(benign())
    pos = pos % len(data)
    data[pos:pos + len(junk)] = junk
    result = scan(bytes(data))
    # whatever we say, a file the reference loader rejects is never a clean pass
    if not result:
        assert _reference_accepts(bytes(data))


def test_header_with_hundreds_of_thousands_of_tensors_is_not_parsed(tmp_path: Path) -> None:
    entries = ",".join(f'"t{i}":{{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}'
                       for i in range(250_000))
    header = ("{" + entries + "}").encode()
    path = tmp_path / "many.safetensors"
    path.write_bytes(len(header).to_bytes(8, "little") + header)
    tracemalloc.start()
    report = scan_paths([path], policy=load_policy("commercial-safe"))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [f.rule_id for f in report.findings] == ["MLG-SCAN-100"]
    assert "250000 tensors" in report.findings[0].detail
    assert peak < 200 << 20  # the 15 MB header is counted, never turned into 250k dicts
