"""The safe walk of a model folder, format sniffing by content and single-pass hashing.

Rules (docs/scan.md):
- symlinks are never followed out of the root; a link that leaves the root, dangles or loops
  is reported as such (kind != FILE) and its target is never read;
- directories reached through symlinks are not descended (no loops, no double counting);
- special files (FIFOs, sockets, devices) are reported, never opened (opening a FIFO blocks);
- the format comes from the first bytes, never from the extension alone.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from mlgate.core.errors import UsageError

CHUNK_SIZE = 1 << 20  # 1 MiB reads: large enough for hashlib to run at OpenSSL speed
SNIFF_SIZE = 512


class ArtifactKind(str, Enum):
    FILE = "file"
    SYMLINK_OUTSIDE = "symlink-outside-root"
    SYMLINK_BROKEN = "symlink-broken"
    SPECIAL = "special-file"
    UNREADABLE = "unreadable"


@dataclass(frozen=True)
class Artifact:
    """One entry of a model folder. ``rel`` is the POSIX path relative to the scanned root
    (for a single-file argument: its file name). ``real`` is the path to read for a FILE
    (a symlink inside the root resolves to its target inside the root)."""

    root: Path
    path: Path
    rel: str
    size: int
    kind: ArtifactKind
    real: Path | None = None
    detail: str = ""

    @property
    def readable(self) -> bool:
        return self.kind is ArtifactKind.FILE and self.real is not None


def require_model_path(path: Path) -> Path:
    """The PATH a command was given, checked before anything reads it: it must exist, and a
    symlink must resolve (a loop or a dangling link is a usage error, never an empty or
    partial result). Links *inside* a folder are the walk's business (reported as findings)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError as exc:
        raise UsageError(f"no such file or folder: {path}") from exc
    except OSError as exc:  # ELOOP on a parent component, EACCES, ENAMETOOLONG, ...
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if stat.S_ISLNK(st.st_mode):
        try:
            path.resolve(strict=True)
        except (OSError, RuntimeError) as exc:  # RuntimeError: a loop, before Python 3.13
            raise UsageError(
                f"{path} is a symlink that cannot be resolved (loop or broken)",
                hint="pass the file or folder the link should point to",
            ) from exc
    return path


def walk(root: Path) -> list[Artifact]:
    """All entries under ``root`` (a folder or a single file), sorted by relative path."""
    try:
        st = os.lstat(root)
    except FileNotFoundError as exc:
        raise UsageError(f"no such file or folder: {root}") from exc
    except OSError as exc:
        raise UsageError(f"cannot read {root}: {exc.strerror}") from exc
    if stat.S_ISDIR(st.st_mode) or (stat.S_ISLNK(st.st_mode) and root.is_dir()):
        base = root.resolve()
        out = list(_walk_dir(root, base))
        out.sort(key=lambda a: a.rel)
        return out
    # a single file: its own folder is the boundary for symlinks
    base = root.absolute().parent.resolve()
    return [_classify(root, root.name, base)]


def _walk_dir(root: Path, base: Path) -> Iterator[Artifact]:
    stack = [root]
    while stack:
        current = stack.pop()
        try:
            entries = sorted(os.scandir(current), key=lambda e: e.name)
        except OSError as exc:
            rel = _rel(root, Path(current))
            yield Artifact(root, Path(current), rel or ".", 0, ArtifactKind.UNREADABLE,
                           detail=f"cannot list folder: {exc.strerror}")
            continue
        for entry in entries:
            p = Path(entry.path)
            rel = _rel(root, p)
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(p)
                    continue
            except OSError as exc:
                yield Artifact(root, p, rel, 0, ArtifactKind.UNREADABLE, detail=str(exc))
                continue
            if entry.is_symlink():
                target = _resolve_inside(p, base)
                if target is not None and target.is_dir():
                    # a link to a folder inside the root: its files are walked at their real
                    # place; descending here would count them twice (or loop)
                    continue
            yield _classify(p, rel, base)


def _classify(p: Path, rel: str, base: Path) -> Artifact:
    try:
        st = os.lstat(p)
    except OSError as exc:
        return Artifact(base, p, rel, 0, ArtifactKind.UNREADABLE, detail=str(exc.strerror))
    if stat.S_ISLNK(st.st_mode):
        link = os.readlink(p)
        target = _resolve_inside(p, base)
        if target is None:
            try:
                resolved = p.resolve(strict=True)
            except (OSError, RuntimeError):
                return Artifact(base, p, rel, 0, ArtifactKind.SYMLINK_BROKEN,
                                detail=f"symlink to {link!r} does not resolve")
            return Artifact(base, p, rel, 0, ArtifactKind.SYMLINK_OUTSIDE,
                            detail=f"symlink to {link!r} resolves outside the root ({resolved})")
        try:
            tst = os.stat(target)
        except OSError as exc:
            return Artifact(base, p, rel, 0, ArtifactKind.UNREADABLE, detail=str(exc.strerror))
        if not stat.S_ISREG(tst.st_mode):
            return Artifact(base, p, rel, 0, ArtifactKind.SPECIAL,
                            detail=f"symlink to a special file ({link!r})")
        return Artifact(base, p, rel, tst.st_size, ArtifactKind.FILE, real=target,
                        detail=f"symlink to {link!r}")
    if not stat.S_ISREG(st.st_mode):
        return Artifact(base, p, rel, 0, ArtifactKind.SPECIAL,
                        detail="not a regular file (FIFO, socket or device)")
    if not os.access(p, os.R_OK):
        return Artifact(base, p, rel, st.st_size, ArtifactKind.UNREADABLE,
                        detail="permission denied")
    return Artifact(base, p, rel, st.st_size, ArtifactKind.FILE, real=p)


