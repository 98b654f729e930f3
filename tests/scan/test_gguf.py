"""GGUF checks on files written with gguf.GGUFWriter and on hand-made hostile headers."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFWriter
from hypothesis import given, settings
from hypothesis import strategies as st

from mlgate.core.findings import Finding, Location
from mlgate.core.policy.scan import ScanPolicy
from mlgate.scan.base import ScanContext
from mlgate.scan.gguf import GgufHandler, template_findings

BENIGN_TEMPLATES = [
    # shaped like the templates real chat models ship (written for this test)
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'system' %}"
    "{{ '<|system|>\n' + message['content'] + eos_token }}{% elif message['role'] == 'user' %}"
    "{{ '<|user|>\n' + message['content'] | trim + eos_token }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}",
    "{%- set ns = namespace(found=false) -%}{%- for m in messages -%}{%- if m.role == 'system' -%}"
    "{%- set ns.found = true -%}{%- endif -%}{%- endfor -%}{%- if tools %}{{ tools | tojson }}"
    "{%- endif %}{{- raise_exception('bad role') if false }}{{ strftime_now('%d %b %Y') }}"
    "{% for i in range(3) %}{{ loop.index0 }}{% endfor %}{{ text.strip().replace('_', ' ') }}",
]

MALICIOUS_TEMPLATES = {
    "subclasses": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "globals_popen": "{{ cycler.__init__.__globals__.os.popen('touch /tmp/marker').read() }}",
    "joiner": "{{ joiner.__init__.__globals__['__builtins__']['__import__']('os') }}",
    "namespace": "{% set x = namespace.__init__ %}{{ x }}",
    "escaped_underscores": "{{ ''['\\x5f\\x5fclass\\x5f\\x5f'] }}",
    "attr_filter": "{{ lipsum|attr('\\u005f\\u005fglobals\\u005f\\u005f') }}",
    "concat": "{% set u = '_' ~ '_' %}{{ ''|attr(u ~ 'class' ~ u) }}",
    "include": "{% include 'x' %}",
}


def ctx() -> ScanContext:
    return ScanContext(path="m.gguf", name="m.gguf", policy=ScanPolicy())


def scan(data: bytes) -> list[Finding]:
    return GgufHandler().scan(io.BytesIO(data), len(data), ctx())


def rules(f: list[Finding]) -> list[str]:
    return sorted(x.rule_id for x in f)


def write(tmp: Path, template: str | None = None, extra: dict[str, str] | None = None) -> bytes:
    path = tmp / "m.gguf"
    w = GGUFWriter(str(path), "llama")
    w.add_name("tiny")
    w.add_uint32("llama.context_length", 128)
    w.add_array("tokenizer.ggml.tokens", ["<s>", "</s>", "a", "b"])
    w.add_array("tokenizer.ggml.scores", [0.0, 0.0, 1.0, 2.0])
    if template is not None:
        w.add_string("tokenizer.chat_template", template)
    for k, v in (extra or {}).items():
        w.add_string(k, v)
    w.add_tensor("tok_embd.weight", np.ones((4, 32), dtype=np.float32))
    w.add_tensor("out.weight", np.zeros((32,), dtype=np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path.read_bytes()


@pytest.mark.parametrize("template", BENIGN_TEMPLATES)
def test_benign_gguf_passes(tmp_path: Path, template: str) -> None:
    assert scan(write(tmp_path, template)) == []


@pytest.mark.parametrize("name", sorted(MALICIOUS_TEMPLATES))
def test_chat_template_injection(tmp_path: Path, name: str) -> None:
    f = scan(write(tmp_path, MALICIOUS_TEMPLATES[name]))
    assert rules(f) == ["MLG-SCAN-132"], name
    assert f[0].severity.value == "critical"


def test_named_chat_template_variant_is_checked(tmp_path: Path) -> None:
    f = scan(write(tmp_path, None, {"tokenizer.chat_template.tool_use":
                                    MALICIOUS_TEMPLATES["globals_popen"]}))
    assert rules(f) == ["MLG-SCAN-132"]


def header(n_tensors: int, n_kv: int, version: int = 3) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", version, n_tensors, n_kv)


def test_header_claims_2_pow_63_tensors() -> None:
    f = scan(header(2**63, 0) + b"\x00" * 64)
    assert rules(f) == ["MLG-SCAN-131"] and "9223372036854775808 tensors" in f[0].detail


def test_header_claims_huge_kv_count() -> None:
    assert rules(scan(header(0, 2**40) + b"\x00" * 64)) == ["MLG-SCAN-131"]


def test_string_length_overflow(tmp_path: Path) -> None:
    data = bytearray(write(tmp_path))
    # first key length sits right after the 24-byte header
    data[24:32] = struct.pack("<Q", 2**64 - 1)
    f = scan(bytes(data))
    assert rules(f) == ["MLG-SCAN-131"] and "length" in f[0].detail


def test_array_count_overflow() -> None:
    key = b"tokenizer.ggml.tokens"
    kv = struct.pack("<Q", len(key)) + key + struct.pack("<IIQ", 9, 8, 2**62)
    assert rules(scan(header(0, 1) + kv + b"\x00" * 32)) == ["MLG-SCAN-131"]


def test_too_many_dims() -> None:
    name = b"t"
    ti = struct.pack("<Q", 1) + name + struct.pack("<I", 5) + struct.pack("<5Q", 1, 1, 1, 1, 1)
    ti += struct.pack("<IQ", 0, 0)
    f = scan(header(1, 0) + ti + b"\x00" * 64)
    assert rules(f) == ["MLG-SCAN-131"] and "5 dimensions" in f[0].detail


def test_dims_overflow() -> None:
    ti = struct.pack("<Q", 1) + b"t" + struct.pack("<I", 2) + struct.pack("<2Q", 2**40, 2**40)
    ti += struct.pack("<IQ", 0, 0)
    assert rules(scan(header(1, 0) + ti + b"\x00" * 64)) == ["MLG-SCAN-131"]


def test_tensor_data_past_end(tmp_path: Path) -> None:
    data = write(tmp_path)
    assert rules(scan(data[:-64])) == ["MLG-SCAN-131"]


def test_bad_magic_and_version() -> None:
    assert rules(scan(b"GGUX" + b"\x00" * 40)) == ["MLG-SCAN-130"]
    assert rules(scan(b"GGUF" + struct.pack("<IQQ", 7, 0, 0))) == ["MLG-SCAN-130"]


def test_truncated_header() -> None:
    assert rules(scan(b"GGUF\x03\x00")) == ["MLG-SCAN-130"]


def test_unknown_value_type() -> None:
    key = b"k"
    kv = struct.pack("<Q", 1) + key + struct.pack("<I", 99) + b"\x00" * 8
    assert rules(scan(header(0, 1) + kv)) == ["MLG-SCAN-130"]


def test_duplicate_keys(tmp_path: Path) -> None:
    path = tmp_path / "d.gguf"
    w = GGUFWriter(str(path), "llama")
    w.add_string("general.name", "a")
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    data = path.read_bytes()
    # append the same key again and bump the kv count
    n_kv = struct.unpack("<Q", data[16:24])[0]
    key = b"general.name"
    kv = struct.pack("<Q", len(key)) + key + struct.pack("<IQ", 8, 1) + b"b"
    body = data[24:]
    new = data[:16] + struct.pack("<Q", n_kv + 1) + kv + body
    assert "MLG-SCAN-134" in rules(scan(new))


def test_overly_long_string_is_skipped_not_read() -> None:
    key = b"general.description"
    n = 17 * 1024 * 1024
    kv = struct.pack("<Q", len(key)) + key + struct.pack("<IQ", 8, n) + b"a" * n
    f = scan(header(0, 1) + kv)
    assert rules(f) == ["MLG-SCAN-133"]


def test_template_findings_direct() -> None:
    loc = Location("tokenizer_config.json")
    assert template_findings(BENIGN_TEMPLATES[0], loc, "t") == []
    assert template_findings(MALICIOUS_TEMPLATES["subclasses"], loc, "t")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_random_bytes_never_raise(data: bytes) -> None:
    assert isinstance(scan(b"GGUF" + data), list)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=10_000), st.binary(min_size=1, max_size=8))
def test_fuzz_mutated_file_never_raises(pos: int, junk: bytes) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        data = bytearray(write(Path(d), BENIGN_TEMPLATES[0]))
    pos %= len(data)
    data[pos:pos + len(junk)] = junk
    assert isinstance(scan(bytes(data)), list)
