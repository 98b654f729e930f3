"""NumPy ``.npy`` files (also ``.npz`` members, which the archive handler dispatches here).

Layout: ``\\x93NUMPY``, major and minor version bytes, a header length (uint16 for version 1,
uint32 for 2 and 3), then a Python dict literal with ``descr``, ``fortran_order`` and ``shape``.
The header is parsed with ``ast.literal_eval`` (literals only, never evaluated code) under a
size cap. For dtypes holding Python objects the payload is a pickle, which is analysed
statically (``analyze_pickle``); for other dtypes the payload size must match the header.
Nothing imports numpy here.
"""

from __future__ import annotations

import ast
import struct
from typing import BinaryIO

from mlgate.core.findings import Finding
from mlgate.scan import rules_pickle as R
from mlgate.scan.allowlist import Allowlist
from mlgate.scan.base import ScanContext
from mlgate.scan.pickle import analyze_pickle

MAGIC = b"\x93NUMPY"
HEADER_CAP = 1 << 20
_BASIC_SIZES = {"b": 1, "?": 1, "B": 1, "h": 2, "H": 2, "i": 4, "I": 4, "l": 8, "L": 8,
                "q": 8, "Q": 8, "e": 2, "f": 4, "d": 8, "g": 16, "F": 8, "D": 16, "G": 32}


class _Bad(Exception):
    pass


def descr_has_object(descr: object) -> bool:
    """Whether a header ``descr`` (type string or structured field list) contains objects."""
    if isinstance(descr, str):
        return descr.lstrip("<>|=").startswith("O")
    if isinstance(descr, list):
        for field in descr:
            if isinstance(field, tuple) and len(field) >= 2 and descr_has_object(field[1]):
                return True
        return False
    return False


def descr_itemsize(descr: object, depth: int = 0) -> int | None:
    """Bytes per element of a header ``descr``; None when it cannot be computed."""
    if depth > 32:
        return None
    if isinstance(descr, str):
        body = descr.lstrip("<>|=")
        if not body:
            return None
        kind = body[0]
        digits = ""
        for ch in body[1:]:
            if not ch.isdigit():
                break
            digits += ch
        if kind in ("U", "w"):
            return 4 * int(digits) if digits else None
        if kind in ("S", "a", "V", "f", "i", "u", "c", "b", "M", "m", "O"):
            if digits:
                return int(digits)
            return 8 if kind in ("M", "m", "O") else (1 if kind == "b" else None)
        if kind in _BASIC_SIZES and len(body) == 1:
            return _BASIC_SIZES[kind]
        return None
    if isinstance(descr, list):
        total = 0
        for field in descr:
            if not isinstance(field, tuple) or len(field) not in (2, 3):
                return None
            size = descr_itemsize(field[1], depth + 1)
            if size is None:
                return None
            if len(field) == 3:
                sub = field[2]
                if isinstance(sub, int):
                    sub = (sub,)
                if not isinstance(sub, tuple) or not all(isinstance(d, int) and d >= 0 for d in sub):
                    return None
                for d in sub:
                    size *= d
            total += size
        return total
    return None


def parse_header(stream: BinaryIO, size: int) -> tuple[dict[str, object], int]:
    """(header dict, payload offset). Raises _Bad with a reason."""
    pre = stream.read(10)
    if len(pre) < 10 or not pre.startswith(MAGIC):
        raise _Bad("file is shorter than the .npy preamble or lacks the magic")
    major = pre[6]
    if major == 1:
        hlen = struct.unpack("<H", pre[8:10])[0]
        start = 10
    elif major in (2, 3):
        more = stream.read(2)
        if len(more) < 2:
            raise _Bad("truncated header length")
        hlen = struct.unpack("<I", pre[8:10] + more)[0]
        start = 12
    else:
        raise _Bad(f"unknown .npy format version {major}.{pre[7]}")
    if hlen > HEADER_CAP:
        raise _Bad(f"header declares {hlen} bytes (limit {HEADER_CAP})")
    if start + hlen > size:
        raise _Bad(f"header declares {hlen} bytes but the file ends first")
    raw = stream.read(hlen)
    if len(raw) < hlen:
        raise _Bad("truncated header")
    try:
        text = raw.decode("utf-8" if major == 3 else "latin-1")
        header = ast.literal_eval(text)
    except (ValueError, SyntaxError, UnicodeDecodeError, MemoryError, RecursionError,
            TypeError) as exc:
        raise _Bad(f"header is not a Python literal: {type(exc).__name__}") from exc
    if not isinstance(header, dict) or set(header) != {"descr", "fortran_order", "shape"}:
        raise _Bad("header is not a dict with exactly 'descr', 'fortran_order' and 'shape'")
    shape = header["shape"]
    if not isinstance(shape, tuple) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise _Bad(f"shape {str(shape)[:60]} is not a tuple of non-negative integers")
    if not isinstance(header["fortran_order"], bool):
        raise _Bad("fortran_order is not a boolean")
    return header, start + hlen


class NumpyHandler:
    name = "numpy"

    def scan(self, stream: BinaryIO, size: int, ctx: ScanContext) -> list[Finding]:
        stream.seek(0)
        try:
            header, offset = parse_header(stream, size)
        except _Bad as exc:
            return [R.NUMPY_MALFORMED.finding(f"{exc}.", ctx.location(offset=0))]
        descr = header["descr"]
        if descr_has_object(descr):
            out = [R.NUMPY_OBJECT_ARRAY.finding(
                f"dtype {str(descr)[:80]} holds Python objects; the payload at offset {offset} "
                "is a pickle and was analysed.", ctx.location(offset=offset))]
            allow = Allowlist.from_policy(ctx.policy.allow_globals)
            analysis = analyze_pickle(stream, size, allow=allow, ctx=ctx, start=offset)
            return out + list(analysis.findings)
        itemsize = descr_itemsize(descr)
        if itemsize is None:
            return [R.NUMPY_MALFORMED.finding(
                f"dtype {str(descr)[:80]} is not a dtype mlgate can size.",
                ctx.location(offset=0))]
        count = 1
        for d in header["shape"]:  # type: ignore[attr-defined]
            count *= int(d)
        expected = count * itemsize
        actual = size - offset
        if expected != actual:
            what = "missing" if actual < expected else "extra"
            return [R.NUMPY_SIZE_MISMATCH.finding(
                f"header declares {expected} payload bytes (shape {header['shape']}, "
                f"{itemsize} bytes each) but the file holds {actual} ({abs(actual - expected)} "
                f"{what}).", ctx.location(offset=offset))]
        return []
