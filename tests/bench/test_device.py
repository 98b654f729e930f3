"""Device fingerprints from real nvidia-smi output shapes (fake nvidia-smi on PATH)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from mlgate.bench.device import (
    cpu_model,
    match_devices,
    memory_total_mib,
    parse_cuda_version,
    parse_query_gpu_csv,
    probe_device,
    probe_gpus,
)
from tests.bench.conftest import A100_CSV, SMI_HEADER, install_fake_smi


def test_parse_query_csv_real_shape() -> None:
    gpus = parse_query_gpu_csv(A100_CSV)
    assert len(gpus) == 2
    g = gpus[0]
    assert g.name == "NVIDIA A100-SXM4-80GB"
    assert g.driver_version == "535.129.03"
    assert g.memory_total_mib == 81920
    assert g.max_sm_clock_mhz == 1410
    assert g.bus_id == "00000000:07:00.0"


def test_parse_query_csv_not_supported_fields() -> None:
    gpus = parse_query_gpu_csv("Tesla T4, 470.82.01, 15360 MiB, [N/A], 00000000:00:1E.0\n")
    assert gpus[0].max_sm_clock_mhz is None
    assert gpus[0].memory_total_mib == 15360


def test_parse_query_csv_rejects_wrong_field_count() -> None:
    with pytest.raises(ValueError, match="expected 5 fields"):
        parse_query_gpu_csv("Tesla T4, 470.82.01\n")


def test_parse_cuda_version_from_header() -> None:
    assert parse_cuda_version(SMI_HEADER) == "12.2"
    assert parse_cuda_version("no header here") == ""


def test_probe_with_fake_nvidia_smi(fake_gpu: Path) -> None:
    info = probe_device({"RUNNER_NAME": "gpu-runner-3", "CI_RUNNER_TAGS": "gpu, a100"})
    assert info.gpu_status == "ok"
    assert info.has_gpu and len(info.gpus) == 2
    assert info.cuda_version == "12.2"
    assert info.label() == "2x NVIDIA A100-SXM4-80GB"
    assert info.runner == {"RUNNER_NAME": "gpu-runner-3", "CI_RUNNER_TAGS": "gpu, a100"}
    assert info.device_class()["kind"] == "gpu"
    assert len(info.fingerprint) == 16


def test_probe_without_nvidia_smi_is_cpu(no_gpu: None) -> None:
    info = probe_device({})
    assert info.gpu_status == "absent"
    assert not info.has_gpu
    assert info.device_class()["kind"] == "cpu"
    assert info.cpu_cores == (os.cpu_count() or 0)


def test_failing_nvidia_smi_is_an_explicit_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bad"
    install_fake_smi(bin_dir, A100_CSV, rc=9)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    gpus, status, _ = probe_gpus()
    assert gpus == ()
    assert status.startswith("error:") and "could not communicate" in status


def test_hanging_nvidia_smi_times_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "slow"
    install_fake_smi(bin_dir, A100_CSV, sleep_s=5)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    gpus, status, _ = probe_gpus(timeout_s=0.5)
    assert gpus == () and "did not answer" in status


def test_garbled_nvidia_smi_output_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "garbled"
    install_fake_smi(bin_dir, "garbage\n")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    _, status, _ = probe_gpus()
    assert status.startswith("error:")


def test_fingerprint_ignores_driver_but_not_gpu_model(fake_gpu: Path) -> None:
    a = probe_device({})
    newer_driver = replace(a, gpus=tuple(replace(g, driver_version="550.54.15") for g in a.gpus),
                           cuda_version="12.4")
    other_gpu = replace(a, gpus=tuple(replace(g, name="NVIDIA H100 80GB HBM3") for g in a.gpus))
    assert newer_driver.fingerprint == a.fingerprint
    m = match_devices(a, newer_driver)
    assert m.comparable
    assert any("driver" in n for n in m.notes) and any("CUDA 12.2 -> 12.4" in n for n in m.notes)
    m2 = match_devices(a, other_gpu)
    assert not m2.comparable and "H100" in m2.reasons[0]
    one_gpu = replace(a, gpus=a.gpus[:1])
    assert not match_devices(a, one_gpu).comparable


def test_json_round_trip(fake_gpu: Path) -> None:
    from mlgate.bench.device import DeviceInfo

    info = probe_device({})
    again = DeviceInfo.from_json(info.to_json())
    assert again.fingerprint == info.fingerprint
    assert again.to_json() == info.to_json()


def test_cpu_model_and_memory_parsers() -> None:
    assert cpu_model("processor\t: 0\nmodel name\t: AMD EPYC   7763 64-Core Processor\n") == (
        "AMD EPYC 7763 64-Core Processor"
    )
    assert cpu_model("Hardware\t: BCM2835\n") == "BCM2835"
    assert memory_total_mib("MemTotal:       16384000 kB\n") == 16000
    assert memory_total_mib("") is None


def test_torch_probe_output_is_parsed() -> None:
    from mlgate.bench.device import parse_torch_probe

    line = ('{"available": true, "cuda": "12.4", "gpus": [{"name": "NVIDIA H100 80GB HBM3", '
            '"mem": 85045870592}]}')
    gpus, cuda = parse_torch_probe("some warning\n" + line + "\n")
    assert cuda == "12.4" and gpus[0].name == "NVIDIA H100 80GB HBM3"
    assert gpus[0].memory_total_mib == 81106


def test_torch_probe_on_cpu_torch_finds_no_gpu(no_gpu: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real child-process probe with the CPU build of torch the test extra installs."""
    from mlgate.bench.device import probe_torch_cuda

    pytest.importorskip("torch")
    probe_torch_cuda.cache_clear()
    monkeypatch.setenv("MLGATE_BENCH_TORCH_PROBE", "1")
    info = probe_device({})
    assert not info.has_gpu and info.gpu_source == ""
    gpus, status, _ = probe_torch_cuda()
    assert gpus == () and status == "absent"
    assert "torch" in info.frameworks


def test_nvidia_smi_comes_first(fake_gpu: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLGATE_BENCH_TORCH_PROBE", "1")
    info = probe_device({})
    assert info.gpu_source == "nvidia-smi" and info.gpu_status == "ok"


def test_runner_name_and_labels() -> None:
    info = probe_device({"RUNNER_NAME": "gpu-7", "RUNNER_OS": "Linux", "RUNNER_ARCH": "X64",
                         "CI_RUNNER_DESCRIPTION": "a100 box", "CI_RUNNER_TAGS": '["gpu", "a100"]'})
    assert info.runner["RUNNER_NAME"] == "gpu-7" and info.runner["RUNNER_ARCH"] == "X64"
    assert info.runner_labels == ["gpu", "a100"]
    assert info.to_json()["runner_labels"] == ["gpu", "a100"]
    comma = probe_device({"CI_RUNNER_TAGS": "gpu, cuda12"})
    assert comma.runner_labels == ["gpu", "cuda12"]
