"""TensorFlow SavedModel (``saved_model.pb``) and frozen GraphDef (``*.pb``) without TensorFlow.

The protobuf wire format is decoded here, streaming, only as far as needed to reach the op
name of every node:

    SavedModel     2: meta_graphs (MetaGraphDef)
    MetaGraphDef   2: graph_def (GraphDef)
    GraphDef       1: node (NodeDef)   2: library (FunctionDefLibrary)
    FunctionDefLibrary 1: function (FunctionDef)
    FunctionDef    3: node_def (NodeDef)
    NodeDef        1: name   2: op

A top-level message whose field 1 is a varint is a SavedModel (``saved_model_schema_version``);
one whose field 1 is length-delimited is a GraphDef. Every other field is skipped with a seek,
so constant tensors of any size are never read. Ops that run Python code, touch files or reach
the network are findings; a wire-format error is a finding (fail closed).

Not covered (see docs/scan-formats.md): the object graph of TF2 SavedModels
(``object_graph_def``: restored Python functions are in the function library, which *is*
covered), custom op libraries loaded with ``tf.load_op_library`` (not in the .pb), and the
variables/ checkpoint files (TensorBundle, data only).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from mlgate.core.findings import Finding
from mlgate.scan import rules_formats as R
from mlgate.scan.base import ScanContext

CODE_OPS = frozenset({"PyFunc", "PyFuncStateless", "EagerPyFunc"})
FILE_OPS = frozenset({
    "ReadFile", "WriteFile", "MatchingFiles", "DeleteFile", "FileExists", "IsDirectory",
    "RecursivelyCreateDir", "CreateDir", "DeleteRecursively", "RenameFile", "CopyFile",
    "GetChildren", "ImmutableConst", "Save", "SaveSlices", "SaveV2", "MergeV2Checkpoints",
    "WriteAudioSummary", "WriteGraphSummary", "WriteHistogramSummary", "WriteImageSummary",
    "WriteRawProtoSummary", "WriteScalarSummary", "WriteSummary", "CreateSummaryFileWriter",
    "CreateSummaryDbWriter", "SummaryWriter", "FixedLengthRecordReader",
    "FixedLengthRecordReaderV2", "TextLineReader", "TextLineReaderV2", "WholeFileReader",
    "WholeFileReaderV2", "TFRecordReader", "TFRecordReaderV2", "LMDBReader", "IdentityReader",
    "TextLineDataset", "TFRecordDataset", "FixedLengthRecordDataset", "LMDBDataset",
    "DatasetToTFRecord", "SnapshotDataset", "SnapshotDatasetV2", "SaveDataset", "SaveDatasetV2",
    "LoadDataset", "InitializeTableFromTextFile", "InitializeTableFromTextFileV2",
})
"""Ops that read, write, list or delete files. Restore/RestoreV2 (checkpoint loading by the
loader itself) are not listed: every SavedModel has them."""
NETWORK_OPS = frozenset({
    "DebugIdentity", "DebugIdentityV2", "DebugNanCount", "DebugNumericSummary",
    "DebugNumericSummaryV2", "Rpc", "TryRpc", "CollectiveBcastSend", "CollectiveBcastRecv",
    "_Send", "_Recv", "_HostSend", "_HostRecv", "RemoteCall", "BigQueryReader",
    "GenerateBigQueryReaderPartitions", "IteratorFromStringHandle", "DataServiceDataset",
    "DataServiceDatasetV2", "DataServiceDatasetV3", "DataServiceDatasetV4",
    "RegisterDataset", "RegisterDatasetV2", "KafkaDataset", "ExperimentalDataServiceDataset",
})
"""Ops that open connections or talk to other processes."""

MAX_DEPTH = 64


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message."""


