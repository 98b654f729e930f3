"""Static analysis of pickle opcode streams (protocols 0-5). Nothing here unpickles.

A small abstract machine walks the opcodes the way ``pickle.Unpickler`` would, but with
*descriptions* of values instead of values: constant strings and numbers (capped), small
tuples/lists/dicts, imported globals, and "results of calls". That is enough to resolve every
STACK_GLOBAL whose module and name are constants (pushed directly or fetched from the memo), to
say which callable each REDUCE/NEWOBJ/OBJ/INST/BUILD calls, and to follow the two real-world
layouts that interleave raw bytes with opcodes (legacy ``torch.save`` files and ``joblib.dump``
arrays). Memory is bounded: large string/bytes arguments are skipped with ``seek`` after their
first ``STRING_CAP`` bytes, containers keep at most ``CONTAINER_CAP`` items, and the stack,
nesting and memo have caps past which the analysis continues without tracking values (a
finding says so).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import BinaryIO, Union

from mlgate.core.findings import Finding
from mlgate.core.rules import Rule
from mlgate.scan import rules_pickle as R
from mlgate.scan.allowlist import Allowlist, canonical
from mlgate.scan.base import ScanContext, ScanTimeout

STRING_CAP = 256
CONTAINER_CAP = 16
STACK_CAP = 200_000
NEST_CAP = 100_000
MEMO_CAP = 500_000
MEMO_STR_CAP = 128  # longer memoized strings are not kept (no module or name is this long)
MEMO_RICH_CAP = 10_000  # memo entries that keep a call result (dtype objects, suspicious calls)
RECORD_CAP = 10_000  # GlobalUse/CallUse records kept per stream (findings count every one)
FINDINGS_CAP = 200
DEADLINE_EVERY = 4096
_CHECK_MASK = DEADLINE_EVERY - 1  # out-of-line loops check the deadline every 4096 opcodes
_CHECK_BYTES = 1 << 15  # the inline loop checks the deadline and caps every 32 KiB of opcodes
_LOOKAHEAD = 16  # bytes the hot loop keeps buffered: the longest inline opcode is 9 bytes
CHUNK = 1 << 18
LINE_CAP = 1 << 20  # protocol-0 text arguments longer than this are a broken stream
NESTED_PICKLE_DEPTH = 4

TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_TORCH_LEGACY_PICKLES = 5  # magic, protocol, sys_info, object, storage keys

# --- abstract values --------------------------------------------------------------------------


class _Other:
    """A value the analysis does not track."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "?"


OTHER = _Other()


