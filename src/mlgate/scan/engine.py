"""The scan engine: safe walk, content sniffing, dispatch to format handlers, limits, hashing.

Every file is opened once (``open_nofollow``); its sha256 is computed on that descriptor by a
worker thread (``os.preadv``; hashlib releases the GIL) while the handler parses the same file
on the main thread, so a file costs about max(hash, parse) rather than the sum. Handlers read
metadata and skip tensor payloads, so the hash is the only pass over every byte.

Fail closed everywhere: a file that could not be read, parsed, or finished in time is a
finding, never a silent pass, and never a traceback.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

from mlgate.core.artifacts import (
    CHUNK_SIZE,
    SNIFF_SIZE,
    Artifact,
    ArtifactKind,
    Format,
    open_nofollow,
    select_shard,
    sniff,
    walk,
)
from mlgate.core.errors import ToolError, UsageError
from mlgate.core.findings import FileRecord, Finding, JSONValue, Location, Report, Severity
from mlgate.core.policy import Policy
from mlgate.scan import rules_core as R
from mlgate.scan.base import HANDLERS, FormatHandler, ScanContext, ScanTimeout

ENGINES = ("mlgate", "modelscan", "both")
# the names the CLI shows (issue #3); the report's engine field keeps the internal names
ENGINE_NAMES = {"builtin": "mlgate", "modelscan": "modelscan", "all": "both",
                "mlgate": "mlgate", "both": "both"}
JOBS_CAP = 8  # default --jobs: the usable CPUs, at most this many worker processes

# extensions people give model files; content we cannot identify under these names fails closed
MODEL_EXTENSIONS = frozenset({
    ".pt", ".pth", ".bin", ".pkl", ".pickle", ".joblib", ".ckpt", ".npy", ".npz", ".h5",
    ".hdf5", ".keras", ".onnx", ".ort", ".gguf", ".ggml", ".safetensors", ".pb", ".msgpack",
    ".tflite", ".mar", ".nemo", ".dill", ".sav", ".model", ".pdparams", ".mlmodel", ".llamafile",
})
# extensions whose loaders may unpickle whatever they are given: text-looking or unidentified
# content under these names is analysed as a pickle (a pickle need not start with PROTO)
PICKLE_EXTENSIONS = frozenset({
    ".pt", ".pth", ".bin", ".pkl", ".pickle", ".joblib", ".ckpt", ".dill", ".sav", ".dat",
    ".data", ".pdparams",
})
# data-only formats: the extension promises a format that cannot run code on load
STRICT_EXTENSIONS: dict[str, frozenset[Format]] = {
    ".safetensors": frozenset({Format.SAFETENSORS}),
    ".gguf": frozenset({Format.GGUF}),
    ".onnx": frozenset({Format.ONNX}),
    ".npy": frozenset({Format.NUMPY}),
    ".h5": frozenset({Format.HDF5}),
    ".hdf5": frozenset({Format.HDF5}),
    ".keras": frozenset({Format.ZIP, Format.HDF5}),
    ".npz": frozenset({Format.ZIP}),
    ".tflite": frozenset({Format.UNKNOWN}),
    ".msgpack": frozenset({Format.UNKNOWN}),
}
# formats whose content can run code when loaded (or hide content that does)
CODE_CAPABLE = frozenset({
    Format.PICKLE, Format.ZIP, Format.TAR, Format.GZIP, Format.BZIP2, Format.XZ,
    Format.SEVENZ, Format.PYTHON,
})
# formats inside which an appended zip is a polyglot (archives are checked by their handler)
_POLYGLOT_PROBE = frozenset({
    Format.PICKLE, Format.NUMPY, Format.HDF5, Format.GGUF, Format.SAFETENSORS, Format.ONNX,
    Format.PROTOBUF, Format.JSON, Format.TEXT, Format.UNKNOWN, Format.PYTHON,
})
SMALL_FILE = 1 << 20  # files up to this size are read once into memory
_EOCD = b"PK\x05\x06"
_EOCD_WINDOW = 22 + 0xFFFF


_Result = tuple[FileRecord, list[Finding]]


def _ready(record: FileRecord, findings: list[Finding]) -> Callable[[], _Result]:
    return lambda: (record, findings)


@dataclass
class _Stats:
    formats: dict[str, int] = field(default_factory=dict)
    bytes_scanned: int = 0
    files_scanned: int = 0


class ScanEngine:
    """One scan: caches handler instances, carries the policy, dispatches streams."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.scan_policy = policy.scan
        self._handlers: dict[str, FormatHandler | str] = {}

    # --- handlers -------------------------------------------------------------------------

    def handler(self, target: str) -> FormatHandler | str:
        """The handler instance for ``module:Class``, or the reason it is unavailable."""
        cached = self._handlers.get(target)
        if cached is not None:
            return cached
        module_name, _, attr = target.partition(":")
        result: FormatHandler | str
        try:
            cls = getattr(importlib.import_module(module_name), attr)
            result = cls()
        except Exception as exc:  # missing module, import error in a handler, bad registry
            result = f"analyser {target} is unavailable ({type(exc).__name__}: {exc})"
        self._handlers[target] = result
        return result

    # --- streams --------------------------------------------------------------------------

    def scan_stream(
        self, stream: BinaryIO, size: int, fmt: Format, head: bytes, ctx: ScanContext
    ) -> list[Finding]:
        """Findings for one stream whose format was sniffed as ``fmt``."""
        ctx.check_deadline()
        findings: list[Finding] = []
        ext = _ext(ctx.name)
        label = fmt.value
        target = HANDLERS.get(fmt)

        if fmt is Format.EMPTY and ext in MODEL_EXTENSIONS:
            # an empty weights file is a broken artifact, never a clean one (fail closed)
            return [R.UNKNOWN_MODEL_FORMAT.finding(
                f"named {ext} but the file is empty", ctx.location(),
                properties={"extension": ext})]
        expected = STRICT_EXTENSIONS.get(ext)
        extra = _extra_format(head, ext)
        if expected is not None and fmt not in expected and fmt not in (Format.UNKNOWN, Format.EMPTY):
            findings.append(R.EXTENSION_MISMATCH.finding(
                f"named {ext} but the content is {fmt.value}",
                ctx.location(),
                severity=None if fmt in CODE_CAPABLE else Severity.LOW,
                properties={"extension": ext, "format": fmt.value},
            ))
        if target is None and fmt in (Format.UNKNOWN, Format.TEXT) and ext in PICKLE_EXTENSIONS:
            if _is_zlib(head):
                target, label = "mlgate.scan.archives:CompressedHandler", "zlib"
            else:
                # loaders of these names unpickle whatever they get: analyse it as a pickle
                target = HANDLERS[Format.PICKLE]
        elif (target is None and fmt is Format.UNKNOWN and expected is not None
              and len(expected) == 1 and next(iter(expected)) in HANDLERS):
            # a data-only name whose content does not sniff as that format: its own parser says
            # precisely what is wrong (header length out of bounds, bad magic, ...)
            claimed = next(iter(expected))
            target, label = HANDLERS[claimed], claimed.value
        elif target is None and fmt is Format.UNKNOWN and extra is None and ext in MODEL_EXTENSIONS:
            findings.append(R.UNKNOWN_MODEL_FORMAT.finding(
                f"named {ext} but the content matches no known model format "
                f"(first bytes: {head[:16].hex()})",
                ctx.location(),
                properties={"extension": ext},
            ))
        if target is not None:
            handler = self.handler(target)
            if isinstance(handler, str):
                findings.append(R.ANALYSIS_FAILED.finding(
                    f"{label} content could not be analysed: {handler}", ctx.location()
                ))
            else:
                findings.extend(self._run_handler(handler, stream, size, ctx, label))
        if fmt in _POLYGLOT_PROBE and size >= 22:
            findings.extend(self._appended_zip(stream, size, fmt, ctx))
        return findings

    def _run_handler(
        self, handler: FormatHandler, stream: BinaryIO, size: int, ctx: ScanContext, label: str
    ) -> list[Finding]:
        try:
            stream.seek(0)
            return list(handler.scan(stream, size, ctx))
        except ScanTimeout:
            raise
        except Exception as exc:  # a handler bug or a parser defeated by hostile input
            return [R.ANALYSIS_FAILED.finding(
                f"the {label} analyser failed: {type(exc).__name__}: {_short(exc)}",
                ctx.location(),
            )]

    def _appended_zip(
        self, stream: BinaryIO, size: int, fmt: Format, ctx: ScanContext
    ) -> list[Finding]:
        """A zip glued to the end of a non-archive file: readers that look for the end of
        central directory (zipfile, numpy.load, some torch paths) see a different file."""
        start = max(0, size - _EOCD_WINDOW)
        stream.seek(start)
        tail = stream.read(size - start)
        if _EOCD not in tail:
            return []
        import zipfile

        try:
            stream.seek(0)
            with zipfile.ZipFile(stream) as zf:
                names = zf.namelist()
        except Exception:
            return []
        if not names:
            return []
        out = [R.POLYGLOT.finding(
            f"a {fmt.value} file with a zip archive of {len(names)} member(s) appended "
            f"({', '.join(names[:5])}{'...' if len(names) > 5 else ''})",
            ctx.location(),
        )]
        handler = self.handler("mlgate.scan.archives:ZipHandler")
        if isinstance(handler, str):
            out.append(R.ANALYSIS_FAILED.finding(handler, ctx.location()))
        else:
            out.extend(self._run_handler(handler, stream, size, ctx, "zip"))
        return out

    def scan_nested(
        self, stream: BinaryIO, size: int, name: str, ctx: ScanContext
    ) -> list[Finding]:
        """Callback for handlers (``ctx.scan_nested``): scan a member or embedded stream with
        full format dispatch. ``ctx`` is the caller's own context; the member's context is
        derived here (a context already derived for ``name`` is used as is)."""
        last = (ctx.member or "").rsplit("!/", 1)[-1]
        child = ctx if (ctx.member is not None and last == name and ctx.disk_path is None) else (
            ctx.child(name)
        )
        if child.depth > self.scan_policy.max_archive_depth:
            return [R.ARCHIVE_TOO_DEEP.finding(
                f"nested {child.depth} levels deep (limit {self.scan_policy.max_archive_depth}); "
                "not scanned",
                child.location(),
            )]
        child.check_deadline()
        stream.seek(0)
        head = stream.read(SNIFF_SIZE)
        stream.seek(0)
        fmt = _sniff(head, child.name, size)
        return self.scan_stream(stream, size, fmt, head, child)

    # --- files ----------------------------------------------------------------------------

    def scan_artifact(
        self, art: Artifact, hash_files: bool, pool: ThreadPoolExecutor | None
    ) -> Callable[[], _Result]:
        """Scan one walked entry. Returns a finisher: it waits for the file's hash (which may
        still run on ``pool``, so several files hash in parallel) and gives the record."""
        loc = Location(art.rel)
        if art.kind is not ArtifactKind.FILE or art.real is None:
            rule = {
                ArtifactKind.SYMLINK_OUTSIDE: R.SYMLINK_OUTSIDE,
                ArtifactKind.SYMLINK_BROKEN: R.SYMLINK_BROKEN,
                ArtifactKind.SPECIAL: R.SPECIAL_FILE,
            }.get(art.kind, R.UNREADABLE)
            return _ready(FileRecord(art.rel, art.size, None, Format.UNKNOWN.value,
                                     error=art.detail),
                          [rule.finding(art.detail or art.kind.value, loc)])
        try:
            fd = open_nofollow(art.real)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            return _ready(FileRecord(art.rel, art.size, None, Format.UNKNOWN.value, error=reason),
                          [R.UNREADABLE.finding(f"cannot open: {reason}", loc)])
        owned = False
        try:
            finisher, owned = self._scan_fd(fd, art, hash_files, pool)
            return finisher
        finally:
            if not owned:
                os.close(fd)

    def _scan_fd(
        self, fd: int, art: Artifact, hash_files: bool, pool: ThreadPoolExecutor | None
    ) -> tuple[Callable[[], _Result], bool]:
        """(finisher, whether the finisher now owns ``fd`` and will close it)."""
        res = self._scan_fd_now(fd, art, hash_files, pool)
        if isinstance(res, tuple):
            return _ready(*res), False
        return res, True

    def _scan_fd_now(
        self, fd: int, art: Artifact, hash_files: bool, pool: ThreadPoolExecutor | None
    ) -> _Result | Callable[[], _Result]:
        loc = Location(art.rel)
        size = os.fstat(fd).st_size
        limit = self.scan_policy.max_file_size
        try:
            head = os.pread(fd, SNIFF_SIZE, 0)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            return (FileRecord(art.rel, size, None, Format.UNKNOWN.value, error=reason),
                    [R.UNREADABLE.finding(f"cannot read: {reason}", loc)])
        fmt = _sniff(head, art.rel.rsplit("/", 1)[-1], size)
        fmt_label = fmt.value if fmt is not Format.UNKNOWN else (
            _extra_format(head, _ext(art.rel)) or fmt.value)
        if limit is not None and size > limit:
            return (
                FileRecord(art.rel, size, None, fmt_label,
                           error=f"not scanned: {size} bytes is over max_file_size ({limit})"),
                [R.TOO_LARGE.finding(f"{size} bytes, limit {limit} bytes; not scanned", loc)],
            )
        future: Future[str] | None = None
        small: bytes | None = None
        if size <= SMALL_FILE:
            # one read serves the hash and the handler (no thread hand-off per small file)
            try:
                small = os.pread(fd, size + 1, 0)
            except OSError as exc:
                reason = exc.strerror or str(exc)
                return (FileRecord(art.rel, size, None, fmt_label, error=reason),
                        [R.UNREADABLE.finding(f"cannot read: {reason}", loc)])
        elif hash_files and pool is not None:
            future = pool.submit(_sha256_fd, fd, size)
        findings: list[Finding] = []
        ctx = ScanContext(
            path=art.rel,
            name=art.rel.rsplit("/", 1)[-1],
            policy=self.scan_policy,
            root=art.root,
            disk_path=art.real,
            deadline=time.monotonic() + self.scan_policy.max_seconds_per_file,
        )
        ctx.scan_nested = self.scan_nested
        error: str | None = None
        try:
            if small is not None:
                findings = self.scan_stream(io.BytesIO(small), len(small), fmt, head, ctx)
            else:
                with os.fdopen(os.dup(fd), "rb", buffering=CHUNK_SIZE) as stream:
                    findings = self.scan_stream(stream, size, fmt, head, ctx)
        except ScanTimeout as exc:
            findings.append(R.TIMEOUT.finding(f"{exc}; the rest of the file was not analysed", loc))
        except OSError as exc:
            error = exc.strerror or str(exc)
            findings.append(R.UNREADABLE.finding(f"read failed during the scan: {error}", loc))
        except Exception as exc:  # defence in depth: the engine itself must not traceback
            findings.append(R.ANALYSIS_FAILED.finding(
                f"scan failed: {type(exc).__name__}: {_short(exc)}", loc))
        if small is not None:
            digest = hashlib.sha256(small).hexdigest() if hash_files else None
            return FileRecord(art.rel, len(small), digest, fmt_label, error=error), findings
        if not hash_files:
            return FileRecord(art.rel, size, None, fmt_label, error=error), findings
        hashing = future

        def finish() -> _Result:
            digest: str | None = None
            err = error
            try:
                digest = hashing.result() if hashing is not None else _sha256_fd(fd, size)
            except OSError as exc:
                err = exc.strerror or str(exc)
                findings.append(R.UNREADABLE.finding(f"read failed while hashing: {err}", loc))
            finally:
                os.close(fd)
            return FileRecord(art.rel, size, digest, fmt_label, error=err), findings

        return finish


