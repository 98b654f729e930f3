"""The role every scan format handler plays, and the context the engine hands it.

A handler reads one stream (a file, or a member of an archive, always seekable) *as data*:
it never imports, unpickles or executes what it reads. It returns findings; a stream it cannot
parse is a finding (fail closed), never an exception: anything a handler raises is turned into
a 'could not parse' finding by the engine, but handlers should report their own parse errors
with their own rule ids.

Handlers are found through ``HANDLERS`` (format -> "module:Class"), imported lazily.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

from mlgate.core.artifacts import Format
from mlgate.core.findings import Finding, Location
from mlgate.core.policy.scan import ScanPolicy


class ScanTimeout(Exception):
    """Raised by ``ScanContext.check_deadline`` when the per-file time limit has passed."""


@dataclass
class ScanContext:
    """What a handler knows about the stream it is given.

    path:       the top-level file, relative to the scanned root (POSIX), for locations
    member:     archive member chain inside that file ('a.zip!/b.tar' style joined by '!/'),
                or None for the file itself
    name:       the stream's own file name (member base name or file name), for tie-breaks
    root:       the scanned root folder on disk (for checks such as ONNX external data paths)
    disk_path:  the file on disk when the stream *is* a real file (None for archive members)
    depth:      archive nesting depth (0 for a top-level file)
    policy:     limits and the user's allowlist extension
    scan_nested: callback into the engine: scan a nested stream (archive member, pickle
                embedded in .npy) with full format dispatch; returns its findings
    """

    path: str
    name: str
    policy: ScanPolicy
    root: Path | None = None
    disk_path: Path | None = None
    member: str | None = None
    depth: int = 0
    deadline: float = field(default_factory=lambda: time.monotonic() + 120.0)
    scan_nested: Callable[[BinaryIO, int, str, ScanContext], list[Finding]] | None = None

    def location(self, offset: int | None = None, line: int | None = None) -> Location:
        return Location(self.path, member=self.member, offset=offset, line=line)

    def check_deadline(self) -> None:
        if time.monotonic() > self.deadline:
            raise ScanTimeout(f"time limit of {self.policy.max_seconds_per_file:g}s exceeded")

    def child(self, member_name: str) -> ScanContext:
        """Context for a member of the stream (archive member, embedded pickle)."""
        chain = f"{self.member}!/{member_name}" if self.member else member_name
        return ScanContext(
            path=self.path,
            name=member_name.rsplit("/", 1)[-1],
            policy=self.policy,
            root=self.root,
            disk_path=None,
            member=chain,
            depth=self.depth + 1,
            deadline=self.deadline,
            scan_nested=self.scan_nested,
        )


class FormatHandler(Protocol):
    """One format. ``scan`` gets a seekable binary stream positioned at 0 and its size."""

    name: str

    def scan(self, stream: BinaryIO, size: int, ctx: ScanContext) -> list[Finding]: ...


# Format -> "module:Class". The engine instantiates the class once per scan.
HANDLERS: dict[Format, str] = {
    Format.PICKLE: "mlgate.scan.pickle:PickleHandler",
    Format.ZIP: "mlgate.scan.archives:ZipHandler",
    Format.TAR: "mlgate.scan.archives:TarHandler",
    Format.SEVENZ: "mlgate.scan.archives:SevenZipHandler",
    Format.GZIP: "mlgate.scan.archives:CompressedHandler",
    Format.BZIP2: "mlgate.scan.archives:CompressedHandler",
    Format.XZ: "mlgate.scan.archives:CompressedHandler",
    Format.NUMPY: "mlgate.scan.numpy:NumpyHandler",
    Format.HDF5: "mlgate.scan.keras:KerasH5Handler",
    Format.GGUF: "mlgate.scan.gguf:GgufHandler",
    Format.SAFETENSORS: "mlgate.scan.safetensors:SafetensorsHandler",
    Format.ONNX: "mlgate.scan.onnx:OnnxHandler",
    Format.PROTOBUF: "mlgate.scan.savedmodel:SavedModelHandler",
    Format.JSON: "mlgate.scan.configs:JsonConfigHandler",
    Format.PYTHON: "mlgate.scan.pycode:PythonCodeHandler",
}
