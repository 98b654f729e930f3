"""Shared builders of hostile and benign files for the scan tests. Nothing here loads a model:
files are written with pickle.dumps / torch.save / numpy.save / joblib.dump or assembled from
raw opcodes, and only ever read back as bytes.

Payloads are harmless: the command they would run only creates a marker file, and tests assert
the marker never appears."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from mlgate.core.policy.scan import ScanPolicy
from mlgate.scan.base import ScanContext


def make_ctx(path: str = "model.pkl", allow_globals: list[str] | None = None) -> ScanContext:
    """A ScanContext for calling a handler directly (no engine)."""
    return ScanContext(path=path, name=path.rsplit("/", 1)[-1],
                       policy=ScanPolicy(allow_globals=allow_globals or []))


@pytest.fixture
def scan_ctx() -> ScanContext:
    return make_ctx()


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    """A path that a payload would create if anything ever executed it."""
    return tmp_path / "PWNED_MARKER"


# --- raw pickle opcode builders (protocol 0-5) -----------------------------------------------

def p_proto(n: int) -> bytes:
    return b"\x80" + bytes([n])


def p_global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def p_inst(module: str, name: str) -> bytes:
    return b"i" + module.encode() + b"\n" + name.encode() + b"\n"


def p_str(s: str) -> bytes:
    """SHORT_BINUNICODE (or BINUNICODE when longer than 255 bytes)."""
    raw = s.encode()
    if len(raw) < 256:
        return b"\x8c" + bytes([len(raw)]) + raw
    return b"X" + struct.pack("<I", len(raw)) + raw


def p_binput(i: int) -> bytes:
    return b"q" + bytes([i])


def p_binget(i: int) -> bytes:
    return b"h" + bytes([i])


MARK = b"("
STOP = b"."
REDUCE = b"R"
TUPLE = b"t"
TUPLE1 = b"\x85"
TUPLE2 = b"\x86"
STACK_GLOBAL = b"\x93"
MEMOIZE = b"\x94"
NONE = b"N"
EMPTY_DICT = b"}"
BUILD = b"b"


def call_global(module: str, name: str, *args: str, proto: int = 2) -> bytes:
    """A pickle that calls module.name(*args) with GLOBAL + REDUCE (string args)."""
    body = p_global(module, name) + MARK + b"".join(p_str(a) for a in args) + TUPLE + REDUCE
    return p_proto(proto) + body + STOP


def marker_command(marker: Path) -> str:
    return f"touch {marker}"
