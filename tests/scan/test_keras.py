"""Keras checks: HDF5 files built with h5py (no TensorFlow) and Keras 3 config.json documents."""

from __future__ import annotations

import base64
import io
import json
import marshal
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from mlgate.core.findings import Finding
from mlgate.core.policy.scan import ScanPolicy
from mlgate.scan.base import ScanContext
from mlgate.scan.keras import KerasH5Handler, scan_keras_config


def ctx(name: str = "model.h5") -> ScanContext:
    return ScanContext(path=name, name=name, policy=ScanPolicy())


def rules(f: list[Finding]) -> list[str]:
    return sorted(x.rule_id for x in f)


def lambda_code() -> str:
    # bytecode of a harmless function that only names os.system; it is never run
    def f(x: Any) -> Any:
        import os
        os.system("touch /tmp/mlgate-marker")
        return x
    return base64.b64encode(marshal.dumps(f.__code__)).decode()


def keras2_config(extra_layer: dict[str, Any] | None = None) -> dict[str, Any]:
    layers: list[dict[str, Any]] = [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 4], "name": "in"}},
        {"class_name": "Dense", "config": {"units": 2, "activation": "relu", "name": "d"}},
    ]
    if extra_layer:
        layers.append(extra_layer)
    return {"class_name": "Sequential", "config": {"name": "seq", "layers": layers},
            "keras_version": "2.15.0", "backend": "tensorflow"}


def h5(tmp: Path, config: dict[str, Any] | None, **extra: Any) -> bytes:
    path = tmp / "model.h5"
    with h5py.File(path, "w") as f:
        if config is not None:
            f.attrs["model_config"] = json.dumps(config).encode()
        g = f.create_group("model_weights/dense")
        g.create_dataset("kernel:0", data=np.ones((4, 2), dtype=np.float32))
        if extra.get("external_link"):
            f["leak"] = h5py.ExternalLink("/etc/passwd", "/x")
    return path.read_bytes()


def scan_h5(data: bytes) -> list[Finding]:
    return KerasH5Handler().scan(io.BytesIO(data), len(data), ctx())


def test_benign_h5_passes(tmp_path: Path) -> None:
    assert scan_h5(h5(tmp_path, keras2_config())) == []


def test_weights_only_h5_passes(tmp_path: Path) -> None:
    assert scan_h5(h5(tmp_path, None)) == []


def test_h5_lambda_layer_with_marshal_code(tmp_path: Path) -> None:
    layer = {"class_name": "Lambda", "config": {
        "name": "evil", "function": [lambda_code(), None, None], "function_type": "lambda",
        "module": "__main__", "output_shape": None}}
    f = scan_h5(h5(tmp_path, keras2_config(layer)))
    assert "MLG-SCAN-110" in rules(f)
    lam = next(x for x in f if x.rule_id == "MLG-SCAN-110")
    assert lam.severity.value == "critical" and "evil" in lam.detail and "system" in lam.detail


def test_h5_lambda_named_function_outside_keras(tmp_path: Path) -> None:
    layer = {"class_name": "Lambda", "config": {
        "name": "ref", "function": "system", "function_type": "function", "module": "os"}}
    f = scan_h5(h5(tmp_path, keras2_config(layer)))
    assert rules(f) == ["MLG-SCAN-111", "MLG-SCAN-113"]


def test_h5_external_link(tmp_path: Path) -> None:
    f = scan_h5(h5(tmp_path, keras2_config(), external_link=True))
    assert rules(f) == ["MLG-SCAN-115"] and "/etc/passwd" in f[0].detail


def test_h5_not_hdf5_is_malformed() -> None:
    data = b"\x89HDF\r\n\x1a\n" + b"\x00" * 100
    assert rules(scan_h5(data)) == ["MLG-SCAN-114"]


def test_h5_model_config_not_json(tmp_path: Path) -> None:
    path = tmp_path / "m.h5"
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = b"{broken"
    assert rules(scan_h5(path.read_bytes())) == ["MLG-SCAN-114"]


def keras3(layers: list[dict[str, Any]]) -> dict[str, Any]:
    return {"module": "keras", "class_name": "Sequential", "registered_name": None,
            "config": {"name": "seq", "layers": layers}}


DENSE3 = {"module": "keras.layers", "class_name": "Dense", "registered_name": None,
          "config": {"units": 2, "activation": "relu",
                     "kernel_initializer": {"module": "keras.initializers",
                                            "class_name": "GlorotUniform", "config": {},
                                            "registered_name": None}}}


def test_keras3_benign_config_passes() -> None:
    assert scan_keras_config(keras3([DENSE3]), ctx("config.json")) == []


def test_keras3_lambda_in_config_json() -> None:
    lam = {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
           "config": {"name": "l", "function": {"class_name": "__lambda__", "config": {
               "code": lambda_code(), "defaults": None, "closure": None}}}}
    f = scan_keras_config(json.dumps(keras3([DENSE3, lam])), ctx("config.json"))
    assert rules(f) == ["MLG-SCAN-110"] and "system" in f[0].detail


def test_keras3_module_outside_keras() -> None:
    layer = {"module": "subprocess", "class_name": "Popen", "registered_name": None,
             "config": {"args": ["touch", "/tmp/m"]}}
    f = scan_keras_config(keras3([layer]), ctx("config.json"))
    assert rules(f) == ["MLG-SCAN-111"] and "subprocess.Popen" in f[0].detail


def test_keras3_enable_unsafe_deserialization_bypass() -> None:
    layer = {"module": "keras.config", "class_name": "function", "registered_name": None,
             "config": "enable_unsafe_deserialization"}
    f = scan_keras_config(keras3([DENSE3, layer]), ctx("config.json"))
    assert rules(f) == ["MLG-SCAN-113"]


def test_keras3_get_file_gadget() -> None:
    layer = {"module": "keras.utils", "class_name": "function", "registered_name": "get_file",
             "config": "get_file"}
    assert rules(scan_keras_config(keras3([layer]), ctx())) == ["MLG-SCAN-113"]


def test_keras3_registered_custom_object() -> None:
    layer = dict(DENSE3, class_name="MyDense", registered_name="my_pkg>MyDense")
    layer["module"] = "keras.layers"
    assert rules(scan_keras_config(keras3([layer]), ctx())) == ["MLG-SCAN-112"]


def test_keras_hub_objects_pass() -> None:
    layer = {"module": "keras_hub.src.models.gemma.gemma_backbone", "class_name": "GemmaBackbone",
             "registered_name": "keras_hub>GemmaBackbone", "config": {}}
    assert scan_keras_config(keras3([layer]), ctx()) == []
