"""Scan throughput: mlgate against the sha256 floor (openssl) and the peer scanners.

Builds a model set in a temporary folder (a safetensors file, a pickle checkpoint of many numpy
arrays, a PyTorch zip checkpoint, a folder of many small files and a pickle of many small
Python objects), warms the page cache, then times each tool on each part in a fresh process
and prints a markdown table: MB/s, the ratio to ``openssl dgst -sha256`` on the same bytes, and
the peak RSS of the process (``os.wait4``; for ``--jobs`` runs, the largest single process).

    python benchmarks/scan_throughput.py                       # the issue's sizes (~3.7 GB)
    python benchmarks/scan_throughput.py --size-mb 512         # everything scaled down
    python benchmarks/scan_throughput.py --objects-mb 50 --safetensors-mb 2048 --pickle-mb 1024

Peers are run when installed: modelscan (``pip install 'mlgate[modelscan]'``), picklescan and
fickling (``pip install picklescan fickling``). A tool that does not apply to a file type (fickling
reads single pickles) is shown as n/a. Nothing here is a unit test; numbers vary by machine.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

MiB = 1 << 20
_BLOCK: list[bytes] = []


def block() -> bytes:
    """A repeated random payload: content does not change hashing or parsing cost."""
    if not _BLOCK:
        _BLOCK.append(os.urandom(4 * MiB))
    return _BLOCK[0]


@dataclass
class Part:
    name: str
    path: Path
    files: list[Path]

    @property
    def bytes(self) -> int:
        return sum(f.stat().st_size for f in self.files)


def _payload(out: object, n: int) -> None:
    write = out.write  # type: ignore[attr-defined]
    while n > 0:
        k = min(n, len(block()))
        write(block()[:k])
        n -= k


def make_safetensors(path: Path, size: int) -> None:
    n = size // 4
    header = json.dumps({"weight": {"dtype": "F32", "shape": [n], "data_offsets": [0, n * 4]},
                         "__metadata__": {"format": "pt"}}).encode()
    header += b" " * (-len(header) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header)
        _payload(f, n * 4)


def make_pickle(path: Path, size: int) -> None:
    """A pickle checkpoint of many tensors (1 MiB numpy arrays, protocol 4)."""
    import numpy as np

    chunk = 1 * MiB
    arrays = {}
    left, i = size, 0
    while left > 0:
        k = min(chunk, left)
        arrays[f"layer{i}.weight"] = np.frombuffer(block() * (k // len(block()) + 1), dtype=np.uint8,
                                                   count=k)
        left -= k
        i += 1
    with open(path, "wb") as f:
        pickle.dump(arrays, f, protocol=4)


def make_torch_zip(path: Path, size: int) -> None:
    try:
        import torch
    except ImportError:  # a zip laid out like torch.save's, built by hand
        storages = max(1, size // (64 * MiB))
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
            zf.writestr("model/data.pkl", pickle.dumps({"n": storages}, protocol=2))
            zf.writestr("model/version", "3\n")
            for i in range(storages):
                with zf.open(f"model/data/{i}", "w", force_zip64=True) as member:
                    _payload(member, size // storages)
        return
    n = max(1, size // (64 * MiB))
    state = {f"layer{i}.weight": torch.frombuffer(bytearray(block() * 16), dtype=torch.float32)[
        : (size // n) // 4].clone() for i in range(n)}
    torch.save(state, path)


def make_small_files(folder: Path, size: int) -> None:
    folder.mkdir()
    count = max(10, size // (32 * 1024))
    for i in range(count):
        if i % 3 == 0:
            (folder / f"cfg{i}.json").write_text(json.dumps({"id": i, "vocab": list(range(50))}))
        elif i % 3 == 1:
            make_safetensors(folder / f"shard{i}.safetensors", 32 * 1024)
        else:
            (folder / f"notes{i}.txt").write_bytes(b"lorem ipsum " * 2700)


def make_objects(path: Path, size: int) -> None:
    """A pickle of many small Python objects (dicts of an int, a str and a float): ~36 bytes
    and ~11 opcodes each, the worst case for an opcode-level analyser."""
    n = max(1, size // 36)
    with open(path, "wb") as f:
        pickle.dump([{"id": i, "name": f"item{i}", "v": i * 0.5} for i in range(n)], f,
                    protocol=4)


def build(root: Path, sizes: dict[str, int]) -> None:
    for sub in ("safetensors", "pickle", "torchzip", "objects"):
        (root / sub).mkdir()
    make_safetensors(root / "safetensors" / "model.safetensors", sizes["safetensors"])
    make_pickle(root / "pickle" / "model.pkl", sizes["pickle"])
    make_torch_zip(root / "torchzip" / "pytorch_model.bin", sizes["torchzip"])
    make_small_files(root / "small", sizes["small"])
    make_objects(root / "objects" / "objects.pkl", sizes["objects"])


def parts_of(root: Path) -> list[Part]:
    names = {"safetensors": "safetensors", "pickle": "pickle checkpoint",
             "torchzip": "torch zip", "small": "many small files",
             "objects": "small-object pickle"}
    return [Part(label, root / sub, sorted(p for p in (root / sub).iterdir()))
            for sub, label in names.items()]


def timed(cmd: Sequence[str], self_timed: bool = False,
          limit: float | None = None) -> tuple[float, int, int]:
    """Seconds, peak RSS (bytes) and exit code of one process. ``self_timed``: the process
    prints its own seconds (time spent scanning, without interpreter start and imports)."""
    t0 = time.perf_counter()
    import threading

    proc = subprocess.Popen(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    killed = threading.Event()

    def kill() -> None:
        killed.set()
        proc.kill()

    timer = threading.Timer(limit, kill) if limit else None
    if timer is not None:
        timer.start()
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)  # reaped here, not by Popen: keeps its rusage
    proc.returncode = os.waitstatus_to_exitcode(status)
    if timer is not None:
        timer.cancel()
    if killed.is_set():
        raise subprocess.TimeoutExpired(list(cmd), limit or 0)
    elapsed = time.perf_counter() - t0
    if self_timed:
        elapsed = float(out.decode().strip().splitlines()[-1])
    return elapsed, usage.ru_maxrss * 1024, os.waitstatus_to_exitcode(status)


def tools(part: Part) -> dict[str, list[str] | None]:
    py = sys.executable
    api = ("import sys, time; from pathlib import Path; from mlgate.core.policy import Policy; "
           "from mlgate.scan.engine import scan_paths; t = time.perf_counter(); "
           "r = scan_paths([Path(sys.argv[1])], policy=Policy(), hash_files=sys.argv[2]=='1'); "
           "print(time.perf_counter() - t); sys.exit(1 if r.findings else 0)")
    files = [str(f) for f in part.files]
    cli = [py, "-m", "mlgate", "scan", str(part.path), "--format", "json", "-o", os.devnull]
    folder = len(part.files) > 1
    out: dict[str, list[str] | None] = {
        "openssl dgst -sha256": ["openssl", "dgst", "-sha256", *files],
        "sha256sum": ["sha256sum", *files],
        "mlgate scan_paths() in-process*": [py, "-c", api, str(part.path), "1"],
        "mlgate scan_paths(hash_files=False) in-process*": [py, "-c", api, str(part.path), "0"],
        "mlgate scan (CLI)": [*cli, "--jobs", "1"],
        "mlgate scan --no-hash (CLI)": [*cli, "--jobs", "1", "--no-hash"],
        "mlgate scan --jobs 2 (CLI)": [*cli, "--jobs", "2"] if folder else None,
        "mlgate scan --jobs 2 --no-hash (CLI)": [*cli, "--jobs", "2", "--no-hash"] if folder
        else None,
        "modelscan": ["modelscan", "-p", str(part.path)] if shutil.which("modelscan") else None,
        "picklescan": ["picklescan", "-p", str(part.path)] if shutil.which("picklescan") else None,
        "fickling": (["fickling", "--check-safety", files[0]]
                     if shutil.which("fickling") and part.name == "pickle checkpoint" else None),
    }
    return {k: v for k, v in out.items() if v is not None or not k.startswith("mlgate")}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=None,
                    help="scale every part to this total (default: the issue's sizes below)")
    ap.add_argument("--safetensors-mb", type=int, default=2048)
    ap.add_argument("--pickle-mb", type=int, default=1024)
    ap.add_argument("--torch-mb", type=int, default=512)
    ap.add_argument("--small-files-mb", type=int, default=100)
    ap.add_argument("--objects-mb", type=int, default=50,
                    help="small-object pickle; the peers hold ~40x its size in memory")
    ap.add_argument("--timeout", type=int, default=900, help="seconds allowed per tool run")
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    ap.add_argument("--build-into", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    sizes = {"safetensors": args.safetensors_mb, "pickle": args.pickle_mb,
             "torchzip": args.torch_mb, "small": args.small_files_mb, "objects": args.objects_mb}
    if args.size_mb is not None:
        scale = args.size_mb / sum(sizes.values())
        sizes = {k: max(1, int(v * scale)) for k, v in sizes.items()}
    if args.build_into:  # the child that builds: numpy/torch never load in the timing parent
        build(args.build_into, {k: v * MiB for k, v in sizes.items()})
        return 0
    root = Path(tempfile.mkdtemp(prefix="mlgate-bench-"))
    try:
        t0 = time.perf_counter()
        # build in a child: Linux carries a parent's peak RSS into every child it forks, so
        # the timing parent stays small (its own peak is printed as the floor of the column)
        subprocess.run([sys.executable, __file__, *(argv if argv is not None else sys.argv[1:]),
                        "--build-into", str(root)], check=True)
        parts = parts_of(root)
        import resource

        floor_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"built {sum(p.bytes for p in parts) / MiB:.0f} MiB in "
              f"{time.perf_counter() - t0:.1f}s under {root}; cpus={os.cpu_count()}; "
              f"peak RSS floor (inherited from this parent) {floor_rss:.0f} MiB\n")
        print("| part | size MiB | tool | s | MB/s | vs openssl | peak RSS MiB | exit |")
        print("|---|---:|---|---:|---:|---:|---:|---:|")
        for part in parts:
            for f in part.files:  # warm the page cache: every tool reads from memory
                with open(f, "rb") as fh:
                    while fh.read(8 * MiB):
                        pass
            floor: float | None = None
            for name, cmd in tools(part).items():
                if cmd is None:
                    print(f"| {part.name} | {part.bytes / MiB:.0f} | {name} | n/a | | | | |")
                    continue
                try:
                    secs, rss, rc = timed(cmd, self_timed=name.endswith("*"), limit=args.timeout)
                except subprocess.TimeoutExpired:
                    print(f"| {part.name} | {part.bytes / MiB:.0f} | {name} | >{args.timeout} "
                          "| | | | killed |", flush=True)
                    continue
                mbs = part.bytes / 1e6 / secs
                if floor is None:
                    floor = mbs
                print(f"| {part.name} | {part.bytes / MiB:.0f} | {name} | {secs:.2f} | {mbs:.0f} "
                      f"| {mbs / floor:.2f} | {rss / MiB:.0f} | {rc} |", flush=True)
        print("\n*: time inside scan_paths() only (no interpreter start or imports); every other "
              "row is a whole process, start-up included.")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