def _resolve_inside(p: Path, base: Path) -> Path | None:
    """The resolved target of ``p`` if it exists and lies inside ``base``, else None."""
    try:
        resolved = p.resolve(strict=True)
    except (OSError, RuntimeError):  # broken link or loop
        return None
    if resolved == base or base in resolved.parents:
        return resolved
    return None


def _rel(root: Path, p: Path) -> str:
    try:
        return p.relative_to(root).as_posix()
    except ValueError:
        return p.as_posix()


def open_nofollow(path: Path) -> int:
    """Open ``path`` read-only without following a final symlink (a swapped-in link between
    the walk and the read fails instead of reading outside the root). Returns an fd."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise OSError(f"{path} is not a regular file")
    return fd


def sha256_file(path: Path, chunk_size: int = CHUNK_SIZE) -> tuple[str, int]:
    """Hex sha256 and byte count of a file, read once in fixed-size chunks (bounded memory)."""
    h = hashlib.sha256()
    buf = bytearray(chunk_size)
    view = memoryview(buf)
    total = 0
    fd = open_nofollow(path)
    with os.fdopen(fd, "rb", buffering=0) as f:
        while True:
            n = f.readinto(view)
            if not n:
                break
            h.update(view[:n])
            total += n
    return h.hexdigest(), total


# --- format sniffing --------------------------------------------------------------------

class Format(str, Enum):
    ZIP = "zip"
    TAR = "tar"
    GZIP = "gzip"
    BZIP2 = "bzip2"
    XZ = "xz"
    SEVENZ = "7z"
    PICKLE = "pickle"
    NUMPY = "numpy"
    HDF5 = "hdf5"
    GGUF = "gguf"
    SAFETENSORS = "safetensors"
    ONNX = "onnx"
    PROTOBUF = "protobuf"
    JSON = "json"
    PYTHON = "python"
    TEXT = "text"
    EMPTY = "empty"
    UNKNOWN = "unknown"


_PICKLE_PROTO0_START = set(b"(cdeGIJKLMNSVX]}")


def sniff(head: bytes, name: str = "", size: int | None = None) -> Format:
    """Guess a file's format from its first bytes (``SNIFF_SIZE`` is enough). The name is used
    only to break ties between formats that have no magic (ONNX/protobuf, Python source)."""
    if not head:
        return Format.EMPTY
    lower = name.lower()
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return Format.ZIP
    if head.startswith(b"\x93NUMPY"):
        return Format.NUMPY
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return Format.HDF5
    if head.startswith(b"GGUF"):
        return Format.GGUF
    if head.startswith(b"\x1f\x8b"):
        return Format.GZIP
    if head.startswith(b"BZh"):
        return Format.BZIP2
    if head.startswith(b"\xfd7zXZ\x00"):
        return Format.XZ
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return Format.SEVENZ
    if len(head) >= 262 and head[257:262] == b"ustar":
        return Format.TAR
    if len(head) >= 2 and head[0] == 0x80 and head[1] <= 5:
        return Format.PICKLE
    if _looks_like_safetensors(head, size):
        return Format.SAFETENSORS
    if lower.endswith((".onnx", ".ort")) and head[:1] == b"\x08":
        return Format.ONNX
    if lower.endswith((".pb", ".pbtxt")):
        return Format.PROTOBUF
    stripped = head.lstrip()
    base = lower.rsplit("/", 1)[-1]
    if stripped[:1] in (b"{", b"[") and (base.endswith((".json", ".jsonl", ".json5")) or "." not in base):
        return Format.JSON
    if lower.endswith((".py", ".pyw")):
        return Format.PYTHON
    if head[0] in _PICKLE_PROTO0_START and lower.endswith(
        (".pkl", ".pickle", ".pt", ".pth", ".bin", ".ckpt", ".joblib", ".dat", ".data")
    ):
        return Format.PICKLE
    if _is_text(head):
        return Format.TEXT
    return Format.UNKNOWN


def _looks_like_safetensors(head: bytes, size: int | None) -> bool:
    if len(head) < 9:
        return False
    n = int.from_bytes(head[:8], "little")
    if n < 2 or (size is not None and n + 8 > size):
        return False
    return head[8:9] == b"{"


def _is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the end of the sniff window is still text
        return exc.start >= len(head) - 3
    return True


def read_head(path: Path, n: int = SNIFF_SIZE) -> bytes:
    fd = open_nofollow(path)
    with os.fdopen(fd, "rb", buffering=0) as f:
        return f.read(n)


# --- sharding a model across a CI matrix ----------------------------------------------------

def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` → (2, 4); 1-based. Raises UsageError otherwise."""
    try:
        i_str, n_str = text.split("/", 1)
        i, n = int(i_str), int(n_str)
    except ValueError as exc:
        raise UsageError(f"bad shard {text!r}", hint="write it as i/n, e.g. 2/4") from exc
    if n < 1 or not 1 <= i <= n:
        raise UsageError(f"bad shard {text!r}", hint="i must be between 1 and n")
    return i, n


def select_shard(artifacts: Sequence[Artifact], index: int, count: int) -> list[Artifact]:
    """The artifacts of shard ``index`` of ``count`` (1-based): a deterministic greedy
    balance by size, largest first, so every job of the matrix reads about the same bytes."""
    if count == 1:
        return list(artifacts)
    loads = [0] * count
    chosen: list[Artifact] = []
    for art in sorted(artifacts, key=lambda a: (-a.size, a.rel)):
        k = min(range(count), key=lambda j: (loads[j], j))
        loads[k] += max(art.size, 1)
        if k == index - 1:
            chosen.append(art)
    chosen.sort(key=lambda a: a.rel)
    return chosen