@dataclass(frozen=True)
class Global:
    module: str
    name: str
    offset: int
    opcode: str

    @property
    def dotted(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass(frozen=True)
class TruncStr:
    """A string longer than STRING_CAP (only its head is kept)."""

    head: str


class Obj:
    """The result of a call (REDUCE/NEWOBJ/OBJ/INST): which callable made it, its arguments
    and the state BUILD gave it."""

    __slots__ = ("args", "callee", "state")

    def __init__(self, callee: Value, args: Value) -> None:
        self.callee = callee
        self.args = args
        self.state: Value = OTHER


class Cont:
    """A list, dict or set built by the pickle (at most CONTAINER_CAP items are kept).

    ``items`` and ``mapping`` start as shared empty containers and are allocated on the first
    insert, so the many empty or untracked containers of a large pickle cost one small object.
    """

    __slots__ = ("items", "kind", "length", "mapping")

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.items: list[Value] = _NO_ITEMS
        self.mapping: dict[Value, Value] = _NO_MAPPING
        self.length = 0

    def add(self, value: Value) -> None:
        self.length += 1
        items = self.items
        if items is _NO_ITEMS:
            items = self.items = []
        if len(items) < CONTAINER_CAP:
            items.append(value)

    def put(self, key: Value, value: Value) -> None:
        self.length += 1
        mapping = self.mapping
        if mapping is _NO_MAPPING:
            mapping = self.mapping = {}
        if len(mapping) < CONTAINER_CAP:
            mapping[key] = value

    def add_many(self, stack: list[Value], k: int) -> None:
        """APPENDS/ADDITEMS: the items are ``stack[k:]``."""
        n = len(stack) - k
        self.length += n
        items = self.items
        if items is _NO_ITEMS:
            self.items = stack[k:k + min(CONTAINER_CAP, n)]
            return
        room = CONTAINER_CAP - len(items)
        if room > 0:
            items.extend(stack[k:k + min(room, n)])

    def put_many(self, stack: list[Value], k: int) -> None:
        """SETITEMS: the key/value pairs are ``stack[k:]`` (an odd last item is ignored)."""
        pairs = (len(stack) - k) // 2
        self.length += pairs
        mapping = self.mapping
        if mapping is _NO_MAPPING:
            mapping = self.mapping = {}
        room = CONTAINER_CAP - len(mapping)
        if room > 0:
            stop = k + 2 * min(room, pairs)
            mapping.update(zip(stack[k:stop:2], stack[k + 1:stop:2], strict=True))


_NO_ITEMS: list[Value] = []
_NO_MAPPING: dict[Value, Value] = {}


Value = Union[_Other, Global, TruncStr, Obj, Cont, str, bytes, int, float, bool, None, "tuple[Value, ...]"]


def _short(value: Value, depth: int = 0) -> str:
    """A short, safe rendering of a value for finding details."""
    if isinstance(value, Global):
        return value.dotted
    if isinstance(value, str):
        return repr(value[:80])
    if isinstance(value, bytes):
        return repr(value[:40])
    if isinstance(value, TruncStr):
        return repr(value.head[:80]) + "..."
    if isinstance(value, tuple):
        if depth > 2:
            return "(...)"
        inner = ", ".join(_short(v, depth + 1) for v in value[:6])
        return f"({inner}{', ...' if len(value) > 6 else ''})"
    if isinstance(value, Obj):
        return f"{_short(value.callee, depth + 1)}(...)"
    if isinstance(value, Cont):
        return f"<{value.kind} of {value.length}>"
    if isinstance(value, (int, float, bool)) or value is None:
        return repr(value)[:40]
    return "?"


# --- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class GlobalUse:
    module: str
    name: str
    offset: int
    opcode: str
    allowed: bool


@dataclass(frozen=True)
class CallUse:
    opcode: str
    offset: int
    callee: str  # dotted name of the global, or '?' when computed


@dataclass(frozen=True)
class PickleAnalysis:
    """What the static analysis saw in one stream (one or more concatenated pickles).

    complete: False when the stream broke, hit a limit or the time limit before its end
    end_offset: where the analysis stopped (absolute stream offset)
    """

    globals: tuple[GlobalUse, ...]
    calls: tuple[CallUse, ...]
    findings: tuple[Finding, ...]
    ops: int
    pickles: int
    complete: bool
    end_offset: int
    protocol: int | None = None
    layout: str = "pickle"  # 'pickle', 'torch-legacy' or 'joblib'
    notes: tuple[str, ...] = field(default_factory=tuple)


# --- errors inside the machine ----------------------------------------------------------------


class _Break(Exception):
    """The stream cannot be parsed further."""

    def __init__(self, message: str, offset: int, rule: Rule = R.BROKEN_STREAM) -> None:
        super().__init__(message)
        self.offset = offset
        self.rule = rule


# --- buffered reader --------------------------------------------------------------------------


class _Reader:
    """Reads a seekable stream in chunks between absolute offsets ``start`` and ``end``."""

    def __init__(self, stream: BinaryIO, start: int, end: int) -> None:
        self.stream = stream
        self.end = end
        self.buf = b""
        self.bpos = 0
        self.boff = start
        stream.seek(start)

    @property
    def pos(self) -> int:
        return self.boff + self.bpos

    def _fill(self, n: int) -> bool:
        avail = len(self.buf) - self.bpos
        if avail >= n:
            return True
        want = min(max(CHUNK, n - avail), max(self.end - (self.boff + len(self.buf)), 0))
        chunk = self.stream.read(want) if want > 0 else b""
        self.buf = self.buf[self.bpos:] + chunk
        self.boff += self.bpos
        self.bpos = 0
        return len(self.buf) >= n

    def at_end(self) -> bool:
        return not self._fill(1)

    def peek(self) -> int | None:
        if not self._fill(1):
            return None
        return self.buf[self.bpos]

    def read(self, n: int, what: str) -> bytes:
        if not self._fill(n):
            raise _Break(f"truncated: {what} needs {n} bytes", self.pos)
        out = self.buf[self.bpos:self.bpos + n]
        self.bpos += n
        return out

    def skip(self, n: int, what: str) -> None:
        start = self.pos
        if n < 0:
            raise _Break(f"{what} has a negative length ({n})", start)
        if start + n > self.end:
            raise _Break(
                f"{what} declares {n} bytes but only {self.end - start} remain in the stream",
                start, R.HUGE_ARGUMENT,
            )
        avail = len(self.buf) - self.bpos
        if n <= avail:
            self.bpos += n
            return
        self.boff = start + n
        self.buf = b""
        self.bpos = 0
        self.stream.seek(self.boff)

    def read_capped(self, n: int, what: str) -> tuple[bytes, bool]:
        """First min(n, STRING_CAP) bytes of an n-byte argument; the rest is skipped."""
        if n < 0:
            raise _Break(f"{what} has a negative length ({n})", self.pos)
        if self.pos + n > self.end:
            raise _Break(
                f"{what} declares {n} bytes but only {self.end - self.pos} remain in the stream",
                self.pos, R.HUGE_ARGUMENT,
            )
        keep = min(n, STRING_CAP)
        head = self.read(keep, what)
        if n > keep:
            self.skip(n - keep, what)
        return head, n > keep

    def readline(self, what: str) -> tuple[bytes, bool]:
        """One newline-terminated line (without the newline): (first STRING_CAP bytes, cut)."""
        head = bytearray()
        total = 0
        while True:
            if not self._fill(1):
                raise _Break(f"truncated: {what} has no end of line", self.pos)
            idx = self.buf.find(b"\n", self.bpos)
            stop = idx if idx >= 0 else len(self.buf)
            piece = self.buf[self.bpos:stop]
            total += len(piece)
            if len(head) < STRING_CAP:
                head += piece[: STRING_CAP - len(head)]
            if total > LINE_CAP:
                raise _Break(f"{what} is longer than {LINE_CAP} bytes", self.pos)
            if idx >= 0:
                self.bpos = idx + 1
                return bytes(head), total > STRING_CAP
            self.bpos = len(self.buf)


# --- opcode table -----------------------------------------------------------------------------
# arg kinds: '' none, 'u1' 'u2' 'i4' 'u4' 'u8' fixed ints, 'f8' float, 'l1' 'l4' long,
# 's1' 's4' binstrings, 'b1' 'b4' 'b8' bytes, 'U1' 'U4' 'U8' unicode, 'line' one text line,
# 'line2' two text lines

OPCODES: dict[int, tuple[str, str, int]] = {
    ord(c): (name, arg, proto)
    for c, name, arg, proto in (
        ("(", "MARK", "", 0), (".", "STOP", "", 0), ("0", "POP", "", 0),
        ("1", "POP_MARK", "", 1), ("2", "DUP", "", 0), ("F", "FLOAT", "line", 0),
        ("I", "INT", "line", 0), ("J", "BININT", "i4", 1), ("K", "BININT1", "u1", 1),
        ("L", "LONG", "line", 0), ("M", "BININT2", "u2", 1), ("N", "NONE", "", 0),
        ("P", "PERSID", "line", 0), ("Q", "BINPERSID", "", 1), ("R", "REDUCE", "", 0),
        ("S", "STRING", "line", 0), ("T", "BINSTRING", "s4", 1),
        ("U", "SHORT_BINSTRING", "s1", 1), ("V", "UNICODE", "line", 0),
        ("X", "BINUNICODE", "U4", 1), ("a", "APPEND", "", 0), ("b", "BUILD", "", 0),
        ("c", "GLOBAL", "line2", 0), ("d", "DICT", "", 0), ("}", "EMPTY_DICT", "", 1),
        ("e", "APPENDS", "", 1), ("g", "GET", "line", 0), ("h", "BINGET", "u1", 1),
        ("i", "INST", "line2", 0), ("j", "LONG_BINGET", "u4", 1), ("l", "LIST", "", 0),
        ("]", "EMPTY_LIST", "", 1), ("o", "OBJ", "", 1), ("p", "PUT", "line", 0),
        ("q", "BINPUT", "u1", 1), ("r", "LONG_BINPUT", "u4", 1), ("s", "SETITEM", "", 0),
        ("t", "TUPLE", "", 0), (")", "EMPTY_TUPLE", "", 1), ("u", "SETITEMS", "", 1),
        ("G", "BINFLOAT", "f8", 1),
        ("\x80", "PROTO", "u1", 2), ("\x81", "NEWOBJ", "", 2), ("\x82", "EXT1", "u1", 2),
        ("\x83", "EXT2", "u2", 2), ("\x84", "EXT4", "i4", 2), ("\x85", "TUPLE1", "", 2),
        ("\x86", "TUPLE2", "", 2), ("\x87", "TUPLE3", "", 2), ("\x88", "NEWTRUE", "", 2),
        ("\x89", "NEWFALSE", "", 2), ("\x8a", "LONG1", "l1", 2), ("\x8b", "LONG4", "l4", 2),
        ("B", "BINBYTES", "b4", 3), ("C", "SHORT_BINBYTES", "b1", 3),
        ("\x8c", "SHORT_BINUNICODE", "U1", 4), ("\x8d", "BINUNICODE8", "U8", 4),
        ("\x8e", "BINBYTES8", "b8", 4), ("\x8f", "EMPTY_SET", "", 4),
        ("\x90", "ADDITEMS", "", 4), ("\x91", "FROZENSET", "", 4),
        ("\x92", "NEWOBJ_EX", "", 4), ("\x93", "STACK_GLOBAL", "", 4),
        ("\x94", "MEMOIZE", "", 4), ("\x95", "FRAME", "u8", 4),
        ("\x96", "BYTEARRAY8", "b8", 5), ("\x97", "NEXT_BUFFER", "", 5),
        ("\x98", "READONLY_BUFFER", "", 5),
    )
}

_FIXED = {"u1": ("<B", 1), "u2": ("<H", 2), "i4": ("<i", 4), "u4": ("<I", 4), "u8": ("<Q", 8)}


# --- the machine ------------------------------------------------------------------------------


@dataclass
class _Collector:
    """Findings and records shared by every pickle of one stream."""

    ctx: ScanContext
    allow: Allowlist
    globals: list[GlobalUse] = field(default_factory=list)
    calls: list[CallUse] = field(default_factory=list)
    findings: dict[tuple[str, str], Finding] = field(default_factory=dict)
    seen: dict[tuple[str, str], int] = field(default_factory=dict)
    ops: int = 0
    pickles: int = 0
    protocol: int | None = None
    limited: bool = False
    notes: list[str] = field(default_factory=list)
    verdicts: dict[tuple[str, str], bool] = field(default_factory=dict)
    records_dropped: int = 0

    def record_call(self, use: CallUse) -> None:
        if len(self.calls) < RECORD_CAP:
            self.calls.append(use)
        else:
            self.records_dropped += 1

    def is_allowed(self, g: Global) -> bool:
        key = (g.module, g.name)
        known = self.verdicts.get(key)
        if known is None:
            known = self.allow.check(g.module, g.name).allowed
            self.verdicts[key] = known
        return known

    def add(self, rule: Rule, key: str, detail: str, offset: int | None,
            props: dict[str, str | int] | None = None) -> None:
        k = (rule.id, key)
        if k in self.seen:
            self.seen[k] += 1
            return
        self.seen[k] = 1
        if len(self.findings) >= FINDINGS_CAP:
            return
        self.findings[k] = rule.finding(
            detail, self.ctx.location(offset=offset), properties=props or {},
        )

    def result(self) -> list[Finding]:
        out = []
        for k, f in self.findings.items():
            n = self.seen.get(k, 1)
            out.append(replace(f, properties={**f.properties, "occurrences": n}) if n > 1 else f)
        return out

    def check_global(self, g: Global) -> None:
        if self.is_allowed(g):
            if len(self.globals) < RECORD_CAP:
                self.globals.append(GlobalUse(g.module, g.name, g.offset, g.opcode, True))
            else:
                self.records_dropped += 1
            return
        verdict = self.allow.check(g.module, g.name)
        if len(self.globals) < RECORD_CAP:
            self.globals.append(GlobalUse(g.module, g.name, g.offset, g.opcode, False))
        else:
            self.records_dropped += 1
        mod, nm = canonical(g.module, g.name)
        shown = f"{mod}.{nm}"
        alias = "" if (mod, nm) == (g.module, g.name) else f" (written as {g.module!r} {g.name!r})"
        if verdict.dangerous:
            self.add(R.DANGEROUS_GLOBAL, shown,
                     f"{g.opcode} at offset {g.offset} imports {shown}{alias}: "
                     f"{verdict.dangerous}.{verdict.note}",
                     g.offset, {"global": shown, "opcode": g.opcode})
        else:
            self.add(R.GLOBAL_NOT_ALLOWED, shown,
                     f"{g.opcode} at offset {g.offset} imports {shown}{alias}, which is not on "
                     "the reviewed allowlist.", g.offset, {"global": shown, "opcode": g.opcode})


_DEGRADED_OPS = frozenset({
    "GLOBAL", "INST", "STACK_GLOBAL", "REDUCE", "NEWOBJ", "NEWOBJ_EX", "OBJ", "BUILD", "EXT1",
    "EXT2", "EXT4", "PROTO", "FRAME",
})


class _Machine:
    """Runs one pickle (PROTO ... STOP) over a reader.

    The value stack is one flat list; MARK records its length in ``marks`` (the C unpickler's
    layout), so the hot loop keeps the list in a local variable. The opcodes that make up
    almost every real pickle are decoded inline in ``run`` straight from the reader's buffer
    (no call, no allocation per opcode); the rest go through ``_arg`` and an ``op_*`` method.
    """

    def __init__(self, reader: _Reader, col: _Collector, depth: int = 0) -> None:
        self.r = reader
        self.col = col
        self.depth = depth
        self.stack: list[Value] = []
        self.marks: list[int] = []
        self.memo: dict[int, Value] = {}
        self.degraded = False  # values are no longer tracked (a cap was hit)
        self.memo_overflow = 0
        self.memo_rich = 0  # memo entries that keep a call result (bounded by MEMO_RICH_CAP)
        self.result: Value = OTHER
        self.op_offset = 0
        self.op_name = ""
        self.layout = "pickle"
        self.dispatch: dict[str, Callable[[object], None]] = {
            name: getattr(self, "op_" + name) for name, _, _ in OPCODES.values() if name != "STOP"
        }

    # -- stack helpers (used by the out-of-line opcodes) --
    @property
    def fence(self) -> int:
        return self.marks[-1] if self.marks else 0

    def push(self, v: Value) -> None:
        if not self.degraded:
            self.stack.append(v)

    def _underflow(self) -> _Break:
        return _Break(f"{self.op_name} on an empty stack (stack underflow)", self.op_offset)

    def pop(self) -> Value:
        if len(self.stack) > self.fence:
            return self.stack.pop()
        if self.degraded:
            return OTHER
        raise self._underflow()

    def top(self) -> Value:
        if len(self.stack) > self.fence:
            return self.stack[-1]
        if self.degraded:
            return OTHER
        raise self._underflow()

    def set_top(self, v: Value) -> None:
        if len(self.stack) > self.fence:
            self.stack[-1] = v

    def pop_mark(self) -> list[Value]:
        if self.marks:
            k = self.marks.pop()
            items = self.stack[k:]
            del self.stack[k:]
            return items
        if self.degraded:
            items = self.stack[:]
            self.stack.clear()
            return items
        raise _Break(f"{self.op_name} without a MARK (mark underflow)", self.op_offset)

    def degrade(self, why: str) -> None:
        if not self.degraded:
            self.degraded = True
            self.col.limited = True
            self.col.add(R.ANALYSIS_LIMIT, why,
                         f"{why} at offset {self.op_offset}; the rest of the stream is checked "
                         "for imports without tracking values.", self.op_offset)
        self.stack.clear()
        self.marks.clear()
        self.memo.clear()

    # -- main loop --
    def run(self) -> None:
        """Decode opcodes until STOP. The common opcodes are handled inline on the buffer,
        in order of how often real pickles use them; the buffer is refilled, and the deadline
        and the stack caps are checked, once every ``_CHECK_BYTES`` of opcodes. A short
        buffer at the end of the stream raises IndexError/struct.error: a 'truncated' break."""
        r = self.r
        col = self.col
        stack = self.stack
        marks = self.marks
        memo = self.memo
        unpack_from = struct.unpack_from
        keep = self._memo_value
        other = OTHER
        look = _LOOKAHEAD
        buf = r.buf
        i = r.bpos
        blen = len(buf)
        limit = -1  # check (and fill) before the first opcode
        fence = marks[-1] if marks else 0
        ops = col.ops
        op = 0
        try:
            while True:
                if i > limit:
                    if i + look > blen:
                        r.bpos = i
                        r._fill(look)
                        buf = r.buf
                        i = r.bpos
                        blen = len(buf)
                        if i >= blen:
                            raise _Break("truncated: the stream ends before STOP", r.pos)
                    col.ops = ops
                    self.op_offset = r.boff + i
                    col.ctx.check_deadline()
                    if len(stack) > STACK_CAP or len(marks) > NEST_CAP:
                        self.op_name = OPCODES.get(buf[i], ("?", "", 0))[0]
                        self.degrade(f"more than {STACK_CAP} values on the pickle stack"
                                     if len(stack) > STACK_CAP
                                     else f"more than {NEST_CAP} nested MARKs")
                        r.bpos = i
                        self._run_degraded()
                        return
                    limit = min(blen - look, i + _CHECK_BYTES)
                op = buf[i]
                ops += 1
                # --- inline: the opcodes real pickles are made of, most frequent first ---
                if op == 0x68:  # BINGET
                    stack.append(memo.get(buf[i + 1], other))
                    i += 2
                elif op == 0x94:  # MEMOIZE
                    if len(stack) <= fence:
                        raise _Break("MEMOIZE on an empty stack (stack underflow)", r.boff + i)
                    v = stack[-1]
                    tv = type(v)
                    if tv is not str or len(v) > MEMO_STR_CAP:  # type: ignore[arg-type]
                        v = other if tv is Cont else keep(v)
                    n = len(memo)
                    if n < MEMO_CAP:
                        memo[n] = v
                    else:
                        self._memo_store(n + self.memo_overflow, v)
                    i += 1
                elif op == 0x72:  # LONG_BINPUT
                    if len(stack) <= fence:
                        raise _Break("LONG_BINPUT on an empty stack (stack underflow)",
                                     r.boff + i)
                    v = stack[-1]
                    tv = type(v)
                    if tv is not str or len(v) > MEMO_STR_CAP:  # type: ignore[arg-type]
                        v = other if tv is Cont else keep(v)
                    n = unpack_from("<I", buf, i + 1)[0]
                    if len(memo) < MEMO_CAP or n in memo:
                        memo[n] = v
                    else:
                        self._memo_store(n, v)
                    i += 5
                elif op == 0x4B:  # BININT1
                    stack.append(buf[i + 1])
                    i += 2
                elif op == 0x28:  # MARK
                    fence = len(stack)
                    marks.append(fence)
                    i += 1
                elif op == 0x8C:  # SHORT_BINUNICODE
                    j = i + 2 + buf[i + 1]
                    if j > blen:
                        i = self._slow(op, i)
                        ops = col.ops
                        if r.buf is not buf:
                            buf = r.buf
                            blen = len(buf)
                            limit = -1
                        continue
                    stack.append(buf[i + 2:j].decode("utf-8", "replace"))
                    i = j
                elif op == 0x58:  # BINUNICODE
                    n = unpack_from("<I", buf, i + 1)[0]
                    j = i + 5 + n
                    if n > STRING_CAP or j > blen:
                        i = self._slow(op, i)
                        ops = col.ops
                        if r.buf is not buf:
                            buf = r.buf
                            blen = len(buf)
                            limit = -1
                        continue
                    stack.append(buf[i + 5:j].decode("utf-8", "replace"))
                    i = j
                elif op == 0x74:  # TUPLE
                    if not marks:
                        raise _Break("TUPLE without a MARK (mark underflow)", r.boff + i)
                    k = marks.pop()
                    fence = marks[-1] if marks else 0
                    tup: Value = tuple(stack[k:]) if len(stack) - k <= CONTAINER_CAP else other
                    del stack[k:]
                    stack.append(tup)
                    i += 1
                elif 0x85 <= op <= 0x87:  # TUPLE1..3
                    n = op - 0x84
                    if len(stack) - fence < n:
                        raise _Break(f"{OPCODES[op][0]} on an empty stack (stack underflow)",
                                     r.boff + i)
                    t = tuple(stack[-n:])
                    del stack[-n:]
                    stack.append(t)
                    i += 1
                elif op == 0x52:  # REDUCE
                    if len(stack) - fence < 2:
                        raise _Break("REDUCE on an empty stack (stack underflow)", r.boff + i)
                    self.op_offset = r.boff + i
                    args = stack.pop()
                    stack[-1] = self._call(stack[-1], args, "REDUCE")
                    i += 1
                elif op == 0x7D:  # EMPTY_DICT
                    stack.append(Cont("dict"))
                    i += 1
                elif op == 0x75:  # SETITEMS
                    if not marks:
                        raise _Break("SETITEMS without a MARK (mark underflow)", r.boff + i)
                    k = marks.pop()
                    fence = marks[-1] if marks else 0
                    if k <= fence:
                        raise _Break("SETITEMS on an empty stack (stack underflow)", r.boff + i)
                    target = stack[k - 1]
                    if type(target) is Cont:
                        target.put_many(stack, k)
                    del stack[k:]
                    i += 1
                elif op == 0x47:  # BINFLOAT
                    stack.append(unpack_from(">d", buf, i + 1)[0])
                    i += 9
                elif op == 0x4A:  # BININT
                    stack.append(unpack_from("<i", buf, i + 1)[0])
                    i += 5
                elif op == 0x71:  # BINPUT
                    if len(stack) <= fence:
                        raise _Break("BINPUT on an empty stack (stack underflow)", r.boff + i)
                    v = stack[-1]
                    tv = type(v)
                    if tv is not str or len(v) > MEMO_STR_CAP:  # type: ignore[arg-type]
                        v = other if tv is Cont else keep(v)
                    n = buf[i + 1]
                    if len(memo) < MEMO_CAP or n in memo:
                        memo[n] = v
                    else:
                        self._memo_store(n, v)
                    i += 2
                elif op == 0x51:  # BINPERSID
                    if len(stack) <= fence:
                        raise _Break("BINPERSID on an empty stack (stack underflow)",
                                     r.boff + i)
                    stack[-1] = other
                    i += 1
                elif op == 0x89:  # NEWFALSE
                    stack.append(False)
                    i += 1
                elif op == 0x29:  # EMPTY_TUPLE
                    stack.append(())
                    i += 1
                elif op == 0x4E:  # NONE
                    stack.append(None)
                    i += 1
                elif op == 0x88:  # NEWTRUE
                    stack.append(True)
                    i += 1
                elif op == 0x4D:  # BININT2
                    stack.append(buf[i + 1] | buf[i + 2] << 8)
                    i += 3
                elif op == 0x65:  # APPENDS
                    if not marks:
                        raise _Break("APPENDS without a MARK (mark underflow)", r.boff + i)
                    k = marks.pop()
                    fence = marks[-1] if marks else 0
                    if k <= fence:
                        raise _Break("APPENDS on an empty stack (stack underflow)", r.boff + i)
                    target = stack[k - 1]
                    if type(target) is Cont:
                        target.add_many(stack, k)
                    del stack[k:]
                    i += 1
                elif op == 0x5D:  # EMPTY_LIST
                    stack.append(Cont("list"))
                    i += 1
                elif op == 0x95:  # FRAME
                    n = unpack_from("<Q", buf, i + 1)[0]
                    if r.boff + i + 9 + n > r.end:
                        raise _Break(f"FRAME declares {n} bytes but only "
                                     f"{r.end - r.boff - i - 9} remain", r.boff + i,
                                     R.HUGE_ARGUMENT)
                    i += 9
                elif op == 0x6A:  # LONG_BINGET
                    stack.append(memo.get(unpack_from("<I", buf, i + 1)[0], other))
                    i += 5
                elif op == 0x61:  # APPEND
                    if len(stack) - fence < 2:
                        raise _Break("APPEND on an empty stack (stack underflow)", r.boff + i)
                    v = stack.pop()
                    target = stack[-1]
                    if type(target) is Cont:
                        target.add(v)
                    i += 1
                elif op == 0x73:  # SETITEM
                    if len(stack) - fence < 3:
                        raise _Break("SETITEM on an empty stack (stack underflow)", r.boff + i)
                    v = stack.pop()
                    key = stack.pop()
                    target = stack[-1]
                    if type(target) is Cont:
                        target.put(key, v)
                    i += 1
                elif op == 0x2E:  # STOP
                    if len(stack) <= fence:
                        raise _Break("STOP on an empty stack (stack underflow)", r.boff + i)
                    self.result = stack.pop()
                    r.bpos = i + 1
                    col.ops = ops
                    return
                else:
                    # everything else: decode the argument, run the opcode's method
                    col.ops = ops
                    i = self._slow(op, i)
                    ops = col.ops  # a nested pickle (joblib object array) counts its own
                    fence = marks[-1] if marks else 0
                    if self.degraded:
                        self._run_degraded()
                        return
                    if r.buf is not buf:
                        buf = r.buf
                        blen = len(buf)
                        limit = -1
        except (IndexError, struct.error) as exc:
            off = r.boff + i
            name = OPCODES.get(op, ("?", "", 0))[0]
            col.ops = ops
            if off + look > r.end:
                raise _Break(f"truncated: {name} at offset {off} runs past the end of the "
                             "stream", off) from exc
            raise _Break(f"{name} at offset {off} on an empty stack (stack underflow)",
                         off) from exc

    def _slow(self, code: int, i: int) -> int:
        """Run one opcode at buffer index ``i`` out of line; returns the new buffer index."""
        r = self.r
        r.bpos = i
        self.op_offset = r.boff + i
        spec = OPCODES.get(code)
        if spec is None:
            raise _Break(f"unknown opcode 0x{code:02x} at offset {self.op_offset}",
                         self.op_offset)
        name, kind, _proto = spec
        self.op_name = name
        r.bpos += 1
        arg = self._arg(kind, name)
        if name == "STOP":
            self.result = self.pop() if (self.stack or not self.degraded) else OTHER
        else:
            self.dispatch[name](arg)
        return r.bpos

    def _run_degraded(self) -> None:
        """Past a cap: decode opcodes without tracking values; every import is still checked,
        every STACK_GLOBAL is unresolvable, every call is recorded."""
        r = self.r
        col = self.col
        while True:
            self.op_offset = r.pos
            code = r.peek()
            if code is None:
                raise _Break("truncated: the stream ends before STOP", r.pos)
            spec = OPCODES.get(code)
            if spec is None:
                raise _Break(f"unknown opcode 0x{code:02x} at offset {r.pos}", r.pos)
            r.bpos += 1
            name, kind, _proto = spec
            self.op_name = name
            col.ops += 1
            if not col.ops & _CHECK_MASK:
                col.ctx.check_deadline()
            arg = self._arg(kind, name)
            if name == "STOP":
                self.result = OTHER
                return
            if name in _DEGRADED_OPS:
                self.dispatch[name](arg)
            self.stack.clear()
            self.marks.clear()

    def _arg(self, kind: str, name: str) -> object:
        r = self.r
        if not kind:
            return None
        if kind in _FIXED:
            fmt, n = _FIXED[kind]
            return struct.unpack(fmt, r.read(n, name))[0]
        if kind == "f8":
            return struct.unpack(">d", r.read(8, name))[0]
        if kind in ("l1", "l4"):
            n = r.read(1, name)[0] if kind == "l1" else struct.unpack("<i", r.read(4, name))[0]
            head, cut = r.read_capped(n, name)
            return OTHER if cut else int.from_bytes(head, "little", signed=True)
        if kind in ("s1", "s4", "b1", "b4", "b8", "U1", "U4", "U8"):
            width = kind[1]
            if width == "1":
                n = r.read(1, name)[0]
            elif width == "4":
                n = struct.unpack("<i" if kind == "s4" else "<I", r.read(4, name))[0]
            else:
                n = struct.unpack("<Q", r.read(8, name))[0]
            head, cut = r.read_capped(n, name)
            if kind[0] == "b":
                return TruncStr(head.decode("latin-1")) if cut else head
            text = head.decode("utf-8" if kind[0] == "U" else "latin-1", "replace")
            return TruncStr(text) if cut else text
        if kind == "line":
            line, cut = r.readline(name)
            return (line, cut)
        if kind == "line2":
            mod, cut1 = r.readline(name)
            nm, cut2 = r.readline(name)
            return (mod, nm, cut1 or cut2)
        raise AssertionError(kind)  # pragma: no cover

    # -- opcodes: constants --
    def op_MARK(self, _a: object) -> None:
        if not self.degraded:
            self.marks.append(len(self.stack))

    def op_POP(self, _a: object) -> None:
        if len(self.stack) > self.fence:
            self.stack.pop()
        elif self.marks:
            self.marks.pop()  # pickle's POP of an empty frame discards the mark
        elif not self.degraded:
            raise _Break("POP on an empty stack (stack underflow)", self.op_offset)

    def op_POP_MARK(self, _a: object) -> None:
        self.pop_mark()

    def op_DUP(self, _a: object) -> None:
        self.push(self.top())

    def _push_const(self, a: object) -> None:
        self.push(a)  # type: ignore[arg-type]

    op_BININT = op_BININT1 = op_BININT2 = op_LONG1 = op_LONG4 = _push_const
    op_BINFLOAT = op_SHORT_BINUNICODE = op_BINUNICODE = op_BINUNICODE8 = _push_const
    op_BINBYTES = op_SHORT_BINBYTES = op_BINBYTES8 = _push_const
    op_SHORT_BINSTRING = op_BINSTRING = _push_const

    def op_BYTEARRAY8(self, _a: object) -> None:
        self.push(OTHER)

    def op_NONE(self, _a: object) -> None:
        self.push(None)

    def op_NEWTRUE(self, _a: object) -> None:
        self.push(True)

    def op_NEWFALSE(self, _a: object) -> None:
        self.push(False)

    def _line(self, a: object) -> tuple[bytes, bool]:
        assert isinstance(a, tuple)
        return a[0], a[1]

    def op_INT(self, a: object) -> None:
        line, cut = self._line(a)
        if line in (b"00", b"01"):
            self.push(line == b"01")
            return
        try:
            self.push(OTHER if cut else int(line))
        except ValueError as exc:
            raise _Break(f"INT argument {line[:40]!r} is not a number", self.op_offset) from exc

    def op_LONG(self, a: object) -> None:
        line, cut = self._line(a)
        try:
            self.push(OTHER if cut else int(line.rstrip(b"L")))
        except ValueError as exc:
            raise _Break(f"LONG argument {line[:40]!r} is not a number", self.op_offset) from exc

    def op_FLOAT(self, a: object) -> None:
        line, _cut = self._line(a)
        try:
            self.push(float(line))
        except ValueError as exc:
            raise _Break(f"FLOAT argument {line[:40]!r} is not a number", self.op_offset) from exc

    def op_STRING(self, a: object) -> None:
        line, cut = self._line(a)
        body = line.rstrip(b"\r")
        if not cut and (len(body) < 2 or body[:1] != body[-1:] or body[:1] not in (b"'", b'"')):
            raise _Break("STRING argument is not a quoted string", self.op_offset)
        inner = body[1:-1] if not cut else body[1:]
        try:
            text = inner.decode("unicode_escape") if b"\\" in inner else inner.decode("latin-1")
        except UnicodeDecodeError:
            text = inner.decode("latin-1")
        self.push(TruncStr(text) if cut else text)

    def op_UNICODE(self, a: object) -> None:
        line, cut = self._line(a)
        try:
            text = line.decode("raw_unicode_escape")
        except UnicodeDecodeError:
            text = line.decode("latin-1")
        self.push(TruncStr(text) if cut else text)

    # -- containers --
    def op_EMPTY_TUPLE(self, _a: object) -> None:
        self.push(())

    def _tuple(self, items: list[Value]) -> Value:
        return tuple(items) if len(items) <= CONTAINER_CAP else OTHER

    def op_TUPLE(self, _a: object) -> None:
        self.push(self._tuple(self.pop_mark()))

    def op_TUPLE1(self, _a: object) -> None:
        self.push((self.pop(),))

    def op_TUPLE2(self, _a: object) -> None:
        b = self.pop()
        a = self.pop()
        self.push((a, b))

    def op_TUPLE3(self, _a: object) -> None:
        c = self.pop()
        b = self.pop()
        a = self.pop()
        self.push((a, b, c))

    def op_EMPTY_LIST(self, _a: object) -> None:
        self.push(Cont("list"))

    def op_EMPTY_DICT(self, _a: object) -> None:
        self.push(Cont("dict"))

    def op_EMPTY_SET(self, _a: object) -> None:
        self.push(Cont("set"))

    def op_LIST(self, _a: object) -> None:
        c = Cont("list")
        for v in self.pop_mark():
            c.add(v)
        self.push(c)

    def op_FROZENSET(self, _a: object) -> None:
        c = Cont("set")
        for v in self.pop_mark():
            c.add(v)
        self.push(c)

    def op_DICT(self, _a: object) -> None:
        items = self.pop_mark()
        c = Cont("dict")
        for i in range(0, len(items) - 1, 2):
            c.put(items[i], items[i + 1])
        self.push(c)

    def op_APPEND(self, _a: object) -> None:
        v = self.pop()
        target = self.top()
        if isinstance(target, Cont):
            target.add(v)

    def op_APPENDS(self, _a: object) -> None:
        items = self.pop_mark()
        target = self.top()
        if isinstance(target, Cont):
            for v in items:
                target.add(v)

    op_ADDITEMS = op_APPENDS

    def op_SETITEM(self, _a: object) -> None:
        v = self.pop()
        k = self.pop()
        target = self.top()
        if isinstance(target, Cont):
            target.put(k, v)

    def op_SETITEMS(self, _a: object) -> None:
        items = self.pop_mark()
        target = self.top()
        if isinstance(target, Cont):
            for i in range(0, len(items) - 1, 2):
                target.put(items[i], items[i + 1])

    # -- memo --
    def _memo_value(self, v: Value) -> Value:
        """What the memo keeps for ``v``: only what resolving imports and following joblib
        needs (short strings, globals, dtype objects, results of suspicious calls); anything
        else is the shared ``OTHER``, so an entry costs a dict slot whatever the value."""
        t = type(v)
        if t is str:
            return v if len(v) <= MEMO_STR_CAP else OTHER  # type: ignore[arg-type]
        if t is Global:
            return v
        if t is Obj and self.memo_rich < MEMO_RICH_CAP:
            assert isinstance(v, Obj)
            callee = v.callee
            if isinstance(callee, Global):
                if callee.name == "dtype":
                    self.memo_rich += 1
                    return v  # the same object: BUILD gives it its state after MEMOIZE
                if not self.col.is_allowed(callee):
                    self.memo_rich += 1
                    return Obj(callee, OTHER)
        return OTHER

    def _memo_store(self, idx: int, v: Value) -> None:
        if len(self.memo) >= MEMO_CAP and idx not in self.memo:
            if not self.memo_overflow:
                self.col.notes.append(f"memo tracking capped at {MEMO_CAP} entries")
            self.memo_overflow += 1
            return
        self.memo[idx] = v

    def _memo_put(self, idx: int) -> None:
        if self.degraded:
            return
        self._memo_store(idx, self._memo_value(self.top()))

    def op_PUT(self, a: object) -> None:
        line, _ = self._line(a)
        try:
            self._memo_put(int(line))
        except ValueError as exc:
            raise _Break(f"PUT argument {line[:40]!r} is not a number", self.op_offset) from exc

    def op_BINPUT(self, a: object) -> None:
        assert isinstance(a, int)
        self._memo_put(a)

    op_LONG_BINPUT = op_BINPUT

    def op_MEMOIZE(self, _a: object) -> None:
        self._memo_put(len(self.memo) + self.memo_overflow)

    def _memo_get(self, idx: int) -> None:
        self.push(self.memo.get(idx, OTHER))

    def op_GET(self, a: object) -> None:
        line, _ = self._line(a)
        try:
            self._memo_get(int(line))
        except ValueError as exc:
            raise _Break(f"GET argument {line[:40]!r} is not a number", self.op_offset) from exc

    def op_BINGET(self, a: object) -> None:
        assert isinstance(a, int)
        self._memo_get(a)

    op_LONG_BINGET = op_BINGET

    # -- frames, protocol, buffers, persistent ids --
    def op_PROTO(self, a: object) -> None:
        assert isinstance(a, int)
        if a > 5:
            raise _Break(f"unsupported pickle protocol {a}", self.op_offset)
        if self.col.protocol is None:
            self.col.protocol = a

    def op_FRAME(self, a: object) -> None:
        assert isinstance(a, int)
        if self.r.pos + a > self.r.end:
            raise _Break(f"FRAME declares {a} bytes but only {self.r.end - self.r.pos} remain",
                         self.op_offset, R.HUGE_ARGUMENT)

    def op_NEXT_BUFFER(self, _a: object) -> None:
        self.push(OTHER)  # out-of-band buffer supplied by the loader: data, not code

    def op_READONLY_BUFFER(self, _a: object) -> None:
        self.top()

    def op_PERSID(self, _a: object) -> None:
        self.push(OTHER)

    def op_BINPERSID(self, _a: object) -> None:
        self.pop()
        self.push(OTHER)

    # -- imports --
    def _global(self, module: str, name: str, opcode: str) -> Global:
        g = Global(module, name, self.op_offset, opcode)
        self.col.check_global(g)
        return g

    def op_GLOBAL(self, a: object) -> None:
        assert isinstance(a, tuple)
        mod, nm, _cut = a
        g = self._global(mod.decode("utf-8", "replace"), nm.decode("utf-8", "replace"), "GLOBAL")
        self.push(g)

    def op_STACK_GLOBAL(self, _a: object) -> None:
        name = self.pop()
        module = self.pop()
        if isinstance(module, str) and isinstance(name, str):
            self.push(self._global(module, name, "STACK_GLOBAL"))
            return
        self.col.add(
            R.UNRESOLVED_GLOBAL, f"{self.op_offset}",
            f"STACK_GLOBAL at offset {self.op_offset} imports module {_short(module)} name "
            f"{_short(name)}: not constant strings, so the import cannot be checked.",
            self.op_offset,
        )
        self.push(OTHER)

    def _ext(self, a: object) -> None:
        self.col.add(
            R.EXTENSION_REGISTRY, f"{self.op_name}:{a}",
            f"{self.op_name} at offset {self.op_offset} imports extension code {a} from the "
            "loader's copyreg registry; what that is depends on the loading process.",
            self.op_offset,
        )
        self.push(OTHER)

    op_EXT1 = op_EXT2 = op_EXT4 = _ext

    # -- calls --
    def _call(self, callee: Value, args: Value, opcode: str) -> Obj:
        name = callee.dotted if isinstance(callee, Global) else "?"
        self.col.record_call(CallUse(opcode, self.op_offset, name))
        if not isinstance(callee, Global) and not self.degraded:
            self.col.add(
                R.UNKNOWN_CALLABLE, f"{self.op_offset}",
                f"{opcode} at offset {self.op_offset} calls {_short(callee)}, which is not an "
                "imported global (a computed callable).", self.op_offset,
            )
        return Obj(callee, args)

    def op_REDUCE(self, _a: object) -> None:
        args = self.pop()
        func = self.top()
        self.set_top(self._call(func, args, "REDUCE"))

    def op_NEWOBJ(self, _a: object) -> None:
        args = self.pop()
        cls = self.pop()
        self.push(self._call(cls, args, "NEWOBJ"))

    def op_NEWOBJ_EX(self, _a: object) -> None:
        self.pop()  # kwargs
        args = self.pop()
        cls = self.pop()
        self.push(self._call(cls, args, "NEWOBJ_EX"))

    def op_OBJ(self, _a: object) -> None:
        items = self.pop_mark()
        if not items and not self.degraded:
            raise _Break("OBJ without a class (mark underflow)", self.op_offset)
        cls = items[0] if items else OTHER
        self.push(self._call(cls, self._tuple(items[1:]), "OBJ"))

    def op_INST(self, a: object) -> None:
        assert isinstance(a, tuple)
        mod, nm, _cut = a
        g = self._global(mod.decode("utf-8", "replace"), nm.decode("utf-8", "replace"), "INST")
        items = self.pop_mark()
        self.push(self._call(g, self._tuple(items), "INST"))

    def op_BUILD(self, _a: object) -> None:
        state = self.pop()
        inst = self.top()
        if isinstance(inst, Obj):
            inst.state = state
            callee = inst.callee.dotted if isinstance(inst.callee, Global) else "?"
        else:
            callee = "?"
        self.col.record_call(CallUse("BUILD", self.op_offset, callee))
        if callee == "joblib.numpy_pickle.NumpyArrayWrapper" and isinstance(inst, Obj):
            self._joblib_array(inst)

    # -- joblib: array bytes written inline after the wrapper's BUILD --
    def _joblib_array(self, wrapper: Obj) -> None:
        self.layout = "joblib"
        state = wrapper.state
        fields = state.mapping if isinstance(state, Cont) else {}
        dtype = fields.get("dtype")
        shape = fields.get("shape")
        start = self.r.pos
        if _dtype_is_object(dtype):
            if self.depth >= NESTED_PICKLE_DEPTH:
                raise _Break("joblib object arrays nested too deeply", start, R.ANALYSIS_LIMIT)
            inner = _Machine(self.r, self.col, self.depth + 1)
            inner.run()  # the array is pickled inline (a nested pickle, read to its STOP)
            self.col.pickles += 1
            return
        itemsize = _dtype_itemsize(dtype)
        if itemsize is None or not isinstance(shape, tuple) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
        ):
            raise _Break(
                "joblib array data follows, but its dtype/shape could not be read from the "
                f"wrapper ({_short(dtype)}, {_short(shape)}), so the stream cannot be followed",
                start,
            )
        count = 1
        for d in shape:
            assert isinstance(d, int)
            count *= d
        if fields.get("numpy_array_alignment_bytes") is not None:
            pad = self.r.read(1, "joblib padding length")[0]
            self.r.skip(pad, "joblib padding")
        self.r.skip(count * itemsize, "joblib array data")


