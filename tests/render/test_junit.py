from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from mlgate.core.findings import FileRecord, Severity
from mlgate.render import render
from mlgate.render.junit import render_many
from tests.decide.helpers import finding, report


def _parse(text: str) -> ET.Element:
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(text.encode("utf-8"))


def test_junit_shape_testcase_per_rule_and_file() -> None:
    rep = report(
        "scan",
        finding("MLG-SCAN-051", Severity.CRITICAL, "a.pkl"),
        finding("MLG-SCAN-051", Severity.CRITICAL, "a.pkl"),
        finding("MLG-SCAN-051", Severity.HIGH, "b.pkl"),
        finding("MLG-SCAN-101", Severity.LOW, "c.onnx"),
        files=(FileRecord("clean.safetensors", 1, "0" * 64),),
    )
    root = _parse(render(rep, "junit"))
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    names = [c.get("name") for c in cases]
    assert names == ["MLG-SCAN-051 a.pkl", "MLG-SCAN-051 b.pkl", "MLG-SCAN-101 c.onnx", "clean.safetensors"]
    failing = [c.get("name") for c in cases if c.find("failure") is not None]
    assert failing == ["MLG-SCAN-051 a.pkl", "MLG-SCAN-051 b.pkl"]
    assert suite.get("tests") == "4" and suite.get("failures") == "2"
    assert root.get("failures") == "2"
    for c in cases:
        assert c.get("classname", "").startswith("mlgate.scan")


def test_junit_escapes_hostile_names_and_control_chars() -> None:
    rep = report("scan", finding("MLG-SCAN-051", Severity.HIGH, 'x"<&>\x00\x1b.pkl'))
    root = _parse(render(rep, "junit"))
    case = root.find("testsuite/testcase")
    assert case is not None and case.get("file") == 'x"<&>.pkl'


def test_incomplete_report_is_a_failure_not_a_pass() -> None:
    root = _parse(render(report("scan", complete=False), "junit"))
    fails = root.findall("testsuite/testcase/failure")
    assert [f.get("type") for f in fails] == ["incomplete"]


def test_empty_report_still_has_a_testcase_and_many_suites() -> None:
    root = _parse(render_many([report("scan"), report("bom")]))
    assert [s.get("tests") for s in root.findall("testsuite")] == ["1", "1"]
    assert root.get("tests") == "2" and root.get("failures") == "0"


def test_write_text_keeps_a_non_utf8_path_readable(tmp_path: Path) -> None:
    # regression: a lone surrogate (non-UTF-8 path) in the text crashed `--output FILE`
    from mlgate.render import write_text

    out = tmp_path / "r.xml"
    write_text("<x>bad\udcff</x>\n", out)
    assert out.read_text(encoding="utf-8") == "<x>bad\\udcff</x>\n"
