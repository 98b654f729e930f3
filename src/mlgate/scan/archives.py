"""Archives read the way real loaders read them, with every known trick turned into a finding.

Zip (PyTorch checkpoints, .keras, .npz): members come from the central directory, as
``torch.load`` (miniz), ``numpy.load`` and Keras read them; every entry is scanned, duplicates
included. The local header of each entry is compared with its central directory record, local
headers the directory does not list are reported, and bytes before the first record or after
the end of central directory are a polyglot finding. Stored members are read in place
(no copy); compressed members are stream-decompressed in chunks under a ratio and total budget
into a spooled temporary file (memory up to ``SPOOL_MEMORY`` bytes, then disk).

Tar: every member is looked at; links, devices and escaping names are findings; regular
members are scanned. 7z through py7zr (imported lazily). gzip/bz2/xz/zlib single streams are
decompressed under the same budget and the result scanned.

Every member goes back through the engine (``ctx.scan_nested``) which sniffs its content.
"""

from __future__ import annotations

import contextlib
import copy
import io
import posixpath
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from typing import IO, Any, BinaryIO

from mlgate.core.artifacts import SNIFF_SIZE, Format, sniff
from mlgate.core.findings import Finding
from mlgate.scan import rules_core as R
from mlgate.scan.base import ScanContext, ScanTimeout

READ_CHUNK = 1 << 20
SPOOL_MEMORY = 16 << 20  # decompressed members above this go to a temporary file
MAX_RATIO = 100  # decompressed / compressed, checked once a member passes RATIO_FLOOR
RATIO_FLOOR = 16 << 20
MAX_ZIP_MEMBERS = 200_000  # central directory entries read (each costs ~1 KB in zipfile)
MAX_TOTAL_DECOMPRESSED = 8 << 30  # per archive (stored members are not counted: no expansion)

_LOCAL_SIG = b"PK\x03\x04"
_LOCAL_FMT = "<4s5H3L2H"  # signature, version, flags, method, time, date, crc, csize, usize, n, m
_LOCAL_LEN = struct.calcsize(_LOCAL_FMT)
_SUPPORTED_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}


class BombError(Exception):
    """Decompression went over the ratio or total budget."""


class _Budget:
    def __init__(self, total: int = MAX_TOTAL_DECOMPRESSED) -> None:
        self.left = total


def unsafe_member_name(name: str) -> str | None:
    """Why ``name`` escapes an extraction folder, or None."""
    norm = name.replace("\\", "/")
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        return "absolute path"
    if ".." in norm.split("/"):
        return "'..' component"
    if "\x00" in name:
        return "NUL byte in the name"
    return None


class _Window(io.RawIOBase):
    """A read-only, seekable view of ``length`` bytes of ``raw`` starting at ``start``."""

    def __init__(self, raw: IO[bytes], start: int, length: int) -> None:
        super().__init__()
        self._raw = raw
        self._start = start
        self._length = length
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        else:
            pos = self._length + offset
        if pos < 0:
            raise ValueError("negative seek position")
        self._pos = pos
        return pos

    def readinto(self, b: Any) -> int:
        view = memoryview(b).cast("B")
        n = min(len(view), self._length - self._pos)
        if n <= 0:
            return 0
        self._raw.seek(self._start + self._pos)
        data = self._raw.read(n)
        view[: len(data)] = data
        self._pos += len(data)
        return len(data)


def _copy_bounded(
    read: Callable[[int], bytes], out: IO[bytes], compressed_size: int, budget: _Budget,
    ctx: ScanContext,
) -> int:
    """Copy a decompressing reader into ``out`` in chunks under the ratio and total budget."""
    total = 0
    while True:
        ctx.check_deadline()
        chunk = read(READ_CHUNK)
        if not chunk:
            return total
        total += len(chunk)
        budget.left -= len(chunk)
        if budget.left < 0:
            raise BombError(f"over the total decompression budget of {MAX_TOTAL_DECOMPRESSED} bytes")
        if total > RATIO_FLOOR and total > MAX_RATIO * max(compressed_size, 1):
            raise BombError(
                f"expands more than {MAX_RATIO}x ({compressed_size} compressed bytes gave more "
                f"than {total} bytes before decompression was stopped)"
            )
        out.write(chunk)


