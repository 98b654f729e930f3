"""Read a CycloneDX JSON BOM (as ``mlgate bom`` writes it) without trusting it.

The BOM is user input: bounded size, ``json`` only, every field type-checked. Only what the
license and maturity checks need is extracted: each component's type, name, version, purl,
licenses and external references, from ``metadata.component`` and ``components`` (nested
components included, to a bounded depth and count).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgate.core.errors import InputError

MAX_BOM_BYTES = 64 * 1024 * 1024
MAX_COMPONENTS = 20_000
MAX_DEPTH = 16


@dataclass(frozen=True)
class BomLicense:
    """One entry of ``licenses``: an SPDX ``id``, a free ``name`` or an ``expression``."""

    kind: str  # "id" | "name" | "expression"
    value: str


@dataclass(frozen=True)
class BomComponent:
    type: str
    name: str
    version: str
    purl: str
    bom_ref: str
    licenses: tuple[BomLicense, ...]
    external_refs: tuple[tuple[str, str], ...]  # (type, url)
    properties: tuple[tuple[str, str], ...] = ()  # (name, value)


def read_bom(path: Path) -> list[BomComponent]:
    """Components of the CycloneDX JSON BOM at ``path`` (InputError, exit 2, when it is not one)."""
    try:
        if path.exists() and not path.is_file():  # a FIFO would block the read forever
            raise InputError(f"BOM {path} is not a regular file")
        with path.open("rb") as fh:
            raw = fh.read(MAX_BOM_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read BOM {path}: {exc.strerror or exc}") from exc
    if len(raw) > MAX_BOM_BYTES:
        raise InputError(f"BOM {path} is larger than {MAX_BOM_BYTES // (1024 * 1024)} MiB")
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InputError(f"BOM {path} is not JSON: {str(exc)[:200]}",
                         hint="give the CycloneDX JSON BOM written by `mlgate bom`") from exc
    if not isinstance(doc, dict) or doc.get("bomFormat") != "CycloneDX":
        raise InputError(f"BOM {path} is not a CycloneDX JSON document (no bomFormat: CycloneDX)",
                         hint="give the CycloneDX JSON BOM written by `mlgate bom`")
    out: list[BomComponent] = []
    meta = doc.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("component"), dict):
        _walk([meta["component"]], out, 0)
    comps = doc.get("components", [])
    if not isinstance(comps, list):
        raise InputError(f"BOM {path}: 'components' is not a list")
    _walk(comps, out, 0)
    return out


def _walk(items: list[Any], out: list[BomComponent], depth: int) -> None:
    if depth > MAX_DEPTH:
        raise InputError(f"BOM components are nested deeper than {MAX_DEPTH} levels")
    for item in items:
        if not isinstance(item, dict):
            continue
        if len(out) >= MAX_COMPONENTS:
            raise InputError(f"BOM has more than {MAX_COMPONENTS} components")
        out.append(BomComponent(
            type=_str(item.get("type")),
            name=_str(item.get("name")),
            version=_str(item.get("version")),
            purl=_str(item.get("purl")),
            bom_ref=_str(item.get("bom-ref")),
            licenses=tuple(_licenses(item.get("licenses"))),
            external_refs=tuple(
                (_str(r.get("type")), _str(r.get("url")))
                for r in _list(item.get("externalReferences"))
                if isinstance(r, dict) and _str(r.get("url"))
            ),
            properties=tuple(
                (_str(p.get("name")), _str(p.get("value")))
                for p in _list(item.get("properties"))[:1000]
                if isinstance(p, dict) and _str(p.get("name"))
            ),
        ))
        nested = item.get("components")
        if isinstance(nested, list):
            _walk(nested, out, depth + 1)


def _licenses(value: Any) -> list[BomLicense]:
    out: list[BomLicense] = []
    for entry in _list(value):
        if not isinstance(entry, dict):
            continue
        if _str(entry.get("expression")):
            out.append(BomLicense("expression", _str(entry["expression"])))
            continue
        lic = entry.get("license")
        if isinstance(lic, dict):
            if _str(lic.get("id")):
                out.append(BomLicense("id", _str(lic["id"])))
            elif _str(lic.get("name")):
                out.append(BomLicense("name", _str(lic["name"])))
    return out


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str:
    return value.strip()[:2000] if isinstance(value, str) else ""
