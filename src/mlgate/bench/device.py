"""Device fingerprint: what hardware and software a benchmark ran on (no torch import here).

GPUs come from ``nvidia-smi --query-gpu`` when it is on PATH (with a timeout); the CUDA version
from the header of plain ``nvidia-smi``. When nvidia-smi is missing or fails and PyTorch is
already installed (never a dependency), ``torch.cuda`` is asked instead, in a child Python
process with a timeout, so mlgate itself never imports torch. CPU model, cores and memory
come from /proc (Linux) or the platform module; framework versions from installed package
metadata (never imported).

The *device class* (GPU model, count and memory, or CPU model and cores when there is no GPU,
plus the machine architecture) is hashed into ``fingerprint``: results of different classes are
never compared. Driver, CUDA, Python and framework versions are recorded and reported as notes
when they differ, but they do not make a comparison impossible.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from typing import Any

NVIDIA_SMI_TIMEOUT_S = 15.0
QUERY_FIELDS = ("name", "driver_version", "memory.total", "clocks.max.sm", "pci.bus_id")
FRAMEWORKS = ("torch", "tensorflow", "jax", "onnxruntime", "onnxruntime-gpu", "transformers")
RUNNER_ENV = (
    "RUNNER_NAME", "RUNNER_OS", "RUNNER_ARCH", "RUNNER_ENVIRONMENT",
    "CI_RUNNER_DESCRIPTION", "CI_RUNNER_TAGS", "CI_RUNNER_ID",
)
_NA = {"[N/A]", "N/A", "[Not Supported]", "[Unknown Error]", ""}


@dataclass(frozen=True)
class Gpu:
    name: str
    driver_version: str
    memory_total_mib: int | None
    max_sm_clock_mhz: int | None
    bus_id: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "driver_version": self.driver_version,
            "memory_total_mib": self.memory_total_mib,
            "max_sm_clock_mhz": self.max_sm_clock_mhz,
            "bus_id": self.bus_id,
        }


@dataclass(frozen=True)
class DeviceInfo:
    gpus: tuple[Gpu, ...]
    gpu_status: str  # "ok", "absent" (no nvidia-smi) or "error: <why>" (could not measure)
    cuda_version: str
    cpu_model: str
    cpu_cores: int
    memory_total_mib: int | None
    os: str
    machine: str
    python: str
    frameworks: Mapping[str, str] = field(default_factory=dict)
    runner: Mapping[str, str] = field(default_factory=dict)
    gpu_source: str = ""  # "nvidia-smi" or "torch.cuda" when GPUs were found

    @property
    def runner_labels(self) -> list[str]:
        """GitLab runner tags (CI_RUNNER_TAGS: a JSON list or comma-separated)."""
        raw = self.runner.get("CI_RUNNER_TAGS", "").strip()
        if not raw:
            return []
        try:
            data = json.loads(raw)
            if isinstance(data, list):
                return [str(x) for x in data]
        except ValueError:
            pass
        return [t.strip() for t in raw.split(",") if t.strip()]

    @property
    def has_gpu(self) -> bool:
        return bool(self.gpus)

    def device_class(self) -> dict[str, Any]:
        if self.gpus:
            names = sorted(g.name for g in self.gpus)
            mems = sorted(g.memory_total_mib or 0 for g in self.gpus)
            return {"kind": "gpu", "gpus": names, "count": len(self.gpus),
                    "memory_mib": mems, "machine": self.machine}
        return {"kind": "cpu", "cpu": self.cpu_model, "cores": self.cpu_cores,
                "machine": self.machine}

    @property
    def fingerprint(self) -> str:
        raw = json.dumps(self.device_class(), sort_keys=True)
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]

    def label(self) -> str:
        if self.gpus:
            return f"{len(self.gpus)}x {self.gpus[0].name}"
        return f"CPU {self.cpu_model} ({self.cpu_cores} cores)"

    def to_json(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "label": self.label(),
            "class": self.device_class(),
            "gpus": [g.to_json() for g in self.gpus],
            "gpu_status": self.gpu_status,
            "cuda_version": self.cuda_version,
            "cpu_model": self.cpu_model,
            "cpu_cores": self.cpu_cores,
            "memory_total_mib": self.memory_total_mib,
            "os": self.os,
            "machine": self.machine,
            "python": self.python,
            "frameworks": dict(self.frameworks),
            "runner": dict(self.runner),
            "runner_labels": self.runner_labels,
            "gpu_source": self.gpu_source,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DeviceInfo:
        gpus = tuple(
            Gpu(
                name=str(g.get("name", "")),
                driver_version=str(g.get("driver_version", "")),
                memory_total_mib=_opt_int(g.get("memory_total_mib")),
                max_sm_clock_mhz=_opt_int(g.get("max_sm_clock_mhz")),
                bus_id=str(g.get("bus_id", "")),
            )
            for g in data.get("gpus") or []
            if isinstance(g, Mapping)
        )
        return cls(
            gpus=gpus,
            gpu_status=str(data.get("gpu_status", "absent")),
            cuda_version=str(data.get("cuda_version", "")),
            cpu_model=str(data.get("cpu_model", "")),
            cpu_cores=int(data.get("cpu_cores") or 0),
            memory_total_mib=_opt_int(data.get("memory_total_mib")),
            os=str(data.get("os", "")),
            machine=str(data.get("machine", "")),
            python=str(data.get("python", "")),
            frameworks={str(k): str(v) for k, v in (data.get("frameworks") or {}).items()},
            runner={str(k): str(v) for k, v in (data.get("runner") or {}).items()},
            gpu_source=str(data.get("gpu_source") or ""),
        )


def _opt_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _number(text: str) -> int | None:
    text = text.strip()
    if text in _NA:
        return None
    m = re.match(r"^(\d+(?:\.\d+)?)", text)
    return int(float(m.group(1))) if m else None


def parse_query_gpu_csv(text: str) -> tuple[Gpu, ...]:
    """Parse ``nvidia-smi --query-gpu=<QUERY_FIELDS> --format=csv,noheader`` output.
    Units ("81559 MiB", "1980 MHz") and "[N/A]" fields are accepted. Raises ValueError on a
    line with the wrong number of fields."""
    gpus: list[Gpu] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != len(QUERY_FIELDS):
            raise ValueError(f"expected {len(QUERY_FIELDS)} fields, got {len(parts)}: {line[:200]!r}")
        name, driver, mem, clock, bus = parts
        gpus.append(Gpu(
            name=name,
            driver_version="" if driver in _NA else driver,
            memory_total_mib=_number(mem),
            max_sm_clock_mhz=_number(clock),
            bus_id="" if bus in _NA else bus,
        ))
    return tuple(gpus)


def parse_cuda_version(text: str) -> str:
    m = re.search(r"CUDA Version:\s*([0-9][0-9.]*)", text)
    return m.group(1) if m else ""


def _run(argv: Sequence[str], timeout_s: float) -> str:
    proc = subprocess.run(
        list(argv), capture_output=True, timeout=timeout_s, check=False, stdin=subprocess.DEVNULL
    )
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip() or proc.stdout.decode("utf-8", "replace")
        raise RuntimeError(f"exit status {proc.returncode}: {err.strip()[:300]}")
    return proc.stdout[:1_000_000].decode("utf-8", "replace")


def probe_gpus(timeout_s: float = NVIDIA_SMI_TIMEOUT_S) -> tuple[tuple[Gpu, ...], str, str]:
    """(gpus, status, cuda_version). status: "ok", "absent" or "error: ..."."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return (), "absent", ""
    try:
        out = _run([exe, f"--query-gpu={','.join(QUERY_FIELDS)}", "--format=csv,noheader"], timeout_s)
        gpus = parse_query_gpu_csv(out)
    except subprocess.TimeoutExpired:
        return (), f"error: nvidia-smi did not answer within {timeout_s:g} s", ""
    except (OSError, RuntimeError, ValueError) as exc:
        return (), f"error: nvidia-smi failed: {exc}", ""
    cuda = ""
    try:
        cuda = parse_cuda_version(_run([exe], timeout_s))
    except (OSError, RuntimeError, subprocess.TimeoutExpired):
        cuda = ""
    if not gpus:
        return (), "error: nvidia-smi listed no GPU", cuda
    return gpus, "ok", cuda