def _spool() -> tempfile.SpooledTemporaryFile[bytes]:
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY, mode="w+b")


def _nested(stream: BinaryIO, size: int, name: str, ctx: ScanContext) -> list[Finding]:
    if ctx.scan_nested is None:
        return [R.ANALYSIS_FAILED.finding("no engine to scan archive members", ctx.location())]
    return ctx.scan_nested(stream, size, name, ctx)


# --- zip ------------------------------------------------------------------------------------

class ZipHandler:
    """Zip archives, including PyTorch checkpoints, .keras files and .npz."""

    name = "zip"

    def scan(self, stream: BinaryIO, size: int, ctx: ScanContext) -> list[Finding]:
        findings: list[Finding] = []
        declared = _declared_members(stream, size)
        if declared is not None and declared > MAX_ZIP_MEMBERS:
            return [R.TOO_MANY_MEMBERS.finding(
                f"the zip declares {declared} members (limit {MAX_ZIP_MEMBERS}); not opened",
                ctx.location(), properties={"declared": declared})]
        try:
            stream.seek(0)
            zf = zipfile.ZipFile(stream)
        except NotImplementedError as exc:  # e.g. an extract version zipfile does not support
            return [R.UNSUPPORTED_COMPRESSION.finding(f"zip cannot be read: {exc}", ctx.location())]
        except ScanTimeout:
            raise
        except Exception as exc:  # BadZipFile, struct/overflow/seek errors on hostile tables
            return [R.CORRUPT_ARCHIVE.finding(f"not a readable zip: {type(exc).__name__}: {exc}",
                                              ctx.location())]
        with zf:
            infos = zf.infolist()
            try:
                findings += self._layout(stream, size, infos, ctx)
            except (ScanTimeout, MemoryError):
                raise
            except Exception as exc:
                findings.append(R.CORRUPT_ARCHIVE.finding(
                    f"zip layout could not be checked: {type(exc).__name__}: {exc}", ctx.location()))
            torch_like = any(i.filename.endswith("data.pkl") for i in infos)
            seen: dict[str, int] = {}
            budget = _Budget()
            for info in infos:
                ctx.check_deadline()
                seen[info.filename] = seen.get(info.filename, 0) + 1
                if seen[info.filename] == 2:
                    findings.append(R.DUPLICATE_MEMBER.finding(
                        f"{info.filename!r} appears more than once; every copy is scanned",
                        ctx.location(), properties={"member": info.filename},
                    ))
                why = unsafe_member_name(info.filename)
                if why:
                    findings.append(R.PATH_TRAVERSAL.finding(
                        f"member {info.filename!r}: {why}", ctx.location(),
                        properties={"member": info.filename},
                    ))
                if info.is_dir():
                    continue
                try:
                    findings += self._member(zf, stream, info, ctx, budget, torch_like)
                except (ScanTimeout, MemoryError):
                    raise
                except Exception as exc:  # a hostile entry must not hide the other entries
                    findings.append(R.CORRUPT_ARCHIVE.finding(
                        f"{info.filename!r} could not be read: {type(exc).__name__}: {exc}",
                        ctx.child(info.filename).location()))
        return findings

    def _layout(
        self, stream: BinaryIO, size: int, infos: list[zipfile.ZipInfo], ctx: ScanContext
    ) -> list[Finding]:
        """Prepended/appended data and local headers hidden from the central directory."""
        out: list[Finding] = []
        offsets = sorted(i.header_offset for i in infos)
        first = offsets[0] if offsets else None
        stream.seek(0)
        lead = stream.read(4)
        if first is not None and first > 0 and lead != _LOCAL_SIG:
            out.append(R.POLYGLOT.finding(
                f"{first} bytes precede the first zip record", ctx.location(offset=0)))
        end = _eocd_end(stream, size)
        if end is not None and end < size:
            out.append(R.POLYGLOT.finding(
                f"{size - end} bytes follow the end of the central directory",
                ctx.location(offset=end)))
        listed = set(offsets)
        for off, name in _local_headers(stream, size):
            if off not in listed:
                out.append(R.HIDDEN_MEMBER.finding(
                    f"local header for {name!r} at offset {off} is not in the central directory",
                    ctx.location(offset=off), properties={"member": name}))
        return out

    def _member(
        self, zf: zipfile.ZipFile, stream: BinaryIO, info: zipfile.ZipInfo, ctx: ScanContext,
        budget: _Budget, torch_like: bool,
    ) -> list[Finding]:
        out: list[Finding] = []
        loc = ctx.child(info.filename).location()
        local = _read_local(stream, info.header_offset)
        if local is None:
            return [R.CORRUPT_ARCHIVE.finding(
                f"no local header for {info.filename!r} at offset {info.header_offset}", loc)]
        local_name, flags, method, data_offset = local
        if local_name != info.orig_filename:
            out.append(R.HEADER_MISMATCH.finding(
                f"central directory names {info.orig_filename!r}, local header names "
                f"{local_name!r}", loc, properties={"local_name": local_name}))
        elif method != info.compress_type:
            out.append(R.HEADER_MISMATCH.finding(
                f"compression method {info.compress_type} in the central directory, {method} in "
                "the local header", loc))
        if info.flag_bits & 0x1 or flags & 0x1:
            out.append(R.ENCRYPTED_MEMBER.finding(f"{info.filename!r} is encrypted", loc))
            if info.compress_type == zipfile.ZIP_STORED:
                # readers that ignore the flag bit take the stored bytes as they are: analyse them
                window = io.BufferedReader(_Window(stream, data_offset, info.compress_size), READ_CHUNK)
                out += _nested(window, info.compress_size, info.filename, ctx)
            return out
        if info.compress_type not in _SUPPORTED_METHODS:
            return [*out, R.UNSUPPORTED_COMPRESSION.finding(
                f"{info.filename!r} uses compression method {info.compress_type}", loc)]
        if info.compress_type == zipfile.ZIP_STORED:
            length = info.compress_size
            window = io.BufferedReader(_Window(stream, data_offset, length), READ_CHUNK)
            if torch_like and _raw_storage(info.filename, window, length):
                return out  # tensor bytes torch reads raw, never unpickles
            window.seek(0)
            out += _nested(window, length, info.filename, ctx)
            if info.file_size != info.compress_size:
                out.append(R.CORRUPT_ARCHIVE.finding(
                    f"stored member {info.filename!r} declares {info.file_size} bytes but holds "
                    f"{info.compress_size}", loc))
            return out
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            return [*out, R.DECOMPRESSION_BOMB.finding(
                f"{info.filename!r} declares {info.file_size} bytes from {info.compress_size} "
                "compressed bytes; not decompressed", loc)]
        with _spool() as spool:
            try:
                n = self._extract(zf, info, spool, budget, ctx, check_crc=True)
            except zipfile.BadZipFile as exc:
                if "CRC" not in str(exc):
                    return [*out, R.CORRUPT_ARCHIVE.finding(f"{info.filename!r}: {exc}", loc)]
                out.append(R.BAD_CRC.finding(f"{info.filename!r}: {exc}", loc))
                spool.seek(0)
                spool.truncate()
                try:
                    n = self._extract(zf, info, spool, budget, ctx, check_crc=False)
                except Exception as exc2:
                    return [*out, R.CORRUPT_ARCHIVE.finding(f"{info.filename!r}: {exc2}", loc)]
            except BombError as exc:
                return [*out, R.DECOMPRESSION_BOMB.finding(f"{info.filename!r} {exc}", loc)]
            except NotImplementedError as exc:
                return [*out, R.UNSUPPORTED_COMPRESSION.finding(f"{info.filename!r}: {exc}", loc)]
            except (ScanTimeout, MemoryError):
                raise
            except Exception as exc:  # zlib.error, lzma/bz2 errors, EOF on truncated data
                return [*out, R.CORRUPT_ARCHIVE.finding(
                    f"{info.filename!r} could not be decompressed: {type(exc).__name__}: {exc}",
                    loc)]
            spool.seek(0)
            out += _nested(spool, n, info.filename, ctx)  # type: ignore[arg-type]
        return out

    @staticmethod
    def _extract(
        zf: zipfile.ZipFile, info: zipfile.ZipInfo, out: IO[bytes], budget: _Budget,
        ctx: ScanContext, *, check_crc: bool,
    ) -> int:
        # open exactly this entry (duplicates included), accepting the local header's name:
        # the mismatch is reported separately and the data is what a loader would read
        entry = copy.copy(info)
        local = _read_local(zf.fp, info.header_offset) if zf.fp is not None else None
        if local is not None:
            entry.orig_filename = local[0]
        with zf.open(entry) as member:
            if not check_crc:
                member._expected_crc = None  # type: ignore[attr-defined]
            return _copy_bounded(member.read, out, info.compress_size, budget, ctx)


