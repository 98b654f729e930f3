"""GGUF (llama.cpp): the header, metadata and tensor table parsed here, with hard caps.

Layout (little-endian; big-endian files are recognised by their byte-swapped version):
``"GGUF"``, uint32 version (1-3), tensor count and metadata count (uint32 in v1, uint64 after),
metadata entries (string key, uint32 type, value), then tensor infos (name, uint32 n_dims,
uint64 dims, uint32 ggml type, uint64 offset). Strings are a length (uint32 in v1, uint64
after) and UTF-8 bytes.

Every count and length is checked against the bytes left in the file *before* it is used:
absurd values (2^63 tensors, a string longer than the file, n_dims > 4, dims whose product
overflows) are what crashed or overflowed real GGUF parsers, so they are findings here and
nothing is allocated for them. ``tokenizer.chat_template`` (and ``tokenizer.chat_template.*``)
is a Jinja2 template rendered by inference servers; it is checked for template-injection
constructs by :func:`template_findings`, which the JSON config handler reuses for
``tokenizer_config.json``. Tensor data is never read.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from typing import Any, BinaryIO

from mlgate.core.findings import Finding, Location
from mlgate.scan import rules_formats as R
from mlgate.scan.base import ScanContext

MAGIC = b"GGUF"
MAX_STRING = 16 * 1024 * 1024
"""Metadata strings longer than this are reported (MLG-SCAN-133) and skipped, not read."""
MAX_ARRAY = 1 << 24
"""Arrays with more elements than this are reported and skipped."""
MAX_ARRAY_DEPTH = 4
MAX_DIMS = 4  # GGML_MAX_DIMS
MAX_REPORTED = 10
MAX_NAME = 64 * 1024

# ggml type -> (block size in elements, bytes per block)
GGML_TYPES: dict[int, tuple[int, int]] = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34),
    9: (32, 40), 10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176),
    14: (256, 210), 15: (256, 292), 16: (256, 66), 17: (256, 74), 18: (256, 98),
    19: (256, 50), 20: (32, 18), 21: (256, 110), 22: (256, 82), 23: (256, 136), 24: (1, 1),
    25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8), 29: (256, 56), 30: (1, 2), 34: (256, 54),
    35: (256, 66), 39: (32, 17), 40: (64, 36), 41: (128, 18),
}
# value type -> struct code for fixed-size scalars
_SCALARS: dict[int, str] = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?",
                            10: "Q", 11: "q", 12: "d"}
T_STRING, T_ARRAY = 8, 9


class GgufError(ValueError):
    def __init__(self, message: str, offset: int, *, absurd: bool = False) -> None:
        super().__init__(message)
        self.offset = offset
        self.absurd = absurd


# --- chat template checks ----------------------------------------------------------------------

_TEMPLATE_PATTERNS: Sequence[tuple[str, re.Pattern[str]]] = [
    ("dunder attribute", re.compile(r"__[A-Za-z_][A-Za-z0-9_]*__|\.\s*_[A-Za-z_]")),
    ("escaped underscore", re.compile(r"\\x5[fF]|\\u005[fF]|\\U0000005[fF]|\\137|\\N\{LOW LINE\}")),
    ("attr() filter", re.compile(r"\|\s*attr\b|\battr\s*\(")),
    ("Python internals", re.compile(
        r"\b(?:mro|subclasses|globals|builtins|func_globals|f_globals|gi_frame|co_code|"
        r"getattribute|im_func)\b")),
    ("process or import", re.compile(
        r"\b(?:popen|subprocess|import_module|importlib|exec|eval|getattr|setattr|os\.|"
        r"sys\.modules|open\s*\()|\.\s*system\b")),
    ("Jinja global object", re.compile(
        r"\b(?:cycler|joiner|lipsum|namespace|self|config|request|range|dict|url_for)\s*\.\s*"
        r"(?:_|init|globals|class)")),
    ("template loading", re.compile(r"\{%-?\s*(?:import|include|extends|from)\b")),
    ("underscore concatenation", re.compile(r"['\"]_+['\"]\s*[~+]|[~+]\s*['\"]_+['\"]")),
]


def template_findings(template: str, location: Location, what: str) -> list[Finding]:
    """Findings for a Jinja2 chat template (GGUF metadata or tokenizer_config.json)."""
    hits: list[str] = []
    for label, pattern in _TEMPLATE_PATTERNS:
        m = pattern.search(template)
        if m:
            hits.append(f"{label}: {m.group(0)[:60]!r}")
    if not hits:
        return []
    return [R.GGUF_TEMPLATE.finding(
        f"{what} contains template-injection constructs: {'; '.join(hits)}", location,
        properties={"patterns": hits})]


# --- the parser -------------------------------------------------------------------------------

class _Reader:
    """Buffered little/big-endian reader that never reads past ``size``."""

    def __init__(self, stream: BinaryIO, size: int, ctx: ScanContext) -> None:
        self.s = stream
        self.size = size
        self.ctx = ctx
        self.pos = 0
        self.buf = b""
        self.buf_at = 0
        self.endian = "<"
        self.ops = 0

    def left(self) -> int:
        return self.size - self.pos

    def read(self, n: int) -> bytes:
        if n > self.left():
            raise GgufError(f"file ends at {self.size}: needed {n} bytes at offset {self.pos}",
                            self.pos)
        rel = self.pos - self.buf_at
        if rel < 0 or rel + n > len(self.buf):
            self.s.seek(self.pos)
            self.buf = self.s.read(max(n, 1 << 16))
            self.buf_at = self.pos
            rel = 0
            if len(self.buf) < n:
                raise GgufError(f"file ends early at offset {self.pos + len(self.buf)}", self.pos)
        self.pos += n
        self.ops += 1
        if self.ops % 8192 == 0:
            self.ctx.check_deadline()
        return self.buf[rel:rel + n]

    def skip(self, n: int) -> None:
        if n > self.left():
            raise GgufError(f"length {n} at offset {self.pos} runs past the end of the file",
                            self.pos, absurd=True)
        self.pos += n

    def u32(self) -> int:
        return int(struct.unpack(self.endian + "I", self.read(4))[0])

    def u64(self) -> int:
        return int(struct.unpack(self.endian + "Q", self.read(8))[0])


class GgufHandler:
    name = "gguf"

    def scan(self, stream: BinaryIO, size: int, ctx: ScanContext) -> list[Finding]:
        findings: list[Finding] = []
        r = _Reader(stream, size, ctx)
        try:
            self._parse(r, ctx, findings)
        except GgufError as exc:
            rule = R.GGUF_ABSURD if exc.absurd else R.GGUF_MALFORMED
            findings.append(rule.finding(str(exc), ctx.location(exc.offset)))
        return findings

    def _parse(self, r: _Reader, ctx: ScanContext, findings: list[Finding]) -> None:
        if r.read(4) != MAGIC:
            raise GgufError("bad magic: not a GGUF file", 0)
        raw_version = r.read(4)
        version = int.from_bytes(raw_version, "little")
        if version not in (1, 2, 3) and int.from_bytes(raw_version, "big") in (1, 2, 3):
            r.endian = ">"
            version = int.from_bytes(raw_version, "big")
        if version not in (1, 2, 3):
            raise GgufError(f"unsupported GGUF version {version}", 4)
        v1 = version == 1
        n_tensors = r.u32() if v1 else r.u64()
        n_kv = r.u32() if v1 else r.u64()
        len_size = 4 if v1 else 8
        # smallest possible entries: a kv is key length + type + 1-byte value; a tensor info is
        # name length + n_dims + type + offset
        if n_kv * (len_size + 4 + 1) > r.left():
            raise GgufError(f"header claims {n_kv} metadata entries; the file holds at most "
                            f"{r.left() // (len_size + 5)}", 16 if not v1 else 12, absurd=True)
        if n_tensors * (len_size + 4 + 4 + 8) > r.left():
            raise GgufError(f"header claims {n_tensors} tensors; the file holds at most "
                            f"{r.left() // (len_size + 16)}", 8, absurd=True)
        keys: set[str] = set()
        dups: list[str] = []
        alignment = 32
        for _ in range(n_kv):
            at = r.pos
            key = self._string(r, len_size, MAX_NAME, findings, ctx, "metadata key")
            vtype = r.u32()
            value = self._value(r, vtype, len_size, key, findings, ctx, 0)
            if key in keys:
                dups.append(key)
            keys.add(key)
            if key == "general.alignment":
                if not isinstance(value, int) or value <= 0 or value & (value - 1):
                    raise GgufError(f"general.alignment {value!r} is not a power of two", at)
                alignment = value
            if isinstance(value, str) and key.startswith("tokenizer.chat_template"):
                findings.extend(template_findings(value, ctx.location(at), f"metadata {key!r}"))
        names: set[str] = set()
        tensors: list[tuple[str, int, int, int]] = []  # name, offset, nbytes, info offset
        for _ in range(n_tensors):
            at = r.pos
            name = self._string(r, len_size, MAX_NAME, findings, ctx, "tensor name")
            n_dims = r.u32()
            if n_dims > MAX_DIMS:
                raise GgufError(f"tensor {name[:80]!r} has {n_dims} dimensions (max {MAX_DIMS})",
                                at, absurd=True)
            dims = [r.u32() if v1 else r.u64() for _ in range(n_dims)]
            ttype = r.u32()
            offset = r.u64()
            if ttype not in GGML_TYPES:
                raise GgufError(f"tensor {name[:80]!r} has unknown ggml type {ttype}", at)
            count = 1
            for d in dims:
                count *= d
            if count >= 1 << 63:
                raise GgufError(f"tensor {name[:80]!r} dims {dims} overflow 64 bits", at,
                                absurd=True)
            block, block_bytes = GGML_TYPES[ttype]
            if dims and dims[0] % block:
                raise GgufError(f"tensor {name[:80]!r} first dim {dims[0]} is not a multiple of "
                                f"the block size {block}", at)
            if offset % alignment:
                raise GgufError(f"tensor {name[:80]!r} offset {offset} is not aligned to "
                                f"{alignment}", at)
            if name in names:
                dups.append(name)
            names.add(name)
            tensors.append((name, offset, count // block * block_bytes, at))
        if dups:
            findings.append(R.GGUF_DUPLICATE.finding(
                "repeated names: " + ", ".join(repr(d[:80]) for d in dups[:MAX_REPORTED]),
                ctx.location()))
        data_start = -(-r.pos // alignment) * alignment
        data_len = r.size - data_start
        for name, offset, nbytes, at in tensors:
            if offset + nbytes > data_len:
                raise GgufError(f"tensor {name[:80]!r} data [{offset}, {offset + nbytes}) runs "
                                f"past the {data_len}-byte data section", at, absurd=True)

    def _string(self, r: _Reader, len_size: int, cap: int, findings: list[Finding],
                ctx: ScanContext, what: str) -> str:
        at = r.pos
        n = r.u32() if len_size == 4 else r.u64()
        if n > r.left():
            raise GgufError(f"{what} length {n} at offset {at} is larger than the rest of the "
                            f"file ({r.left()} bytes)", at, absurd=True)
        if n > cap:
            findings.append(R.GGUF_LONG_VALUE.finding(
                f"{what} of {n} bytes at offset {at} (limit {cap}) was skipped", ctx.location(at)))
            r.skip(n)
            return f"<skipped {n} bytes>"
        raw = r.read(n)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise GgufError(f"{what} at offset {at} is not UTF-8", at) from exc

    def _value(self, r: _Reader, vtype: int, len_size: int, key: str, findings: list[Finding],
               ctx: ScanContext, depth: int) -> Any:
        if vtype in _SCALARS:
            code = _SCALARS[vtype]
            return struct.unpack(r.endian + code, r.read(struct.calcsize(code)))[0]
        if vtype == T_STRING:
            return self._string(r, len_size, MAX_STRING, findings, ctx, f"value of {key[:80]!r}")
        if vtype == T_ARRAY:
            at = r.pos
            if depth >= MAX_ARRAY_DEPTH:
                raise GgufError(f"arrays nest deeper than {MAX_ARRAY_DEPTH} in {key[:80]!r}", at,
                                absurd=True)
            etype = r.u32()
            count = r.u32() if len_size == 4 else r.u64()
            if etype in _SCALARS:
                nbytes = count * struct.calcsize(_SCALARS[etype])
                if nbytes > r.left():
                    raise GgufError(f"array {key[:80]!r} claims {count} elements, more than the "
                                    "file holds", at, absurd=True)
                r.skip(nbytes)
                return None
            if etype not in (T_STRING, T_ARRAY):
                raise GgufError(f"array {key[:80]!r} has unknown element type {etype}", at)
            min_size = len_size if etype == T_STRING else 4 + len_size
            if count * min_size > r.left():
                raise GgufError(f"array {key[:80]!r} claims {count} elements, more than the "
                                "file holds", at, absurd=True)
            if count > MAX_ARRAY:
                findings.append(R.GGUF_LONG_VALUE.finding(
                    f"array {key[:80]!r} has {count} elements (limit {MAX_ARRAY})",
                    ctx.location(at)))
            for _ in range(count):
                if etype == T_STRING:
                    n = r.u32() if len_size == 4 else r.u64()
                    if n > r.left():
                        raise GgufError(f"string in array {key[:80]!r} claims {n} bytes, more "
                                        "than the file holds", r.pos, absurd=True)
                    r.skip(n)
                else:
                    self._value(r, T_ARRAY, len_size, key, findings, ctx, depth + 1)
            return None
        raise GgufError(f"metadata {key[:80]!r} has unknown value type {vtype}", r.pos - 4)