def _read_small(path: str, limit: int = 1_000_000) -> str:
    try:
        with open(path, "rb") as fh:
            return fh.read(limit).decode("utf-8", "replace")
    except OSError:
        return ""


def cpu_model(cpuinfo: str | None = None) -> str:
    text = _read_small("/proc/cpuinfo") if cpuinfo is None else cpuinfo
    for key in ("model name", "Hardware", "Processor", "cpu model"):
        m = re.search(rf"^{key}\s*:\s*(.+)$", text, re.MULTILINE)
        if m and m.group(1).strip():
            return re.sub(r"\s+", " ", m.group(1).strip())
    return platform.processor() or platform.machine() or "unknown"


def memory_total_mib(meminfo: str | None = None) -> int | None:
    text = _read_small("/proc/meminfo") if meminfo is None else meminfo
    m = re.search(r"^MemTotal:\s*(\d+)\s*kB", text, re.MULTILINE)
    return int(m.group(1)) // 1024 if m else None


def framework_versions() -> dict[str, str]:
    out: dict[str, str] = {}
    for name in FRAMEWORKS:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


_TORCH_PROBE = (
    "import json, torch\n"
    "c = torch.cuda\n"
    "ok = c.is_available()\n"
    "gpus = [dict(name=c.get_device_name(i), mem=c.get_device_properties(i).total_memory)"
    " for i in range(c.device_count())] if ok else []\n"
    "print(json.dumps(dict(available=ok, cuda=torch.version.cuda or '', gpus=gpus)))\n"
)