def scan_paths(
    paths: Sequence[Path],
    *,
    policy: Policy,
    engine: str = "mlgate",
    hash_files: bool = True,
    shard: tuple[int, int] | None = None,
    jobs: int | None = 1,
) -> Report:
    """Scan files and folders; a Report of kind ``scan`` with a FileRecord for every file.

    ``engine``: ``builtin``/``mlgate``, ``modelscan`` or ``all``/``both``. ``jobs``: worker
    processes scanning whole files in parallel (1: in this process; a single file is always
    scanned in this process; None: worker processes only when at least two files are large
    enough, PARALLEL_MIN_BYTES each, to repay a worker's start-up). Records and findings come in
    walk order (sorted by path) whatever ``jobs`` is."""
    engine = ENGINE_NAMES.get(engine, engine)
    if engine not in ENGINES:
        raise UsageError(f"unknown engine {engine!r}", hint="engines: builtin, modelscan, all")
    if jobs is not None and jobs < 1:
        raise UsageError(f"--jobs must be at least 1, not {jobs}")
    if not paths:
        raise UsageError("nothing to scan", hint="give one or more files or folders")
    started = time.monotonic()
    artifacts: list[Artifact] = []
    for root in paths:
        found = walk(Path(root))
        if len(paths) > 1:
            # several roots: keep their relative paths apart
            prefix = Path(root).as_posix().rstrip("/")
            if Path(root).is_dir():
                found = [replace(a, rel=f"{prefix}/{a.rel}") for a in found]
            else:
                found = [replace(a, rel=prefix) for a in found]
        artifacts.extend(found)
    if not artifacts:
        # an empty folder is not a clean model: there is nothing to vouch for (fail closed)
        raise UsageError(f"no files to scan under {', '.join(str(p) for p in paths)}",
                         hint="give the model folder or its files")
    if shard is not None:
        artifacts = select_shard(artifacts, shard[0], shard[1])

    scanner = ScanEngine(policy)
    records: list[FileRecord] = []
    findings: list[Finding] = []
    stats = _Stats()
    workers = 1
    if engine in ("mlgate", "both"):
        regular = [a for a in artifacts if a.kind is ArtifactKind.FILE and a.real is not None]
        if jobs is None:
            big = sum(1 for a in regular if a.size >= PARALLEL_MIN_BYTES)
            workers = min(default_jobs(), big) if big >= 2 else 1
        else:
            workers = min(jobs, len(regular))
        if workers > 1:
            results = _scan_parallel(scanner, artifacts, policy, hash_files, workers)
        else:
            results = _scan_in_process(scanner, artifacts, hash_files)
        for art, (rec, found_here) in zip(artifacts, results, strict=True):
            records.append(rec)
            findings.extend(found_here)
            stats.formats[rec.format] = stats.formats.get(rec.format, 0) + 1
            if rec.error is None and art.kind is ArtifactKind.FILE:
                stats.files_scanned += 1
                stats.bytes_scanned += rec.size
    else:
        # modelscan alone: still inventory and hash every file for the BOM
        for art in artifacts:
            rec = _record_only(art, hash_files)
            records.append(rec)
    if engine in ("modelscan", "both"):
        try:
            run_modelscan = importlib.import_module("mlgate.scan.modelscan").run_modelscan
        except ImportError as exc:
            raise ToolError(f"the modelscan engine is not available: {exc}",
                            hint="pip install 'mlgate[modelscan]'") from exc
        targets = [a.real for a in artifacts if a.readable and a.real is not None] if shard else [
            Path(p) for p in paths]
        for f in run_modelscan(targets):
            findings.append(f if f.engine == "modelscan" else replace(f, engine="modelscan"))

    evidence: dict[str, JSONValue] = {
        "engine": engine,
        "jobs": workers,
        "roots": [{"path": str(p), "kind": "dir" if Path(p).is_dir() else "file"} for p in paths],
        "formats": dict(sorted(stats.formats.items())),
        "files_scanned": stats.files_scanned,
        "bytes_scanned": stats.bytes_scanned,
        "hashed": hash_files,
        "seconds": round(time.monotonic() - started, 3),
        "limits": {
            "max_file_size": policy.scan.max_file_size,
            "max_seconds_per_file": policy.scan.max_seconds_per_file,
            "max_archive_depth": policy.scan.max_archive_depth,
        },
    }
    return Report(
        kind="scan",
        target=", ".join(str(p) for p in paths),
        findings=tuple(findings),
        files=tuple(records),
        evidence=evidence,
        shard=f"{shard[0]}/{shard[1]}" if shard is not None else None,
        complete=True,
    )