@dataclass
class WireReader:
    """Streaming protobuf wire-format reader over a seekable binary stream."""

    stream: BinaryIO
    ctx: ScanContext | None = None
    reads: int = field(default=0)

    def varint(self, end: int) -> int:
        shift = 0
        value = 0
        while True:
            if self.stream.tell() >= end:
                raise WireError(f"varint runs past the end of its message at {end}")
            b = self.stream.read(1)
            if not b:
                raise WireError("file ends inside a varint")
            byte = b[0]
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
            if shift >= 70:
                raise WireError("varint longer than 10 bytes")

    def fields(self, end: int) -> Iterator[tuple[int, int, int, int]]:
        """(field number, wire type, value or length, payload start) for each field up to
        ``end``. Length-delimited payloads are *not* consumed: the caller either descends or
        lets the iterator skip them."""
        while self.stream.tell() < end:
            self.reads += 1
            if self.ctx is not None and self.reads % 4096 == 0:
                self.ctx.check_deadline()
            at = self.stream.tell()
            key = self.varint(end)
            number, wtype = key >> 3, key & 7
            if number == 0:
                raise WireError(f"field number 0 at offset {at}")
            if wtype == 0:
                yield number, wtype, self.varint(end), self.stream.tell()
            elif wtype == 1:
                self._skip(8, end)
                yield number, wtype, 8, self.stream.tell()
            elif wtype == 5:
                self._skip(4, end)
                yield number, wtype, 4, self.stream.tell()
            elif wtype == 2:
                length = self.varint(end)
                start = self.stream.tell()
                if start + length > end:
                    raise WireError(f"field {number} at offset {at} claims {length} bytes, past "
                                    f"the end of its message at {end}")
                yield number, wtype, length, start
                self.stream.seek(start + length)
            else:
                raise WireError(f"unsupported wire type {wtype} (groups/invalid) at offset {at}")

    def _skip(self, n: int, end: int) -> None:
        pos = self.stream.tell()
        if pos + n > end:
            raise WireError(f"fixed-size field runs past the end of its message at {end}")
        self.stream.seek(pos + n)

    def bytes_at(self, start: int, length: int, cap: int = 4096) -> bytes:
        self.stream.seek(start)
        return self.stream.read(min(length, cap))


def _graph_ops(r: WireReader, end: int, ops: dict[str, list[str]], depth: int) -> None:
    """GraphDef: nodes (1) and the function library (2)."""
    if depth > MAX_DEPTH:
        raise WireError("messages nest too deeply")
    for number, wtype, length, start in r.fields(end):
        if wtype != 2:
            continue
        if number == 1:
            _node_op(r, start + length, ops)
        elif number == 2:
            for n2, w2, l2, s2 in r.fields(start + length):  # FunctionDefLibrary
                if n2 == 1 and w2 == 2:
                    for n3, w3, l3, s3 in r.fields(s2 + l2):  # FunctionDef
                        if n3 == 3 and w3 == 2:
                            _node_op(r, s3 + l3, ops)


def _node_op(r: WireReader, end: int, ops: dict[str, list[str]]) -> None:
    name = op = ""
    for number, wtype, length, start in r.fields(end):
        if wtype == 2 and number in (1, 2):
            text = r.bytes_at(start, length, 512).decode("utf-8", "replace")
            if number == 1:
                name = text
            else:
                op = text
    if op:
        ops.setdefault(op, []).append(name)


def collect_ops(stream: BinaryIO, size: int, ctx: ScanContext | None = None) -> dict[str, list[str]]:
    """Op type -> node names, for a SavedModel or a GraphDef. Raises WireError."""
    r = WireReader(stream, ctx)
    ops: dict[str, list[str]] = {}
    stream.seek(0)
    first = list(_peek_first(r, size))
    stream.seek(0)
    saved_model = bool(first) and first[0] == (1, 0)
    if saved_model:
        for number, wtype, length, start in r.fields(size):
            if number == 2 and wtype == 2:  # MetaGraphDef
                for n2, w2, l2, s2 in r.fields(start + length):
                    if n2 == 2 and w2 == 2:
                        _graph_ops(r, s2 + l2, ops, 1)
    else:
        _graph_ops(r, size, ops, 0)
    return ops


def _peek_first(r: WireReader, size: int) -> Iterator[tuple[int, int]]:
    for number, wtype, _length, _start in r.fields(size):
        yield number, wtype
        return


class SavedModelHandler:
    name = "savedmodel"

    def scan(self, stream: BinaryIO, size: int, ctx: ScanContext) -> list[Finding]:
        try:
            ops = collect_ops(stream, size, ctx)
        except WireError as exc:
            return [R.TF_MALFORMED.finding(str(exc), ctx.location(stream.tell()))]
        findings: list[Finding] = []
        for rule, names in ((R.TF_CODE_OP, CODE_OPS), (R.TF_FILE_OP, FILE_OPS),
                            (R.TF_NETWORK_OP, NETWORK_OPS)):
            hits = sorted(op for op in ops if op in names)
            if hits:
                detail = "; ".join(
                    f"{op} (nodes: {', '.join(n[:80] for n in ops[op][:5])}"
                    f"{'...' if len(ops[op]) > 5 else ''})" for op in hits)
                findings.append(rule.finding(detail, ctx.location(),
                                             properties={"ops": hits}))
        return findings