def _read_local(stream: IO[bytes], offset: int) -> tuple[str, int, int, int] | None:
    """(name, flags, method, data offset) of the local header at ``offset``."""
    if offset < 0:
        return None
    stream.seek(offset)
    raw = stream.read(_LOCAL_LEN)
    if len(raw) < _LOCAL_LEN:
        return None
    sig, _ver, flags, method, _t, _d, _crc, _cs, _us, n, m = struct.unpack(_LOCAL_FMT, raw)
    if sig != _LOCAL_SIG:
        return None
    name_raw = stream.read(n)
    name = name_raw.decode("utf-8" if flags & 0x800 else "cp437", errors="replace")
    return name, flags, method, offset + _LOCAL_LEN + n + m


def _local_headers(stream: BinaryIO, size: int) -> Iterator[tuple[int, str]]:
    """Walk local headers from the first one while sizes are known (no data descriptor)."""
    stream.seek(0)
    off = 0
    for _ in range(1_000_000):
        stream.seek(off)
        raw = stream.read(_LOCAL_LEN)
        if len(raw) < _LOCAL_LEN or raw[:4] != _LOCAL_SIG:
            return
        _sig, _ver, flags, _method, _t, _d, _crc, csize, _us, n, m = struct.unpack(_LOCAL_FMT, raw)
        name = stream.read(n).decode("utf-8" if flags & 0x800 else "cp437", errors="replace")
        yield off, name
        if flags & 0x8 or csize == 0xFFFFFFFF:  # data descriptor or zip64: sizes not here
            return
        off += _LOCAL_LEN + n + m + csize
        if off >= size:
            return