def _dtype_args(dtype: Value | None) -> tuple[str | None, Value]:
    if isinstance(dtype, Obj) and isinstance(dtype.callee, Global) and dtype.callee.name == "dtype":
        args = dtype.args
        if isinstance(args, tuple) and args and isinstance(args[0], str):
            return args[0], dtype.state
    return None, OTHER


def _dtype_is_object(dtype: Value | None) -> bool:
    descr, state = _dtype_args(dtype)
    if descr is not None and descr.startswith("O"):
        return True
    # structured dtypes with object fields carry the NPY_ITEM_HASOBJECT flag (0x01) in state[7]
    return isinstance(state, tuple) and len(state) > 7 and isinstance(state[7], int) and bool(
        state[7] & 1
    )


def _dtype_itemsize(dtype: Value | None) -> int | None:
    descr, state = _dtype_args(dtype)
    if descr is None:
        return None
    if isinstance(state, tuple) and len(state) > 5 and isinstance(state[5], int) and state[5] > 0:
        return state[5]
    digits = "".join(ch for ch in descr if ch.isdigit())
    return int(digits) if digits else None


# --- entry points -----------------------------------------------------------------------------


def analyze_pickle(
    stream: BinaryIO,
    size: int,
    *,
    allow: Allowlist,
    ctx: ScanContext,
    start: int = 0,
) -> PickleAnalysis:
    """Analyse the pickle(s) in ``stream`` from absolute offset ``start`` to ``size``.

    Never raises for hostile input: a break, a limit or the time limit becomes a finding and
    ``complete=False``; every global seen before that is reported."""
    col = _Collector(ctx=ctx, allow=allow)
    reader = _Reader(stream, start, size)
    complete = True
    layout = "pickle"
    first_result: Value = OTHER
    try:
        while True:
            if reader.pos == start or _starts_pickle(reader):
                machine = _Machine(reader, col)
                machine.run()
                col.pickles += 1
                if col.pickles == 1:
                    first_result = machine.result
                if machine.layout != "pickle":
                    layout = machine.layout
                if reader.at_end():
                    break
                if first_result == TORCH_LEGACY_MAGIC and not isinstance(first_result, bool):
                    layout = "torch-legacy"
                    if col.pickles >= _TORCH_LEGACY_PICKLES:
                        col.notes.append(
                            f"{size - reader.pos} bytes of legacy torch storage data after the "
                            "last pickle (read by torch as raw tensor bytes, never unpickled)"
                        )
                        break
                continue
            remaining = size - reader.pos
            col.add(R.TRAILING_BYTES, "trailing",
                    f"{remaining} bytes follow the last pickle (ends at offset {reader.pos}) and "
                    "do not start another pickle.", reader.pos)
            break
    except _Break as exc:
        complete = False
        what = "stream" if exc.rule is R.BROKEN_STREAM else "argument"
        col.add(exc.rule, f"break:{exc.offset}",
                f"The pickle {what} breaks at offset {exc.offset}: {exc}. Everything before it "
                "was analysed.", exc.offset)
    except ScanTimeout as exc:
        complete = False
        col.add(R.ANALYSIS_LIMIT, "timeout",
                f"Stopped at offset {reader.pos} after {col.ops} opcodes: {exc}. Imports before "
                "that point are reported.", reader.pos)
    except (OSError, ValueError) as exc:
        complete = False
        col.add(R.BROKEN_STREAM, "io", f"The stream could not be read at offset {reader.pos}: "
                f"{exc}.", reader.pos)
    if col.limited:
        complete = False
    if col.records_dropped:
        col.notes.append(f"{col.records_dropped} import/call records past the first "
                         f"{RECORD_CAP} were not kept (findings still count every one)")
    findings = col.result()
    return PickleAnalysis(
        globals=tuple(col.globals),
        calls=tuple(col.calls),
        findings=tuple(findings),
        ops=col.ops,
        pickles=col.pickles,
        complete=complete,
        end_offset=reader.pos,
        protocol=col.protocol,
        layout=layout,
        notes=tuple(col.notes),
    )


def _starts_pickle(reader: _Reader) -> bool:
    """Whether the bytes after a STOP begin another pickle: PROTO with a known protocol, or a
    protocol-0/1 opcode that can start one."""
    code = reader.peek()
    if code is None:
        return False
    if code == 0x80:
        if not reader._fill(2):
            return False
        return reader.buf[reader.bpos + 1] <= 5
    return code in _PROTO0_START


_PROTO0_START = frozenset(b"(cFGIJKLMNPSTUVX]})")


class PickleHandler:
    """Format handler for raw pickle streams (.pkl, legacy .pt/.bin, joblib dumps, and pickle
    members of archives)."""

    name = "pickle"

    def scan(self, stream: BinaryIO, size: int, ctx: ScanContext) -> list[Finding]:
        allow = Allowlist.from_policy(ctx.policy.allow_globals)
        return list(analyze_pickle(stream, size, allow=allow, ctx=ctx).findings)