# below this size a file is scanned faster in-process than a worker process starts (measured:
# --jobs 2 on a folder of small files was slower than in-process; see docs/scan.md)
PARALLEL_MIN_BYTES = 64 << 20


def default_jobs() -> int:
    """The default for ``--jobs``: the CPUs this process may run on, at most JOBS_CAP."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(JOBS_CAP, cpus))


def _scan_in_process(
    scanner: ScanEngine, artifacts: Sequence[Artifact], hash_files: bool
) -> list[_Result]:
    """Scan every entry here, in order. The next files are parsed while earlier ones still
    hash on a thread pool (at most ``workers`` hashes in flight, each holding its file open)."""
    workers = max(1, min(4, os.cpu_count() or 1))
    results: list[_Result] = []
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mlgate-hash") as pool:
        pending: deque[Callable[[], _Result]] = deque()
        try:
            for art in artifacts:
                pending.append(scanner.scan_artifact(art, hash_files, pool))
                while len(pending) > workers:
                    results.append(pending.popleft()())
        finally:
            while pending:
                results.append(pending.popleft()())
    return results


# --- several files on several cores ---------------------------------------------------------

_BATCH_BYTES = 64 << 20  # small files travel to a worker in batches of about this many bytes
_BATCH_FILES = 256
_worker_engine: ScanEngine | None = None


def _worker_init(policy: Policy) -> None:
    global _worker_engine
    _worker_engine = ScanEngine(policy)


def _worker_scan(arts: list[Artifact], hash_files: bool) -> list[_Result]:
    """In a worker process: scan whole files (each parsed and hashed at once, deadlines as
    in-process) and send back their records and findings."""
    scanner = _worker_engine
    assert scanner is not None, "worker not initialised"
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlgate-hash") as pool:
        return [scanner.scan_artifact(art, hash_files, pool)() for art in arts]


def _pool(policy: Policy, workers: int) -> ProcessPoolExecutor:
    import multiprocessing

    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method),
                               initializer=_worker_init, initargs=(policy,))


def _batches(artifacts: Sequence[Artifact], indices: Sequence[int]) -> list[list[int]]:
    """Contiguous groups of file indices: a large file alone, small ones together."""
    out: list[list[int]] = []
    current: list[int] = []
    size = 0
    for i in indices:
        n = max(artifacts[i].size, 0)
        if current and (size + n > _BATCH_BYTES or len(current) >= _BATCH_FILES):
            out.append(current)
            current, size = [], 0
        current.append(i)
        size += n
    if current:
        out.append(current)
    # large files first, so the longest tasks start early (results are put back in order)
    out.sort(key=lambda b: -sum(max(artifacts[i].size, 0) for i in b))
    return out


def _crashed(art: Artifact, why: str) -> _Result:
    return (FileRecord(art.rel, art.size, None, Format.UNKNOWN.value, error=why),
            [R.ANALYSIS_FAILED.finding(f"{why}; the file was not analysed",
                                       Location(art.rel))])


def _scan_parallel(
    scanner: ScanEngine, artifacts: Sequence[Artifact], policy: Policy, hash_files: bool,
    workers: int,
) -> list[_Result]:
    """Scan files in ``workers`` processes. Entries that are not regular files are settled
    here (nothing to read). A worker that dies takes its batch down with it: those files are
    rescanned one by one in a fresh worker, and a file that kills that one too gets a finding
    (fail closed)."""
    results: list[_Result | None] = [None] * len(artifacts)
    todo = [i for i, a in enumerate(artifacts) if a.kind is ArtifactKind.FILE and a.real is not None]
    in_workers = set(todo)
    for i, art in enumerate(artifacts):
        if i not in in_workers:
            results[i] = scanner.scan_artifact(art, hash_files, None)()
    failed: list[int] = []
    with _pool(policy, workers) as pool:
        futures = [(batch, pool.submit(_worker_scan, [artifacts[i] for i in batch], hash_files))
                   for batch in _batches(artifacts, todo)]
        for batch, fut in futures:
            try:
                out = fut.result()
            except Exception:  # BrokenProcessPool, or a result that could not travel back
                failed.extend(batch)
                continue
            for i, res in zip(batch, out, strict=True):
                results[i] = res
    if failed:
        _rescan_isolated(artifacts, sorted(failed), policy, hash_files, results)
    assert all(r is not None for r in results)
    return [r for r in results if r is not None]


def _rescan_isolated(
    artifacts: Sequence[Artifact], indices: Sequence[int], policy: Policy, hash_files: bool,
    results: list[_Result | None],
) -> None:
    from concurrent.futures.process import BrokenProcessPool

    pool: ProcessPoolExecutor | None = None
    try:
        for i in indices:
            art = artifacts[i]
            if pool is None:
                pool = _pool(policy, 1)
            try:
                results[i] = pool.submit(_worker_scan, [art], hash_files).result()[0]
            except BrokenProcessPool:
                results[i] = _crashed(art, "the scanning worker process died on this file")
                pool.shutdown(wait=False, cancel_futures=True)
                pool = None
            except Exception as exc:
                results[i] = _crashed(art, f"scan failed in a worker: {type(exc).__name__}: "
                                           f"{_short(exc)}")
    finally:
        if pool is not None:
            pool.shutdown()


def _record_only(art: Artifact, hash_files: bool) -> FileRecord:
    if not art.readable or art.real is None:
        return FileRecord(art.rel, art.size, None, Format.UNKNOWN.value, error=art.detail)
    try:
        fd = open_nofollow(art.real)
    except OSError as exc:
        return FileRecord(art.rel, art.size, None, Format.UNKNOWN.value,
                          error=exc.strerror or str(exc))
    try:
        size = os.fstat(fd).st_size
        head = os.pread(fd, SNIFF_SIZE, 0)
        digest = _sha256_fd(fd, size) if hash_files else None
        return FileRecord(art.rel, size, digest, _sniff(head, art.rel, size).value)
    except OSError as exc:
        return FileRecord(art.rel, art.size, None, Format.UNKNOWN.value,
                          error=exc.strerror or str(exc))
    finally:
        os.close(fd)


def _sha256_fd(fd: int, size: int) -> str:
    """sha256 of an open file by positional reads (no shared offset with the parser)."""
    h = hashlib.sha256()
    buf = bytearray(CHUNK_SIZE)
    view = memoryview(buf)
    offset = 0
    while True:
        n = os.preadv(fd, [buf], offset)
        if not n:
            break
        h.update(view[:n])
        offset += n
    return h.hexdigest()


def _sniff(head: bytes, name: str, size: int) -> Format:
    """Content-based format of a stream (``core.artifacts.sniff``); the name breaks ties only."""
    return sniff(head, name, size)


def _ext(name: str) -> str:
    base = name.rsplit("/", 1)[-1].lower()
    dot = base.rfind(".")
    return base[dot:] if dot > 0 else ""


def _is_zlib(head: bytes) -> bool:
    return (len(head) >= 2 and head[0] == 0x78 and head[1] in (0x01, 0x5E, 0x9C, 0xDA)
            and (head[0] * 256 + head[1]) % 31 == 0)


def _extra_format(head: bytes, ext: str) -> str | None:
    """Data-only formats without a handler that are recognised (not 'unknown')."""
    if ext == ".tflite" and len(head) >= 8 and head[4:8] == b"TFL3":
        return "tflite"
    if ext == ".msgpack" and head[:1] and (head[0] in (0xDE, 0xDF) or 0x80 <= head[0] <= 0x8F):
        return "msgpack"
    return None


def _short(exc: BaseException, limit: int = 300) -> str:
    text = str(exc)
    return text if len(text) <= limit else text[:limit] + "..."
