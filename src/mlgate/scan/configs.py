"""JSON configs shipped with a model: code that runs when the model is loaded.

- Hugging Face ``config.json`` / ``*_config.json``: ``auto_map`` entries name Python classes
  that transformers imports under ``trust_remote_code=True`` (``module.Class`` = a file in the
  model folder; ``owner/repo--module.Class`` = code fetched from another repository);
  ``custom_pipelines`` / ``custom_pipeline`` declare pipeline code.
- ``tokenizer_config.json``: ``auto_map`` for AutoTokenizer (custom tokenizer classes) and
  ``chat_template`` (Jinja2; checked for template injection like GGUF templates).
- diffusers ``model_index.json``: components whose library is not a known one.
- Keras configs (``config.json`` of a ``.keras`` zip, or any JSON shaped like one): the Keras
  checks of :mod:`mlgate.scan.keras`.

The text is parsed strictly (size cap, duplicate keys noted, NaN/Infinity accepted as
Python's json does); a file that does not parse is a finding.
"""

from __future__ import annotations

import json
from typing import Any, BinaryIO

from mlgate.core.findings import Finding
from mlgate.scan import rules_formats as R
from mlgate.scan.base import ScanContext
from mlgate.scan.gguf import template_findings
from mlgate.scan.keras import looks_like_keras, scan_keras_config

MAX_CONFIG = 32 * 1024 * 1024
KNOWN_DIFFUSERS_LIBRARIES = frozenset({
    "diffusers", "transformers", "onnxruntime.training", "peft", "sentence_transformers",
})


class JsonConfigHandler:
    name = "json-config"

    def scan(self, stream: BinaryIO, size: int, ctx: ScanContext) -> list[Finding]:
        if size > MAX_CONFIG:
            return [R.CFG_MALFORMED.finding(
                f"JSON file of {size} bytes is larger than the {MAX_CONFIG}-byte config limit; "
                "not checked", ctx.location())]
        raw = stream.read(MAX_CONFIG + 1)
        dups: list[str] = []

        def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for k, v in items:
                if k in out and len(dups) < 20:
                    dups.append(k)
                out[k] = v
            return out

        try:
            text = raw.decode("utf-8-sig")
            if ctx.name.lower().endswith(".jsonl"):
                docs = [json.loads(line, object_pairs_hook=pairs)
                        for line in text.splitlines() if line.strip()]
            else:
                docs = [json.loads(text, object_pairs_hook=pairs)]
        except (ValueError, RecursionError) as exc:
            return [R.CFG_MALFORMED.finding(f"not valid JSON: {str(exc)[:300]}", ctx.location())]
        findings: list[Finding] = []
        if dups:
            findings.append(R.CFG_DUPLICATE.finding(
                "repeated keys: " + ", ".join(repr(d[:80]) for d in dups), ctx.location()))
        for doc in docs:
            ctx.check_deadline()
            findings.extend(scan_config(doc, ctx))
        return findings


def scan_config(doc: Any, ctx: ScanContext) -> list[Finding]:
    """Findings for one parsed JSON document."""
    findings: list[Finding] = []
    if not isinstance(doc, dict):
        return findings
    name = ctx.name.lower()
    if looks_like_keras(doc):
        findings.extend(scan_keras_config(doc, ctx, f"Keras config {ctx.name}"))
    findings.extend(_auto_map(doc, ctx, tokenizer="tokenizer" in name))
    findings.extend(_pipelines(doc, ctx))
    if name == "model_index.json":
        findings.extend(_model_index(doc, ctx))
    template = doc.get("chat_template")
    templates: list[tuple[str, str]] = []
    if isinstance(template, str):
        templates.append(("chat_template", template))
    elif isinstance(template, list):  # [{"name": ..., "template": ...}]
        templates.extend((f"chat_template[{t.get('name', i)}]", t["template"])
                         for i, t in enumerate(template)
                         if isinstance(t, dict) and isinstance(t.get("template"), str))
    for label, text in templates:
        findings.extend(template_findings(text, ctx.location(), f"{ctx.name} {label}"))
    return findings


def _class_refs(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _auto_map(doc: dict[str, Any], ctx: ScanContext, *, tokenizer: bool) -> list[Finding]:
    auto_map = doc.get("auto_map")
    if not isinstance(auto_map, dict) or not auto_map:
        return []
    local: list[str] = []
    remote: list[str] = []
    for auto_class, value in auto_map.items():
        for ref in _class_refs(value):
            entry = f"{auto_class} -> {ref[:200]}"
            (remote if "--" in ref else local).append(entry)
    findings: list[Finding] = []
    if local:
        files = sorted({r.split(" -> ", 1)[1].rsplit(".", 1)[0] + ".py" for r in local})
        rule = R.CFG_TOKENIZER_CLASS if tokenizer else R.CFG_AUTO_MAP
        findings.append(rule.finding(
            f"auto_map loads code from the model folder: {'; '.join(local[:10])}; review "
            f"{', '.join(files[:10])}", ctx.location(), properties={"files": files[:50]}))
    if remote:
        findings.append(R.CFG_REMOTE_REPO.finding(
            f"auto_map loads code from other repositories: {'; '.join(remote[:10])}",
            ctx.location()))
    return findings


def _pipelines(doc: dict[str, Any], ctx: ScanContext) -> list[Finding]:
    out: list[str] = []
    custom = doc.get("custom_pipelines")
    if isinstance(custom, dict):
        for task, spec in custom.items():
            impl = spec.get("impl") if isinstance(spec, dict) else None
            out.append(f"{task} -> {impl or '?'}")
    single = doc.get("custom_pipeline")
    if isinstance(single, str):
        out.append(f"custom_pipeline -> {single[:200]}")
    if not out:
        return []
    return [R.CFG_CUSTOM_PIPELINE.finding("custom pipelines: " + "; ".join(out[:10]),
                                          ctx.location())]


def _model_index(doc: dict[str, Any], ctx: ScanContext) -> list[Finding]:
    odd: list[str] = []
    for key, value in doc.items():
        if key.startswith("_") or not isinstance(value, list) or len(value) != 2:
            continue
        library = value[0]
        if isinstance(library, str) and library not in KNOWN_DIFFUSERS_LIBRARIES:
            odd.append(f"{key} -> {library}.{value[1]}")
    if not odd:
        return []
    return [R.CFG_CUSTOM_PIPELINE.finding(
        "model_index.json components from code outside diffusers/transformers: "
        + "; ".join(odd[:10]), ctx.location())]
