"""Time and memory of `mlgate bom` against `openssl dgst -sha256` on the same files.

    python benchmarks/bom.py [--size-gb 2] [--files 8] [--repeat 3] [--keep DIR]

Builds a synthetic model folder (random bytes in a few large "weight" files plus small JSON
files), then runs, each in a fresh process, with a warm page cache (every file is read once
before timing): `mlgate bom` (in-process hashing on all cores), `openssl dgst -sha256` over all
files (one process, sequential) and `openssl dgst` split over as many processes as there are
cores. Prints a table (with the load average, since a shared runner skews every row);
never part of the test run. ``--files 1`` shows the sequential limit: one file's SHA-256
cannot be split over cores, by mlgate or by openssl.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_folder(root: Path, size_gb: float, files: int) -> list[Path]:
    root.mkdir(parents=True, exist_ok=True)
    per_file = int(size_gb * (1 << 30)) // files
    chunk = os.urandom(1 << 20)
    out = []
    for i in range(files):
        p = root / f"model-{i + 1:05d}-of-{files:05d}.safetensors"
        with p.open("wb") as f:
            left = per_file
            while left > 0:
                n = min(left, len(chunk))
                f.write(chunk[:n])
                left -= n
        out.append(p)
    (root / "config.json").write_text(json.dumps({"model_type": "bert",
                                                  "architectures": ["BertModel"]}))
    (root / "README.md").write_text("---\nlicense: mit\npipeline_tag: fill-mask\n---\n# m\n")
    out += [root / "config.json", root / "README.md"]
    return out


def run(cmd: list[str]) -> tuple[float, int]:
    """(seconds, peak RSS in MiB of the process) of one command."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if status != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"failed: {' '.join(cmd[:4])}...: {err}")
    return elapsed, usage.ru_maxrss // 1024


def run_parallel(cmds: list[list[str]]) -> tuple[float, int]:
    start = time.perf_counter()
    procs = [subprocess.Popen(c, stdout=subprocess.DEVNULL) for c in cmds]
    peak = 0
    for p in procs:
        _, status, usage = os.wait4(p.pid, 0)
        if status != 0:
            raise SystemExit("openssl failed")
        peak += usage.ru_maxrss // 1024
    return time.perf_counter() - start, peak


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-gb", type=float, default=2.0)
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", type=Path, default=None)
    args = ap.parse_args()
    if shutil.which("openssl") is None:
        print("openssl not found", file=sys.stderr)
        return 3
    tmp = Path(tempfile.mkdtemp(prefix="mlgate-bench-bom-"))
    root = args.keep or tmp / "model"
    try:
        files = make_folder(root, args.size_gb, args.files)
        for p in files:  # warm the page cache: we compare hashing, not the disk
            with p.open("rb") as f:
                while f.read(1 << 24):
                    pass
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
            os.cpu_count() or 1)
        bom_cmd = [sys.executable, "-m", "mlgate", "bom", str(root), "-o", str(tmp / "b.json")]
        ossl = ["openssl", "dgst", "-sha256", *map(str, files)]
        groups = [files[i::cores] for i in range(cores)]
        ossl_par = [["openssl", "dgst", "-sha256", *map(str, g)] for g in groups if g]
        cases = (
            ("mlgate bom", lambda: run(bom_cmd)),
            ("openssl dgst -sha256 (1 process)", lambda: run(ossl)),
            (f"openssl dgst -sha256 ({len(ossl_par)} processes)", lambda: run_parallel(ossl_par)),
        )
        times: dict[str, list[float]] = {name: [] for name, _ in cases}
        mem: dict[str, int] = dict.fromkeys(times, 0)
        for _ in range(args.repeat):  # interleaved: each round sees the same background load
            for name, fn in cases:
                t, m = fn()
                times[name].append(t)
                mem[name] = max(mem[name], m)
        rows = [(name, min(ts), sorted(ts)[len(ts) // 2], mem[name]) for name, ts in times.items()]
        total = sum(p.stat().st_size for p in files) / (1 << 20)
        best_ossl = min(r[1] for r in rows[1:])
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"\n{total:.0f} MiB in {len(files)} files, {cores} cores, best of {args.repeat}, "
              f"load average {load}\n")
        print(f"| {'command':<36} | {'best s':>7} | {'median s':>8} | {'MiB/s':>7} "
              f"| {'peak RSS MiB':>12} | {'vs best openssl':>15} |")
        print(f"|{'-' * 38}|{'-' * 9}|{'-' * 10}|{'-' * 9}|{'-' * 14}|{'-' * 17}|")
        for name, best, median, mem in rows:
            print(f"| {name:<36} | {best:7.2f} | {median:8.2f} | {total / best:7.0f} "
                  f"| {mem:12d} | {best / best_ossl:14.2f}x |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