def _declared_members(stream: BinaryIO, size: int) -> int | None:
    """Member count the end-of-central-directory record (or its zip64 twin) declares, read
    before zipfile loads the whole central directory; None when no record is found."""
    end = _eocd_end(stream, size)
    if end is None:
        return None
    start = max(0, size - (22 + 0xFFFF))
    stream.seek(start)
    tail = stream.read(size - start)
    pos = tail.rfind(b"PK\x05\x06")
    if pos < 0 or pos + 22 > len(tail):
        return None
    count = int.from_bytes(tail[pos + 10: pos + 12], "little")
    if count != 0xFFFF or pos < 20 or tail[pos - 20: pos - 16] != b"PK\x06\x07":
        return count
    z64 = int.from_bytes(tail[pos - 12: pos - 4], "little")  # offset of the zip64 record
    if not 0 <= z64 <= size - 56:
        return count
    stream.seek(z64)
    rec = stream.read(56)
    if rec[:4] != b"PK\x06\x06":
        return count
    return int.from_bytes(rec[32:40], "little")


def _eocd_end(stream: BinaryIO, size: int) -> int | None:
    """Offset just past the end-of-central-directory record and its comment."""
    start = max(0, size - (22 + 0xFFFF))
    stream.seek(start)
    tail = stream.read(size - start)
    pos = tail.rfind(b"PK\x05\x06")
    while pos >= 0:
        if pos + 22 <= len(tail):
            comment_len = int.from_bytes(tail[pos + 20: pos + 22], "little")
            return start + pos + 22 + comment_len
        pos = tail.rfind(b"PK\x05\x06", 0, pos)
    return None


