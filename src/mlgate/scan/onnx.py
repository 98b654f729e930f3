"""ONNX: operator domains, code-running operators and external data paths, without loading.

The model protobuf is walked with the streaming wire reader of ``savedmodel`` (bounded memory
for any file size: initializer payloads are skipped with a seek, never read), descending into
the graph, its subgraphs (If/Loop/Scan attributes), local functions and training graphs.
External data is never loaded. Files up to ``CROSS_CHECK_LIMIT`` are also parsed with the
``onnx`` package's protobuf classes (``ModelProto.FromString``; no external data, no checker
that would open files) so a protobuf that the real loader rejects is reported as malformed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from mlgate.core.findings import Finding
from mlgate.scan import rules_formats as R
from mlgate.scan.base import ScanContext
from mlgate.scan.savedmodel import WireError, WireReader

STANDARD_DOMAINS = frozenset({
    "", "ai.onnx", "ai.onnx.ml", "ai.onnx.training", "ai.onnx.preview.training",
    "com.microsoft", "com.microsoft.nchwc", "com.microsoft.experimental",
})
"""Operator domains implemented by ONNX itself or built into ONNX Runtime."""
CODE_OPS = frozenset({"PythonOp", "PythonOpGrad", "PyOp", "PyFunc"})
"""Operators that call back into Python when the graph runs (ORT training / language interop)."""
CROSS_CHECK_LIMIT = 64 * 1024 * 1024
MAX_DEPTH = 32
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass
class OnnxFacts:
    """What the walk found."""

    ops: set[tuple[str, str]] = field(default_factory=set)  # (domain, op_type)
    local_functions: set[tuple[str, str]] = field(default_factory=set)
    external: list[tuple[str, str]] = field(default_factory=list)  # (tensor name, location)


def walk_model(stream: BinaryIO, size: int, ctx: ScanContext | None = None) -> OnnxFacts:
    """Collect operators, local functions and external data locations. Raises WireError."""
    r = WireReader(stream, ctx)
    facts = OnnxFacts()
    stream.seek(0)
    for number, wtype, length, start in r.fields(size):
        if wtype != 2:
            continue
        end = start + length
        if number == 7:
            _graph(r, end, facts, 0)
        elif number == 25:
            _function(r, end, facts)
        elif number == 20:  # TrainingInfoProto: initialization (1), algorithm (2)
            for n2, w2, l2, s2 in r.fields(end):
                if n2 in (1, 2) and w2 == 2:
                    _graph(r, s2 + l2, facts, 1)
    return facts


def _text(r: WireReader, start: int, length: int, cap: int = 4096) -> str:
    return r.bytes_at(start, length, cap).decode("utf-8", "replace")


def _graph(r: WireReader, end: int, facts: OnnxFacts, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise WireError("subgraphs nest too deeply")
    for number, wtype, length, start in r.fields(end):
        if wtype != 2:
            continue
        if number == 1:
            _node(r, start + length, facts, depth)
        elif number == 5:
            _tensor(r, start + length, facts)
        elif number == 15:  # SparseTensorProto: values (1), indices (2)
            for n2, w2, l2, s2 in r.fields(start + length):
                if n2 in (1, 2) and w2 == 2:
                    _tensor(r, s2 + l2, facts)


def _function(r: WireReader, end: int, facts: OnnxFacts) -> None:
    name = domain = ""
    for number, wtype, length, start in r.fields(end):
        if wtype != 2:
            continue
        if number == 1:
            name = _text(r, start, length)
        elif number == 10:
            domain = _text(r, start, length)
        elif number == 7:
            _node(r, start + length, facts, 1)
    facts.local_functions.add((domain, name))


def _node(r: WireReader, end: int, facts: OnnxFacts, depth: int) -> None:
    op = domain = ""
    for number, wtype, length, start in r.fields(end):
        if wtype != 2:
            continue
        if number == 4:
            op = _text(r, start, length)
        elif number == 7:
            domain = _text(r, start, length)
        elif number == 5:
            _attribute(r, start + length, facts, depth)
    facts.ops.add((domain, op))


def _attribute(r: WireReader, end: int, facts: OnnxFacts, depth: int) -> None:
    for number, wtype, length, start in r.fields(end):
        if wtype != 2:
            continue
        if number in (6, 11):  # g, graphs
            _graph(r, start + length, facts, depth + 1)
        elif number in (5, 10):  # t, tensors
            _tensor(r, start + length, facts)


def _tensor(r: WireReader, end: int, facts: OnnxFacts) -> None:
    name = ""
    locations: list[str] = []
    for number, wtype, length, start in r.fields(end):
        if wtype != 2:
            continue
        if number == 8:
            name = _text(r, start, length, 512)
        elif number == 13:  # StringStringEntryProto
            key = value = ""
            for n2, w2, l2, s2 in r.fields(start + length):
                if w2 == 2 and n2 == 1:
                    key = _text(r, s2, l2, 256)
                elif w2 == 2 and n2 == 2:
                    value = _text(r, s2, l2)
            if key == "location":
                locations.append(value)
    facts.external.extend((name, loc) for loc in locations)


def escapes(location: str) -> bool:
    """True when an external data location is absolute or climbs out of its folder."""
    loc = location.replace("\\", "/")
    if loc.startswith("/") or _DRIVE.match(loc) or "\x00" in loc:
        return True
    depth = 0
    for part in PurePosixPath(loc).parts:
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in (".", ""):
            depth += 1
    return False


def _cross_check(stream: BinaryIO, size: int) -> str | None:
    """Parse with the onnx protobuf classes; the error text, or None when it parses."""
    import onnx

    stream.seek(0)
    data = stream.read(size)
    try:
        onnx.ModelProto.FromString(data)
    except Exception as exc:  # DecodeError and friends: any failure is a malformed model
        return f"onnx cannot parse the model: {str(exc)[:300] or type(exc).__name__}"
    return None


class OnnxHandler:
    name = "onnx"

    def scan(self, stream: BinaryIO, size: int, ctx: ScanContext) -> list[Finding]:
        try:
            facts = walk_model(stream, size, ctx)
        except WireError as exc:
            return [R.ONNX_MALFORMED.finding(str(exc), ctx.location(stream.tell()))]
        findings: list[Finding] = []
        if size <= CROSS_CHECK_LIMIT:
            error = _cross_check(stream, size)
            if error:
                findings.append(R.ONNX_MALFORMED.finding(error, ctx.location(0)))
        code = sorted(f"{d or 'ai.onnx'}:{op}" for d, op in facts.ops if op in CODE_OPS)
        if code:
            findings.append(R.ONNX_CODE_OP.finding(
                f"operators that run Python: {', '.join(code[:20])}", ctx.location(),
                properties={"operators": code}))
        local_domains = {d for d, _ in facts.local_functions}
        custom = sorted(
            f"{d}:{op}" for d, op in facts.ops
            if d not in STANDARD_DOMAINS and d not in local_domains and op not in CODE_OPS)
        if custom:
            findings.append(R.ONNX_CUSTOM_DOMAIN.finding(
                f"custom operators need a native library: {', '.join(custom[:20])}",
                ctx.location(), properties={"operators": custom}))
        findings.extend(self._external(facts, ctx))
        return findings

    def _external(self, facts: OnnxFacts, ctx: ScanContext) -> list[Finding]:
        out: list[Finding] = []
        bad = sorted({loc for _, loc in facts.external if escapes(loc)})
        if bad:
            out.append(R.ONNX_EXTERNAL_PATH.finding(
                "external data locations outside the model folder: "
                + ", ".join(repr(b[:200]) for b in bad[:10]),
                ctx.location(), properties={"locations": bad[:50]}))
        folder = self._folder(ctx)
        if folder is None or ctx.member:
            return out
        missing: list[str] = []
        outside: list[str] = []
        root = (ctx.root or folder).resolve()
        for loc in sorted({loc for _, loc in facts.external if not escapes(loc)}):
            target = folder / loc
            try:
                real = target.resolve(strict=True)
            except (OSError, RuntimeError):
                missing.append(loc)
                continue
            if real != root and root not in real.parents:
                outside.append(f"{loc} -> {real}")
        if outside:
            out.append(R.ONNX_EXTERNAL_PATH.finding(
                "external data resolves outside the model folder (symlink): "
                + ", ".join(outside[:10]), ctx.location()))
        if missing:
            out.append(R.ONNX_EXTERNAL_MISSING.finding(
                "external data files not found: " + ", ".join(repr(m[:200]) for m in missing[:10]),
                ctx.location()))
        return out

    @staticmethod
    def _folder(ctx: ScanContext) -> Path | None:
        if ctx.disk_path is not None:
            return ctx.disk_path.parent
        if ctx.root is not None:
            return (ctx.root / ctx.path).parent
        return None