def parse_torch_probe(text: str) -> tuple[tuple[Gpu, ...], str]:
    """The child's JSON line -> (gpus, CUDA version torch was built with)."""
    data = json.loads(text.strip().splitlines()[-1])
    gpus = tuple(
        Gpu(name=str(g["name"]), driver_version="",
            memory_total_mib=int(g["mem"]) // (1024 * 1024) if g.get("mem") else None,
            max_sm_clock_mhz=None)
        for g in data.get("gpus") or []
    )
    return gpus, str(data.get("cuda") or "")


@cache
def probe_torch_cuda(timeout_s: float = 60.0) -> tuple[tuple[Gpu, ...], str, str]:
    """(gpus, status, cuda) from torch.cuda in a child process; status "absent" when torch is
    not installed (it is never installed for this)."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return (), "absent", ""
    try:
        out = _run([sys.executable, "-c", _TORCH_PROBE], timeout_s)
        gpus, cuda = parse_torch_probe(out)
    except subprocess.TimeoutExpired:
        return (), f"error: torch.cuda did not answer within {timeout_s:g} s", ""
    except (OSError, RuntimeError, ValueError, KeyError, TypeError, IndexError) as exc:
        return (), f"error: torch.cuda probe failed: {exc}", ""
    return gpus, "ok" if gpus else "absent", cuda


def probe_device(environ: Mapping[str, str] | None = None, *, use_torch: bool = True) -> DeviceInfo:
    env = os.environ if environ is None else environ
    gpus, status, cuda = probe_gpus()
    source = "nvidia-smi" if gpus else ""
    if not gpus and use_torch and os.environ.get("MLGATE_BENCH_TORCH_PROBE", "1") != "0":
        tgpus, _status, tcuda = probe_torch_cuda()
        if tgpus:
            gpus, cuda, source = tgpus, cuda or tcuda, "torch.cuda"
            status = "ok" if status == "absent" else f"ok (torch.cuda; nvidia-smi {status})"
    return DeviceInfo(
        gpus=gpus,
        gpu_status=status,
        cuda_version=cuda,
        cpu_model=cpu_model(),
        cpu_cores=os.cpu_count() or 0,
        memory_total_mib=memory_total_mib(),
        os=f"{platform.system()} {platform.release()}",
        machine=platform.machine(),
        python=platform.python_version(),
        frameworks=framework_versions(),
        runner={k: env[k] for k in RUNNER_ENV if env.get(k)},
        gpu_source=source,
    )


@dataclass(frozen=True)
class DeviceMatch:
    comparable: bool
    reasons: tuple[str, ...]  # why not comparable
    notes: tuple[str, ...]  # differences that do not block the comparison


def match_devices(baseline: DeviceInfo, current: DeviceInfo) -> DeviceMatch:
    reasons: list[str] = []
    notes: list[str] = []
    if baseline.fingerprint != current.fingerprint:
        reasons.append(
            f"device class differs: baseline ran on {baseline.label()} [{baseline.fingerprint}], "
            f"this run on {current.label()} [{current.fingerprint}]"
        )
    base_drv = sorted({g.driver_version for g in baseline.gpus})
    cur_drv = sorted({g.driver_version for g in current.gpus})
    if baseline.gpus and current.gpus and base_drv != cur_drv:
        notes.append(f"GPU driver {', '.join(base_drv)} -> {', '.join(cur_drv)}")
    pairs = [("CUDA", baseline.cuda_version, current.cuda_version),
             ("Python", baseline.python, current.python)]
    for name in sorted(set(baseline.frameworks) | set(current.frameworks)):
        pairs.append((name, baseline.frameworks.get(name, "-"), current.frameworks.get(name, "-")))
    for name, a, b in pairs:
        if a != b:
            notes.append(f"{name} {a or '-'} -> {b or '-'}")
    return DeviceMatch(not reasons, tuple(reasons), tuple(notes))

