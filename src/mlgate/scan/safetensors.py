"""safetensors: the header is parsed here, by the reference loader's rules, without loading.

Layout: 8-byte little-endian header length N, N bytes of UTF-8 JSON (an object mapping tensor
names to ``{"dtype", "shape", "data_offsets"}`` plus an optional ``__metadata__`` str->str map),
then the data section. The reference loader accepts a file only when:

- N <= 100 MB and 8 + N <= file size; the header starts with ``{`` (trailing spaces allowed);
- every dtype is known, every shape a list of non-negative integers, every ``data_offsets`` a
  pair ``[begin, end]`` with begin <= end;
- sorted by offset, the tensors cover the data section back to back: no overlap, no gap, and
  the last tensor ends exactly at the end of the file (no trailing bytes);
- ``end - begin`` equals the element count times the dtype size.

Anything else is a finding here (fail closed). Duplicate JSON keys are a finding too (parsers
differ on which value wins). Bytes hidden in gaps or after the data are handed to the engine's
nested scan when they look like a pickle, so a smuggled payload is analysed, not only noticed.
Tensor payload bytes are never read.
"""

from __future__ import annotations

import json
from typing import Any, BinaryIO, cast

from mlgate.core.findings import Finding
from mlgate.scan import rules_formats as R
from mlgate.scan.base import ScanContext

MAX_HEADER = 100_000_000
# tensors per file parsed into objects; the largest real shards hold a few thousand. Counted in
# the raw bytes first, because parsing a 100 MB header of tiny entries costs over a gigabyte.
MAX_TENSORS = 200_000
"""The reference loader's header size limit (bytes)."""

DTYPE_BITS: dict[str, int] = {
    "BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8,
    "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
    "I16": 16, "U16": 16, "F16": 16, "BF16": 16,
    "I32": 32, "U32": 32, "F32": 32,
    "I64": 64, "U64": 64, "F64": 64, "C64": 64,
}
"""dtype name -> bits per element, as the reference loader defines them."""