def _raw_storage(name: str, window: BinaryIO, length: int) -> bool:
    """A PyTorch storage member (``<prefix>/data/<n>``) whose content is not a convincing
    nested file: torch reads these bytes as raw tensor data. Only multi-byte magics count
    (a float tensor can start with 0x80 0x02 or 0x1f 0x8b by chance)."""
    parent, _, base = name.rpartition("/")
    if not (base.isdigit() and parent.endswith("data")):
        return False
    head = window.read(SNIFF_SIZE)
    fmt = sniff(head, base, length)
    if fmt in (Format.ZIP, Format.NUMPY, Format.HDF5, Format.GGUF, Format.SEVENZ, Format.XZ,
               Format.TAR):
        return False
    if fmt is Format.PICKLE and length > 2:
        window.seek(length - 1)
        return window.read(1) != b"."  # a pickle ends with STOP
    return True


# --- tar ------------------------------------------------------------------------------------

class TarHandler:
    name = "tar"

    def scan(self, stream: BinaryIO, size: int, ctx: ScanContext) -> list[Finding]:
        import tarfile

        out: list[Finding] = []
        seen: set[str] = set()
        try:
            stream.seek(0)
            tf = tarfile.open(fileobj=stream, mode="r:")  # noqa: SIM115
        except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
            return [R.CORRUPT_ARCHIVE.finding(f"not a readable tar: {exc}", ctx.location())]
        with tf:
            try:
                for m in tf:
                    ctx.check_deadline()
                    loc = ctx.child(m.name).location()
                    if m.name in seen:
                        out.append(R.DUPLICATE_MEMBER.finding(
                            f"{m.name!r} appears more than once (extraction keeps the last); "
                            "every copy is scanned", loc))
                    seen.add(m.name)
                    why = unsafe_member_name(m.name)
                    if why:
                        out.append(R.PATH_TRAVERSAL.finding(f"member {m.name!r}: {why}", loc))
                    if m.issym() or m.islnk():
                        kind = "symlink" if m.issym() else "hard link"
                        target = m.linkname
                        escapes = unsafe_member_name(target) or (
                            m.issym() and posixpath.normpath(
                                posixpath.join(posixpath.dirname(m.name), target)).startswith(".."))
                        out.append(R.ARCHIVE_LINK.finding(
                            f"{kind} {m.name!r} -> {target!r}"
                            + (" (points outside the archive)" if escapes else ""), loc))
                        continue
                    if m.ischr() or m.isblk() or m.isfifo():
                        out.append(R.ARCHIVE_SPECIAL.finding(
                            f"{m.name!r} is a {'FIFO' if m.isfifo() else 'device'}", loc))
                        continue
                    if not m.isfile():
                        continue
                    member = tf.extractfile(m)
                    if member is None:
                        out.append(R.CORRUPT_ARCHIVE.finding(f"{m.name!r} could not be read", loc))
                        continue
                    out += _nested(member, m.size, m.name, ctx)  # type: ignore[arg-type]
            except (tarfile.TarError, OSError, EOFError) as exc:
                out.append(R.CORRUPT_ARCHIVE.finding(
                    f"tar stream breaks after {len(seen)} member(s): {exc}", ctx.location()))
        return out


# --- 7z -------------------------------------------------------------------------------------

