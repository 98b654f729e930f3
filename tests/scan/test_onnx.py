"""ONNX checks on models built with onnx.helper: external data path traversal, custom domains,
Python operators, malformed protobufs. Nothing is loaded or run."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import onnx
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from mlgate.core.findings import Finding
from mlgate.core.policy.scan import ScanPolicy
from mlgate.scan.base import ScanContext
from mlgate.scan.onnx import OnnxHandler, escapes, walk_model


def model(nodes: list[onnx.NodeProto], inits: list[TensorProto] | None = None,
          opsets: list[tuple[str, int]] | None = None) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
        initializer=inits or [])
    imports = [helper.make_opsetid(d, v) for d, v in (opsets or [("", 17)])]
    return helper.make_model(graph, opset_imports=imports)


def external_tensor(location: str) -> TensorProto:
    t = numpy_helper.from_array(np.ones(2, dtype=np.float32), "w")
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", "0"), ("length", "8")):
        e = t.external_data.add()
        e.key, e.value = k, v
    return t


def scan(data: bytes, tmp: Path | None = None, name: str = "model.onnx") -> list[Finding]:
    c = ScanContext(path=name, name=name, policy=ScanPolicy(), root=tmp,
                    disk_path=(tmp / name) if tmp else None)
    return OnnxHandler().scan(io.BytesIO(data), len(data), c)


def rules(f: list[Finding]) -> list[str]:
    return sorted(x.rule_id for x in f)


def test_benign_model_passes(tmp_path: Path) -> None:
    w = numpy_helper.from_array(np.ones(2, dtype=np.float32), "w")
    m = model([helper.make_node("Add", ["x", "w"], ["y"])], [w])
    onnx.checker.check_model(m)
    data = m.SerializeToString()
    (tmp_path / "model.onnx").write_bytes(data)
    assert scan(data, tmp_path) == []


def test_benign_external_data_next_to_model_passes(tmp_path: Path) -> None:
    (tmp_path / "weights.bin").write_bytes(b"\x00" * 8)
    m = model([helper.make_node("Add", ["x", "w"], ["y"])], [external_tensor("weights.bin")])
    assert scan(m.SerializeToString(), tmp_path) == []


def test_external_data_path_traversal() -> None:
    m = model([helper.make_node("Add", ["x", "w"], ["y"])], [external_tensor("../../etc/passwd")])
    f = scan(m.SerializeToString())
    assert rules(f) == ["MLG-SCAN-120"] and "../../etc/passwd" in f[0].detail


def test_external_data_absolute_path() -> None:
    m = model([helper.make_node("Add", ["x", "w"], ["y"])], [external_tensor("/etc/shadow")])
    assert rules(scan(m.SerializeToString())) == ["MLG-SCAN-120"]


def test_external_data_symlink_out_of_folder(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("x")
    root = tmp_path / "model"
    root.mkdir()
    (root / "w.bin").symlink_to(outside / "secret")
    m = model([helper.make_node("Add", ["x", "w"], ["y"])], [external_tensor("w.bin")])
    f = scan(m.SerializeToString(), root)
    assert rules(f) == ["MLG-SCAN-120"] and "symlink" in f[0].detail


def test_external_data_missing(tmp_path: Path) -> None:
    m = model([helper.make_node("Add", ["x", "w"], ["y"])], [external_tensor("gone.bin")])
    assert rules(scan(m.SerializeToString(), tmp_path)) == ["MLG-SCAN-124"]


def test_external_data_in_subgraph_is_found() -> None:
    then = helper.make_graph([helper.make_node("Identity", ["w"], ["y"])], "then", [],
                             [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
                             initializer=[external_tensor("..\\..\\windows\\win.ini")])
    node = helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=then)
    f = scan(model([node]).SerializeToString())
    assert rules(f) == ["MLG-SCAN-120"]


def test_custom_operator_domain() -> None:
    node = helper.make_node("EvilOp", ["x"], ["y"], domain="com.attacker")
    m = model([node], opsets=[("", 17), ("com.attacker", 1)])
    f = scan(m.SerializeToString())
    assert rules(f) == ["MLG-SCAN-121"] and "com.attacker:EvilOp" in f[0].detail


def test_local_function_domain_is_not_custom() -> None:
    fn = helper.make_function("local.fn", "Double", ["a"], ["b"],
                              [helper.make_node("Add", ["a", "a"], ["b"])],
                              [helper.make_opsetid("", 17)])
    m = model([helper.make_node("Double", ["x"], ["y"], domain="local.fn")],
              opsets=[("", 17), ("local.fn", 1)])
    m.functions.append(fn)
    assert scan(m.SerializeToString()) == []


def test_python_op() -> None:
    node = helper.make_node("PythonOp", ["x"], ["y"], domain="com.microsoft")
    m = model([node], opsets=[("", 17), ("com.microsoft", 1)])
    assert rules(scan(m.SerializeToString())) == ["MLG-SCAN-122"]


def test_malformed_protobuf() -> None:
    data = model([helper.make_node("Add", ["x", "x"], ["y"])]).SerializeToString()
    assert rules(scan(data[:-5])) == ["MLG-SCAN-123"]


def test_walk_agrees_with_onnx() -> None:
    node = helper.make_node("EvilOp", ["x"], ["y"], domain="com.attacker")
    m = model([node, helper.make_node("Relu", ["y"], ["z"])], [external_tensor("a/b.bin")])
    data = m.SerializeToString()
    facts = walk_model(io.BytesIO(data), len(data))
    assert facts.ops == {(n.domain, n.op_type) for n in m.graph.node}
    assert facts.external == [("w", "a/b.bin")]


def test_escapes() -> None:
    assert escapes("../x") and escapes("/x") and escapes("C:/x") and escapes("a/../../x")
    assert not escapes("a/../x") and not escapes("weights.bin") and not escapes("./d/w.bin")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_random_bytes_never_raise(data: bytes) -> None:
    assert isinstance(scan(data), list)