MAX_REPORTED = 20
"""At most this many per-tensor problems are reported one by one (the rest are counted)."""


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def _pairs_no_dup(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def parse_header_json(raw: bytes) -> dict[str, Any]:
    """Decode a safetensors header strictly. Raises ``_DuplicateKey`` or ``ValueError``."""
    text = raw.decode("utf-8")  # UnicodeDecodeError is a ValueError
    if not text.startswith("{"):
        raise ValueError("header does not start with '{'")
    try:
        value = json.loads(text, object_pairs_hook=_pairs_no_dup, parse_constant=_reject_constant)
    except RecursionError as exc:
        raise ValueError("header nests too deeply") from exc
    if not isinstance(value, dict):
        raise ValueError("header is not a JSON object")
    return value


class SafetensorsHandler:
    name = "safetensors"

    def scan(self, stream: BinaryIO, size: int, ctx: ScanContext) -> list[Finding]:
        head = stream.read(8)
        if len(head) < 8:
            return [R.ST_HEADER_LENGTH.finding(
                f"file is {len(head)} bytes, shorter than the 8-byte header length",
                ctx.location(0))]
        n = int.from_bytes(head, "little")
        if n > MAX_HEADER:
            return [R.ST_HEADER_LENGTH.finding(
                f"header length {n} exceeds the {MAX_HEADER}-byte limit of the reference loader",
                ctx.location(0), properties={"header_length": n})]
        if 8 + n > size:
            return [R.ST_HEADER_LENGTH.finding(
                f"header length {n} runs past the end of the {size}-byte file",
                ctx.location(0), properties={"header_length": n, "file_size": size})]
        raw = stream.read(n)
        if len(raw) < n:
            return [R.ST_HEADER_LENGTH.finding(
                f"file ends inside the header ({len(raw)} of {n} bytes)", ctx.location(8))]
        ctx.check_deadline()
        entries = raw.count(b"data_offsets")
        if entries > MAX_TENSORS:
            return [R.ST_HEADER_LENGTH.finding(
                f"header describes about {entries} tensors (limit {MAX_TENSORS}); not parsed",
                ctx.location(8), properties={"tensors": entries})]
        try:
            header = parse_header_json(raw)
        except _DuplicateKey as exc:
            return [R.ST_DUPLICATE_KEY.finding(
                f"key {exc.key[:200]!r} appears more than once in the header", ctx.location(8))]
        except ValueError as exc:
            return [R.ST_HEADER_JSON.finding(f"invalid header: {str(exc)[:300]}", ctx.location(8))]
        return self._check(header, 8 + n, size, stream, ctx)

    def _check(
        self, header: dict[str, Any], data_start: int, size: int, stream: BinaryIO,
        ctx: ScanContext,
    ) -> list[Finding]:
        findings: list[Finding] = []
        data_len = size - data_start
        meta = header.pop("__metadata__", None)
        if meta is not None and not (
            isinstance(meta, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items())
        ):
            findings.append(R.ST_METADATA.finding(
                "__metadata__ must be an object of string values", ctx.location(8)))
        bad: list[str] = []
        spans: list[tuple[int, int, str]] = []
        for name, info in header.items():
            ctx.check_deadline()
            problem = _check_entry(info, data_len)
            if problem is None:
                spans.append((info["data_offsets"][0], info["data_offsets"][1], name))
            else:
                bad.append(f"{name[:120]!r}: {problem}")
        if bad:
            shown = "; ".join(bad[:MAX_REPORTED])
            more = f" (and {len(bad) - MAX_REPORTED} more)" if len(bad) > MAX_REPORTED else ""
            findings.append(R.ST_BAD_TENSOR.finding(
                f"{len(bad)} invalid tensor entr{'y' if len(bad) == 1 else 'ies'}: {shown}{more}",
                ctx.location(8), properties={"invalid_tensors": len(bad)}))
        findings.extend(self._check_layout(spans, data_start, data_len, bad_entries=bool(bad),
                                           stream=stream, ctx=ctx))
        return findings

    def _check_layout(
        self, spans: list[tuple[int, int, str]], data_start: int, data_len: int, *,
        bad_entries: bool, stream: BinaryIO, ctx: ScanContext,
    ) -> list[Finding]:
        spans.sort()
        problems: list[str] = []
        hidden: list[tuple[int, int]] = []  # (absolute offset, length) of unclaimed bytes
        cursor = 0
        for begin, end, name in spans:
            if begin < cursor:
                problems.append(f"tensor {name[:120]!r} [{begin}, {end}) overlaps the previous "
                                f"tensor (which ends at {cursor})")
            elif begin > cursor and not bad_entries:
                problems.append(f"{begin - cursor} unclaimed bytes before tensor {name[:120]!r} "
                                f"at data offset {cursor}")
                hidden.append((data_start + cursor, begin - cursor))
            cursor = max(cursor, end)
        if cursor < data_len and not bad_entries:
            problems.append(f"{data_len - cursor} trailing bytes after the last tensor "
                            f"(data section ends at {cursor}, file at {data_len})")
            hidden.append((data_start + cursor, data_len - cursor))
        if not problems:
            return []
        shown = "; ".join(problems[:MAX_REPORTED])
        more = f" (and {len(problems) - MAX_REPORTED} more)" if len(problems) > MAX_REPORTED else ""
        where = hidden[0][0] if hidden else data_start
        out = [R.ST_LAYOUT.finding(shown + more, ctx.location(where))]
        out.extend(self._scan_hidden(hidden, stream, ctx))
        return out

    def _scan_hidden(
        self, hidden: list[tuple[int, int]], stream: BinaryIO, ctx: ScanContext
    ) -> list[Finding]:
        """Hand unclaimed regions to the engine (a pickle hidden in a safetensors file)."""
        if ctx.scan_nested is None:
            return []
        out: list[Finding] = []
        for offset, length in hidden[:4]:
            stream.seek(offset)
            first = stream.read(2)
            if len(first) == 2 and first[0] == 0x80 and first[1] <= 5:
                name = f"unclaimed-bytes@{offset}"
                stream.seek(offset)
                out.extend(ctx.scan_nested(cast(BinaryIO, _Window(stream, offset, length)), length, name,
                                           ctx.child(name)))
        return out


def _check_entry(info: Any, data_len: int) -> str | None:
    """Why one tensor entry is invalid, or None."""
    if not isinstance(info, dict):
        return "entry is not an object"
    extra = set(info) - {"dtype", "shape", "data_offsets"}
    if extra:
        return f"unknown fields {sorted(extra)[:5]}"
    dtype = info.get("dtype")
    if not isinstance(dtype, str) or dtype not in DTYPE_BITS:
        return f"unknown dtype {str(dtype)[:40]!r}"
    shape = info.get("shape")
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        return "shape is not a list of non-negative integers"
    offsets = info.get("data_offsets")
    if not (
        isinstance(offsets, list) and len(offsets) == 2
        and all(isinstance(o, int) and not isinstance(o, bool) and o >= 0 for o in offsets)
    ):
        return "data_offsets is not a pair of non-negative integers"
    begin, end = offsets
    if begin > end:
        return f"data_offsets [{begin}, {end}] are reversed"
    if end > data_len:
        return f"data_offsets [{begin}, {end}] run past the {data_len}-byte data section"
    # element count, stopping early once it cannot fit (shapes may hold huge numbers)
    count = 1
    for d in shape:
        count *= d
        if count * DTYPE_BITS[dtype] > (data_len + 1) * 8 and count != 0:
            return f"shape {shape[:8]} needs more bytes than the data section holds"
    bits = count * DTYPE_BITS[dtype]
    if bits % 8:
        return f"shape {shape[:8]} of {dtype} is not a whole number of bytes"
    if bits // 8 != end - begin:
        return (f"shape {shape[:8]} of {dtype} needs {bits // 8} bytes but data_offsets span "
                f"{end - begin}")
    return None


class _Window:
    """A read-only, seekable view of ``length`` bytes of ``stream`` starting at ``start``."""

    def __init__(self, stream: BinaryIO, start: int, length: int) -> None:
        self._s = stream
        self._start = start
        self._len = length
        self._pos = 0

    def read(self, n: int = -1) -> bytes:
        left = self._len - self._pos
        if n is None or n < 0 or n > left:
            n = left
        if n <= 0:
            return b""
        self._s.seek(self._start + self._pos)
        data = self._s.read(n)
        self._pos += len(data)
        return data

    def readinto(self, buf: Any) -> int:
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._len}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True
