"""Keras: HDF5 (``.h5``) model configs and the ``config.json`` of Keras 3 ``.keras`` zips.

Nothing is deserialised: the HDF5 file is opened read-only with h5py (no Keras, no
TensorFlow), its ``model_config`` / ``training_config`` attributes are read as JSON text, and
:func:`scan_keras_config` walks the JSON. The ``.keras`` zip is opened by the archive handler;
its ``config.json`` reaches :func:`scan_keras_config` through the JSON config handler.

Checks:
- Lambda layers (Keras 2: ``function`` = [base64 marshal, defaults, closure]; Keras 3:
  ``{"class_name": "__lambda__", "config": {"code": ...}}``) carry Python bytecode: critical.
  Printable names found in the bytecode are quoted in the detail (never unmarshalled).
- ``"module"`` values outside the Keras namespace (the loader imports them): high.
- functions that disable safe mode or fetch/touch files (enable_unsafe_deserialization,
  get_file, ...): critical.
- registered custom objects (``registered_name`` "package>Name"): medium.
- HDF5 external links, external dataset storage and virtual datasets: medium.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from typing import Any, BinaryIO

from mlgate.core.findings import Finding
from mlgate.scan import rules_formats as R
from mlgate.scan.base import ScanContext

KERAS_MODULES = ("keras", "tf_keras", "keras_hub", "keras_nlp", "keras_cv", "tensorflow.keras")
"""Module namespaces a Keras config may name without a finding."""
DANGEROUS_FUNCTIONS = frozenset({
    "enable_unsafe_deserialization", "get_file", "load_model", "load_weights", "save_model",
    "save_weights", "set_session", "disable_interactive_logging", "register_keras_serializable",
    "deserialize_keras_object", "get_registered_object", "exec", "eval", "system", "popen",
})
MAX_NODES = 200_000
MAX_DEPTH = 200
MAX_CONFIG = 64 * 1024 * 1024
_PRINTABLE = re.compile(rb"[A-Za-z_][A-Za-z0-9_.]{2,}")


def in_keras_namespace(module: str) -> bool:
    return any(module == ns or module.startswith(ns + ".") for ns in KERAS_MODULES)


def bytecode_names(code_b64: str) -> list[str]:
    """Identifiers visible in a base64 marshal blob (heuristic, nothing is unmarshalled)."""
    try:
        raw = base64.b64decode(code_b64.encode("ascii", "replace")[:1_000_000], validate=False)
    except (binascii.Error, ValueError):
        return []
    seen: list[str] = []
    for m in _PRINTABLE.finditer(raw):
        name = m.group(0).decode("ascii")
        if name not in seen:
            seen.append(name)
        if len(seen) >= 15:
            break
    return seen


def _walk(obj: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """(json path, dict) for every object in a config, bounded in size and depth."""
    stack: list[tuple[str, Any, int]] = [("$", obj, 0)]
    count = 0
    while stack:
        path, cur, depth = stack.pop()
        count += 1
        if count > MAX_NODES or depth > MAX_DEPTH:
            return
        if isinstance(cur, dict):
            yield path, cur
            for k, v in cur.items():
                if isinstance(v, (dict, list)):
                    stack.append((f"{path}.{k}", v, depth + 1))
        elif isinstance(cur, list):
            for i, v in enumerate(cur):
                if isinstance(v, (dict, list)):
                    stack.append((f"{path}[{i}]", v, depth + 1))


def looks_like_keras(obj: Any) -> bool:
    """A Keras model/layer config: {"class_name", "config"} (plus "module" in Keras 3)."""
    return isinstance(obj, dict) and "class_name" in obj and (
        "config" in obj or "module" in obj)


def scan_keras_config(config: Any, ctx: ScanContext, where: str = "model config") -> list[Finding]:
    """Findings for a Keras config, given as JSON text/bytes or as parsed JSON."""
    if isinstance(config, (bytes, str)):
        try:
            config = json.loads(config)
        except (ValueError, RecursionError) as exc:
            return [R.KERAS_MALFORMED.finding(f"{where} is not valid JSON: {str(exc)[:200]}",
                                              ctx.location())]
    lambdas: list[str] = []
    modules: list[str] = []
    dangerous: list[str] = []
    custom: list[str] = []
    for path, d in _walk(config):
        ctx.check_deadline()
        cls = d.get("class_name")
        conf = d.get("config")
        if cls == "Lambda" and isinstance(conf, dict):
            fn = conf.get("function")
            if isinstance(fn, list) and fn and isinstance(fn[0], str):  # Keras 2 func_dump
                names = bytecode_names(fn[0])
                lambdas.append(f"{conf.get('name', path)!s:.80} (bytecode names: "
                               f"{', '.join(names) or 'none visible'})")
            elif isinstance(fn, str) and conf.get("function_type") == "lambda":
                lambdas.append(f"{conf.get('name', path)!s:.80} (bytecode names: "
                               f"{', '.join(bytecode_names(fn)) or 'none visible'})")
            elif isinstance(fn, str):
                mod = conf.get("module")
                if isinstance(mod, str) and not in_keras_namespace(mod):
                    modules.append(f"{mod}.{fn} (Lambda {conf.get('name', path)!s:.80})")
                if fn.rsplit(".", 1)[-1] in DANGEROUS_FUNCTIONS:
                    dangerous.append(f"{mod}.{fn} (Lambda {conf.get('name', path)!s:.80})")
        if cls == "__lambda__" and isinstance(conf, dict):
            code = conf.get("code")
            lambdas.append(f"{path} (bytecode names: "
                           f"{', '.join(bytecode_names(code)) if isinstance(code, str) else '?'})")
        module = d.get("module")
        if isinstance(module, str) and cls not in (None, "__lambda__") \
                and not in_keras_namespace(module):
            modules.append(f"{module}.{cls!s:.80} at {path}")
        fname = conf if isinstance(conf, str) and cls == "function" else None
        for candidate in (fname, d.get("registered_name"), cls if module else None):
            if isinstance(candidate, str) and candidate.rsplit(".", 1)[-1].rsplit(">", 1)[-1] \
                    in DANGEROUS_FUNCTIONS:
                dangerous.append(f"{module or '?'}.{candidate} at {path}")
                break
        reg = d.get("registered_name")
        if isinstance(reg, str) and ">" in reg and reg.split(">", 1)[0] not in KERAS_MODULES:
            custom.append(f"{reg[:80]} at {path}")
    out: list[Finding] = []
    loc = ctx.location()
    if lambdas:
        out.append(R.KERAS_LAMBDA.finding(f"{where}: Lambda layers with code: "
                                          + "; ".join(lambdas[:10]), loc,
                                          properties={"count": len(lambdas)}))
    if dangerous:
        out.append(R.KERAS_UNSAFE_CALL.finding(f"{where}: " + "; ".join(sorted(set(dangerous))[:10]),
                                               loc))
    if modules:
        out.append(R.KERAS_MODULE.finding(f"{where}: " + "; ".join(sorted(set(modules))[:10]), loc,
                                          properties={"modules": sorted(set(modules))[:50]}))
    if custom:
        out.append(R.KERAS_CUSTOM.finding(f"{where}: " + "; ".join(sorted(set(custom))[:10]), loc))
    return out


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, str):
        return value
    if hasattr(value, "tobytes") and getattr(value, "dtype", None) is not None \
            and value.dtype.kind in ("S", "O", "U") and value.shape == ():
        return _text(value.item())
    return None


class KerasH5Handler:
    name = "keras-h5"

    def scan(self, stream: BinaryIO, size: int, ctx: ScanContext) -> list[Finding]:
        import h5py

        findings: list[Finding] = []
        try:
            with h5py.File(stream, "r") as f:
                for attr in ("model_config", "training_config"):
                    if attr not in f.attrs:
                        continue
                    text = _text(f.attrs[attr])
                    if text is None:
                        findings.append(R.KERAS_MALFORMED.finding(
                            f"attribute {attr} is not text", ctx.location()))
                        continue
                    if len(text) > MAX_CONFIG:
                        findings.append(R.KERAS_MALFORMED.finding(
                            f"attribute {attr} is {len(text)} characters (limit {MAX_CONFIG})",
                            ctx.location()))
                        continue
                    findings.extend(scan_keras_config(text, ctx, attr))
                findings.extend(self._links(f, ctx))
        except Exception as exc:  # h5py raises OSError/ValueError/KeyError on hostile files
            if type(exc).__name__ == "ScanTimeout":
                raise
            findings.append(R.KERAS_MALFORMED.finding(
                f"HDF5 file could not be read: {str(exc)[:300] or type(exc).__name__}",
                ctx.location()))
        return findings

    def _links(self, f: Any, ctx: ScanContext) -> list[Finding]:
        import h5py

        external: list[str] = []
        stack = [("", f)]
        seen = 0
        while stack:
            prefix, group = stack.pop()
            for name in group:
                seen += 1
                if seen % 1000 == 0:
                    ctx.check_deadline()
                if seen > MAX_NODES:
                    return [R.KERAS_MALFORMED.finding(
                        f"more than {MAX_NODES} HDF5 objects; the rest was not checked",
                        ctx.location())]
                path = f"{prefix}/{name}"
                link = group.get(name, getlink=True)
                if isinstance(link, h5py.ExternalLink):
                    external.append(f"{path} -> {link.filename}:{link.path}")
                    continue
                if isinstance(link, h5py.SoftLink):
                    continue
                obj = group.get(name)
                if isinstance(obj, h5py.Group):
                    stack.append((path, obj))
                elif isinstance(obj, h5py.Dataset):
                    if obj.is_virtual:
                        sources = {m.file_name for m in obj.virtual_sources()}
                        external.append(f"{path} (virtual dataset over {sorted(sources)[:3]})")
                    elif obj.external:
                        external.append(f"{path} (external storage in "
                                        f"{[e[0] for e in obj.external][:3]})")
        if not external:
            return []
        return [R.H5_EXTERNAL.finding("; ".join(external[:10]), ctx.location(),
                                      properties={"count": len(external)})]