class SevenZipHandler:
    """7z through py7zr. Members are decompressed one at a time into their own spooled
    temporary file (never into a shared folder, so two members with the same name are two
    files) under the ratio and total budget, and each is scanned as soon as it is complete."""

    name = "7z"

    def scan(self, stream: BinaryIO, size: int, ctx: ScanContext) -> list[Finding]:
        try:
            import py7zr
        except ImportError as exc:
            return [R.SEVENZ_UNAVAILABLE.finding(f"py7zr is not installed ({exc})", ctx.location())]
        out: list[Finding] = []
        try:
            stream.seek(0)
            with py7zr.SevenZipFile(stream, mode="r") as archive:
                if archive.needs_password():
                    return [R.ENCRYPTED_MEMBER.finding("the 7z archive is encrypted", ctx.location())]
                infos = archive.list()
                declared = 0
                seen: dict[str, int] = {}
                for info in infos:
                    name = str(info.filename)
                    loc = ctx.child(name).location()
                    seen[name] = seen.get(name, 0) + 1
                    if seen[name] == 2:
                        out.append(R.DUPLICATE_MEMBER.finding(
                            f"{name!r} appears more than once (extraction keeps one copy); every "
                            "copy is scanned", loc, properties={"member": name}))
                    why = unsafe_member_name(name)
                    if why:
                        out.append(R.PATH_TRAVERSAL.finding(f"member {name!r}: {why}", loc))
                    if getattr(info, "is_symlink", False):
                        out.append(R.ARCHIVE_LINK.finding(f"symlink member {name!r}", loc))
                        continue
                    if info.is_directory:
                        continue
                    declared += int(info.uncompressed or 0)
                if declared > MAX_TOTAL_DECOMPRESSED or (
                    declared > RATIO_FLOOR and declared > MAX_RATIO * max(size, 1)
                ):
                    return [*out, R.DECOMPRESSION_BOMB.finding(
                        f"7z archive of {size} bytes declares {declared} bytes; not extracted",
                        ctx.location())]
                if any(f.rule_id in (R.PATH_TRAVERSAL.id, R.ARCHIVE_LINK.id) for f in out):
                    return out  # never extract an archive that writes outside its folder
                factory = _SevenZipMembers(_sevenz_keys(archive), size, ctx)
                try:
                    # nothing touches the disk: every member goes to its own spool
                    archive.extractall(factory=factory)  # noqa: S202
                    factory.finish()
                finally:
                    factory.discard()
                    out += factory.findings
        except ScanTimeout:
            raise
        except BombError as exc:
            out.append(R.DECOMPRESSION_BOMB.finding(f"7z archive {exc}", ctx.location()))
        except Exception as exc:  # py7zr raises many types for malformed input
            out.append(R.SEVENZ_UNAVAILABLE.finding(
                f"could not read the 7z archive: {type(exc).__name__}: {exc}", ctx.location()))
        return out


def _sevenz_keys(archive: Any) -> dict[str, str]:
    """The writer key py7zr gives each member (a duplicate name gets a ``_<n>`` suffix) ->
    the member's own name, so findings name the member as the archive lists it."""
    from py7zr.helpers import get_sanitized_output_path

    keys: dict[str, str] = {}
    counts: dict[str, int] = {}
    for f in archive.files:
        name = str(f.filename)
        if name not in counts:
            counts[name] = 0
            outname = name
        else:
            outname = f"{name}_{counts[name]}"
            counts[name] += 1
        with contextlib.suppress(Exception):
            keys.setdefault(get_sanitized_output_path(outname, None).as_posix(), name)
    return keys


