"""A small inference benchmark for `mlgate bench` that runs unchanged on CPU and GPU.

With PyTorch installed it times a tiny MLP forward pass (CUDA events and synchronisation on a
GPU, ``time.perf_counter_ns`` on the CPU); without PyTorch it times a pure-Python matrix-vector
product, so the example works anywhere. Seeds are fixed, warm-up iterations run first, and the
metrics are written as one JSON object to ``$MLGATE_BENCH_OUTPUT`` when set (else printed as the
last stdout line)::

    {"latency_ms": {"value": [..per-batch samples..], "unit": "ms", "better": "lower"},
     "throughput": {"value": 1234.5, "unit": "items/s", "better": "higher"}}

Usage: python examples/bench/run.py [--iters 20] [--batch 32] [--device auto|cpu|cuda]
                                    [--per-batch]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time


def bench_torch(iters: int, batch: int, device_arg: str) -> tuple[list[float], str]:
    import torch

    torch.manual_seed(0)
    use_cuda = device_arg == "cuda" or (device_arg == "auto" and torch.cuda.is_available())
    device = torch.device("cuda" if use_cuda else "cpu")
    model = torch.nn.Sequential(
        torch.nn.Linear(256, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512), torch.nn.ReLU(),
        torch.nn.Linear(512, 10),
    ).to(device).eval()
    x = torch.randn(batch, 256, device=device)
    samples: list[float] = []
    with torch.inference_mode():
        for _ in range(5):  # warm-up: kernels, allocator, caches
            model(x)
        if use_cuda:
            torch.cuda.synchronize()
            for _ in range(iters):
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                model(x)
                end.record()
                torch.cuda.synchronize()
                samples.append(start.elapsed_time(end))  # milliseconds
        else:
            for _ in range(iters):
                t0 = time.perf_counter_ns()
                model(x)
                samples.append((time.perf_counter_ns() - t0) / 1e6)
    name = torch.cuda.get_device_name(0) if use_cuda else "cpu"
    return samples, f"torch {torch.__version__} on {name}"


def bench_python(iters: int, batch: int) -> tuple[list[float], str]:
    rng = random.Random(0)
    n = 64
    w = [[rng.random() for _ in range(n)] for _ in range(n)]
    xs = [[rng.random() for _ in range(n)] for _ in range(batch)]
    samples: list[float] = []
    for i in range(iters + 3):
        t0 = time.perf_counter_ns()
        for x in xs:
            [sum(a * b for a, b in zip(row, x, strict=True)) for row in w]
        if i >= 3:  # first three are warm-up
            samples.append((time.perf_counter_ns() - t0) / 1e6)
    return samples, f"pure Python {sys.version.split()[0]}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    ap.add_argument("--no-torch", action="store_true", help="use the pure-Python kernel")
    ap.add_argument("--per-batch", action="store_true",
                    help="report every batch latency as a sample (for p90/p99 limits)")
    args = ap.parse_args()
    samples: list[float]
    try:
        if args.no_torch:
            raise ImportError
        samples, backend = bench_torch(args.iters, args.batch, args.device)
    except ImportError:
        samples, backend = bench_python(args.iters, args.batch)
    median = statistics.median(samples)
    metrics = {
        # the median of this run's batches: one sample per run keeps the runs independent
        "latency_ms": {"value": samples if args.per_batch else median, "unit": "ms",
                       "better": "lower"},
        "throughput": {"value": args.batch / (median / 1000), "unit": "items/s", "better": "higher"},
    }
    print(f"# {backend}: median {median:.3f} ms over {len(samples)} batches", file=sys.stderr)
    out = os.environ.get("MLGATE_BENCH_OUTPUT")
    if out:
        with open(out, "w", encoding="utf-8") as fh:
            json.dump(metrics, fh)
    else:
        print(json.dumps(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())
