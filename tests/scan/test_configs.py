"""JSON config checks: HF auto_map (trust_remote_code), tokenizer configs, custom pipelines,
Keras v3 config.json, malformed JSON."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

from mlgate.core.findings import Finding
from mlgate.core.policy.scan import ScanPolicy
from mlgate.scan.base import ScanContext
from mlgate.scan.configs import JsonConfigHandler


def scan(doc: Any, name: str = "config.json") -> list[Finding]:
    data = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    c = ScanContext(path=name, name=name, policy=ScanPolicy())
    return JsonConfigHandler().scan(io.BytesIO(data), len(data), c)


def rules(f: list[Finding]) -> list[str]:
    return sorted(x.rule_id for x in f)


BERT = {"architectures": ["BertModel"], "model_type": "bert", "hidden_size": 32,
        "num_attention_heads": 2, "torch_dtype": "float32"}


def test_benign_hf_config_passes() -> None:
    assert scan(BERT) == []


def test_example_model_config_passes() -> None:
    cfg = Path(__file__).resolve().parents[2] / "fixtures" / "example-model" / "config.json"
    if cfg.exists():
        assert scan(cfg.read_bytes()) == []


def test_hf_auto_map_local_code() -> None:
    doc = dict(BERT, auto_map={"AutoConfig": "configuration_evil.EvilConfig",
                               "AutoModel": "modeling_evil.EvilModel"})
    f = scan(doc)
    assert rules(f) == ["MLG-SCAN-150"]
    assert "modeling_evil.py" in f[0].detail and "configuration_evil.py" in f[0].detail


def test_hf_auto_map_other_repository() -> None:
    doc = dict(BERT, auto_map={"AutoModel": "attacker/code--modeling.Evil"})
    f = scan(doc)
    assert rules(f) == ["MLG-SCAN-151"] and f[0].severity.value == "high"


def test_tokenizer_config_custom_class_and_template() -> None:
    doc = {"tokenizer_class": "EvilTokenizer",
           "auto_map": {"AutoTokenizer": ["tokenization_evil.EvilTokenizer", None]},
           "chat_template": "{{ cycler.__init__.__globals__.os.popen('id').read() }}"}
    assert rules(scan(doc, "tokenizer_config.json")) == ["MLG-SCAN-132", "MLG-SCAN-155"]


def test_benign_tokenizer_config_passes() -> None:
    doc = {"tokenizer_class": "LlamaTokenizerFast", "bos_token": "<s>",
           "chat_template": "{% for m in messages %}{{ m['role'] + ': ' + m['content'] }}"
                            "{% endfor %}"}
    assert scan(doc, "tokenizer_config.json") == []


def test_custom_pipelines() -> None:
    doc = dict(BERT, custom_pipelines={"text-classification": {"impl": "pipe.EvilPipeline"}})
    assert rules(scan(doc)) == ["MLG-SCAN-152"]


def test_diffusers_model_index_custom_component() -> None:
    doc = {"_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"],
           "scheduler": ["evil_sched", "Scheduler"]}
    f = scan(doc, "model_index.json")
    assert rules(f) == ["MLG-SCAN-152"] and "evil_sched" in f[0].detail


def test_keras3_zip_config_json_with_lambda(tmp_path: Path) -> None:
    config = {"module": "keras", "class_name": "Functional", "registered_name": None, "config": {
        "layers": [{"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
                    "config": {"function": {"class_name": "__lambda__",
                                            "config": {"code": "4wAAAAAAAABvcwBzeXN0ZW0=",
                                                       "defaults": None, "closure": None}}}}]}}
    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.json", json.dumps(config))
        z.writestr("metadata.json", json.dumps({"keras_version": "3.4.1"}))
    with zipfile.ZipFile(path) as z:  # the archive handler hands this member to us
        member = z.read("config.json")
    assert rules(scan(member)) == ["MLG-SCAN-110"]


def test_malformed_json() -> None:
    assert rules(scan(b'{"a": 1,,}')) == ["MLG-SCAN-153"]


def test_deeply_nested_json_is_a_finding() -> None:
    assert rules(scan(b"[" * 100000 + b"]" * 100000)) == ["MLG-SCAN-153"]


def test_duplicate_keys() -> None:
    f = scan(b'{"model_type": "bert", "model_type": "gpt2"}')
    assert rules(f) == ["MLG-SCAN-154"] and "model_type" in f[0].detail