class _SevenZipMember:
    """One decompressed 7z member (py7zr's ``Py7zIO`` protocol): a spooled temporary file
    written under the archive's budget, scanned when py7zr closes it."""

    def __init__(self, name: str, owner: _SevenZipMembers) -> None:
        self.name = name
        self.spool = _spool()
        self.done = False
        self._owner = owner
        self._written = 0

    def write(self, s: bytes | bytearray) -> int:
        self._owner.charge(len(s))
        self._written += len(s)
        self.spool.write(s)
        return len(s)

    def read(self, size: int | None = None) -> bytes:
        return self.spool.read(-1 if size is None else size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.spool.seek(offset, whence)

    def flush(self) -> None:
        self.spool.flush()

    def size(self) -> int:
        return self._written

    def close(self) -> None:  # py7zr calls this once the member is fully decompressed
        self._owner.complete(self)


class _SevenZipMembers:
    """py7zr ``WriterFactory``: a fresh spool per member, so duplicates stay apart."""

    def __init__(self, keys: dict[str, str], size: int, ctx: ScanContext) -> None:
        self._keys = keys
        self._size = size
        self._ctx = ctx
        self._budget = _Budget()
        self._total = 0
        self._open: list[_SevenZipMember] = []
        self.findings: list[Finding] = []

    def create(self, filename: str) -> _SevenZipMember:
        member = _SevenZipMember(self._keys.get(filename, filename), self)
        self._open.append(member)
        return member

    def charge(self, n: int) -> None:
        self._ctx.check_deadline()
        self._total += n
        self._budget.left -= n
        if self._budget.left < 0:
            raise BombError(f"is over the total decompression budget of {MAX_TOTAL_DECOMPRESSED} "
                            "bytes")
        if self._total > RATIO_FLOOR and self._total > MAX_RATIO * max(self._size, 1):
            raise BombError(f"expands more than {MAX_RATIO}x ({self._size} bytes gave more than "
                            f"{self._total} bytes before decompression was stopped)")

    def complete(self, member: _SevenZipMember) -> None:
        if member.done:
            return
        member.done = True
        try:
            member.spool.seek(0)
            self.findings += _nested(member.spool, member.size(), member.name,  # type: ignore[arg-type]
                                     self._ctx)
        finally:
            member.spool.close()
            self._open.remove(member)

    def finish(self) -> None:
        """Scan members py7zr wrote but never closed (a py7zr without the close hook)."""
        for member in list(self._open):
            self.complete(member)

    def discard(self) -> None:
        """Release the spools of members that were not completed (extraction failed)."""
        for member in self._open:
            member.spool.close()
        self._open.clear()


# --- single compressed streams ----------------------------------------------------------------

class CompressedHandler:
    """gzip, bzip2, xz/lzma and zlib streams (joblib's compressed dumps): bounded
    decompression, then the content is scanned as its own file."""

    name = "compressed"

    def scan(self, stream: BinaryIO, size: int, ctx: ScanContext) -> list[Finding]:
        stream.seek(0)
        head = stream.read(6)
        stream.seek(0)
        with contextlib.ExitStack() as stack:
            kind, reader = _decompressor(stream, head, stack)
            return self._scan_decompressed(kind, reader, size, ctx)

    @staticmethod
    def _scan_decompressed(
        kind: str, reader: Callable[[int], bytes], size: int, ctx: ScanContext
    ) -> list[Finding]:
        inner = _strip_suffix(ctx.name)
        with _spool() as spool:
            try:
                n = _copy_bounded(reader, spool, size, _Budget(), ctx)
            except BombError as exc:
                return [R.DECOMPRESSION_BOMB.finding(f"{kind} stream {exc}", ctx.location())]
            except (ScanTimeout, MemoryError):
                raise
            except Exception as exc:  # truncated or corrupt stream
                out = [R.CORRUPT_ARCHIVE.finding(
                    f"{kind} stream is corrupt: {type(exc).__name__}: {exc}", ctx.location())]
                spool.seek(0, io.SEEK_END)
                n = spool.tell()
                if n:  # still scan what decompressed: a lenient loader may read it
                    spool.seek(0)
                    out += _nested(spool, n, inner, ctx)  # type: ignore[arg-type]
                return out
            spool.seek(0)
            return _nested(spool, n, inner, ctx)  # type: ignore[arg-type]


def _decompressor(
    stream: BinaryIO, head: bytes, stack: contextlib.ExitStack
) -> tuple[str, Callable[[int], bytes]]:
    if head.startswith(b"\x1f\x8b"):
        import gzip

        return "gzip", stack.enter_context(gzip.GzipFile(fileobj=stream, mode="rb")).read
    if head.startswith(b"BZh"):
        import bz2

        return "bzip2", stack.enter_context(bz2.BZ2File(stream, mode="rb")).read
    if head.startswith(b"\xfd7zXZ\x00"):
        import lzma

        return "xz", stack.enter_context(lzma.LZMAFile(stream, mode="rb")).read
    return "zlib", _zlib_reader(stream)


def _zlib_reader(stream: BinaryIO) -> Callable[[int], bytes]:
    d = zlib.decompressobj()
    state = {"done": False}

    def read(n: int) -> bytes:
        while not state["done"]:
            if d.unconsumed_tail:
                out = d.decompress(d.unconsumed_tail, n)
            else:
                chunk = stream.read(READ_CHUNK)
                if not chunk:
                    state["done"] = True
                    out = d.flush()
                    if not d.eof:
                        raise zlib.error("truncated zlib stream")
                    return out
                out = d.decompress(chunk, n)
            if d.eof:
                state["done"] = True
            if out:
                return out
        return b""

    return read


def _strip_suffix(name: str) -> str:
    lower = name.lower()
    for suffix in (".gz", ".gzip", ".bz2", ".xz", ".lzma", ".z", ".tgz"):
        if lower.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)] + (".tar" if suffix == ".tgz" else "")
    return name
