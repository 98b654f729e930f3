"""Fixtures for the bench tests: a fake `nvidia-smi` first on PATH, real CSV shapes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

A100_CSV = (
    "NVIDIA A100-SXM4-80GB, 535.129.03, 81920 MiB, 1410 MHz, 00000000:07:00.0\n"
    "NVIDIA A100-SXM4-80GB, 535.129.03, 81920 MiB, 1410 MHz, 00000000:0F:00.0\n"
)
SMI_HEADER = """Tue Dec  2 14:00:00 2025
+---------------------------------------------------------------------------------------+
| NVIDIA-SMI 535.129.03             Driver Version: 535.129.03   CUDA Version: 12.2     |
|-----------------------------------------+----------------------+----------------------+
"""


def install_fake_smi(bin_dir: Path, csv: str, header: str = SMI_HEADER, rc: int = 0,
                     sleep_s: float = 0) -> Path:
    """A real executable `nvidia-smi` answering like the real one for the two calls we make."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    (bin_dir / "query.csv").write_text(csv)
    (bin_dir / "header.txt").write_text(header)
    script = bin_dir / "nvidia-smi"
    script.write_text(
        "#!/bin/sh\n"
        f"sleep {sleep_s}\n"
        f'if [ {rc} -ne 0 ]; then echo "NVIDIA-SMI has failed because it could not communicate '
        f'with the NVIDIA driver." >&2; exit {rc}; fi\n'
        'case "$1" in\n'
        f'  --query-gpu=*) cat "{bin_dir}/query.csv" ;;\n'
        f'  *) cat "{bin_dir}/header.txt" ;;\n'
        "esac\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return script


@pytest.fixture
def fake_gpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "fakebin"
    install_fake_smi(bin_dir, A100_CSV)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    return bin_dir


@pytest.fixture
def no_gpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PATH without any nvidia-smi (keeps python reachable)."""
    import shutil
    import sys

    bin_dir = tmp_path / "nogpubin"
    bin_dir.mkdir()
    py_dir = str(Path(sys.executable).parent)
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep)
            if d and not (Path(d) / "nvidia-smi").exists()]
    monkeypatch.setenv("PATH", os.pathsep.join([str(bin_dir), py_dir, *dirs]))
    assert shutil.which("nvidia-smi") is None


CI_VARS = (
    "CI", "GITHUB_ACTIONS", "GITHUB_EVENT_NAME", "GITHUB_EVENT_PATH", "GITHUB_REF", "GITHUB_SHA",
    "GITLAB_CI", "CI_MERGE_REQUEST_IID", "CI_PIPELINE_SOURCE", "CI_COMMIT_BRANCH",
    "CI_DEFAULT_BRANCH", "CI_COMMIT_SHA", "CI_COMMIT_REF_NAME",
)


@pytest.fixture(autouse=True)
def _local_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests behave like a developer machine unless they set CI variables themselves (the suite
    itself may run in CI), and skip the slow torch.cuda child probe unless a test asks for it."""
    for var in CI_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MLGATE_BENCH_TORCH_PROBE", "0")
