"""Licenses of Python dependencies: from a CycloneDX BOM, else installed package metadata.

Order of evidence: ``License-Expression`` (PEP 639), then trove classifiers
(``License :: OSI Approved :: MIT License``), then a short ``License`` field that is itself an
SPDX id or expression. Long ``License`` fields (a whole license text) are matched by the text
fingerprints of :mod:`mlgate.license.detect`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mlgate.license.bomfile import BomComponent
from mlgate.license.spdx import normalize

_CLASSIFIERS: dict[str, str] = {
    "Apache Software License": "Apache-2.0",
    "MIT License": "MIT",
    "MIT No Attribution License (MIT-0)": "MIT-0",
    "BSD License": "BSD-3-Clause",
    "ISC License (ISCL)": "ISC",
    "Python Software Foundation License": "PSF-2.0",
    "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "GNU Lesser General Public License v2 or later (LGPLv2+)": "LGPL-2.1-or-later",
    "GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "GNU Lesser General Public License v3 or later (LGPLv3+)": "LGPL-3.0-or-later",
    "GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "GNU General Public License v2 or later (GPLv2+)": "GPL-2.0-or-later",
    "GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "GNU General Public License v3 or later (GPLv3+)": "GPL-3.0-or-later",
    "GNU Affero General Public License v3": "AGPL-3.0-only",
    "GNU Affero General Public License v3 or later (AGPLv3+)": "AGPL-3.0-or-later",
    "The Unlicense (Unlicense)": "Unlicense",
    "zlib/libpng License": "Zlib",
    "Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
    "Eclipse Public License 2.0 (EPL-2.0)": "EPL-2.0",
}


@dataclass(frozen=True)
class DependencyLicense:
    """``expression`` is '' when the license could not be determined; ``source`` says from
    what (``license-expression``, ``classifier``, ``license-field``) or why not."""

    package: str
    version: str | None
    expression: str
    source: str


def installed_license(name: str) -> DependencyLicense:
    from importlib import metadata as md

    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        return DependencyLicense(name, None, "", "not installed in this environment")
    meta: Any = dist.metadata
    version = dist.version
    expr = (meta.get("License-Expression") or "").strip()
    if expr:
        norm = normalize(expr)
        if norm.known:
            return DependencyLicense(name, version, norm.expression, "license-expression")
    ids: list[str] = []
    for classifier in meta.get_all("Classifier") or []:
        if classifier.startswith("License ::"):
            leaf = classifier.split("::")[-1].strip()
            if leaf in _CLASSIFIERS and _CLASSIFIERS[leaf] not in ids:
                ids.append(_CLASSIFIERS[leaf])
    if ids:
        # several classifiers mean the user may choose (dual licensing)
        return DependencyLicense(name, version, " OR ".join(ids), "classifier")
    field = (meta.get("License") or "").strip()
    if field and len(field) < 100:
        norm = normalize(field)
        if norm.known:
            return DependencyLicense(name, version, norm.expression, "license-field")
    elif field:
        from mlgate.license.detect import identify_text

        found = identify_text(field)
        if found:
            return DependencyLicense(name, version, found, "license-text")
    return DependencyLicense(name, version, "", "no recognisable license metadata")


def bom_dependencies(components: Sequence[BomComponent]) -> list[DependencyLicense]:
    """The Python dependencies of a CycloneDX BOM (``library`` components with a ``pkg:pypi``
    purl) and their licenses as the BOM states them. A dependency the BOM gives no usable
    license for falls back to the installed package's metadata (same name, maybe another
    version: the source says so), else it is unknown."""
    out: dict[str, DependencyLicense] = {}
    for comp in components:
        if comp.type not in ("library", "") or not comp.purl.lower().startswith("pkg:pypi/"):
            continue
        name = _pypi_name(comp.purl) or comp.name
        if not name or name in out:
            continue
        version = comp.version or None
        parts: list[str] = []
        problems: list[str] = []
        for lic in comp.licenses:
            text = _CLASSIFIERS.get(lic.value, lic.value) if lic.kind == "name" else lic.value
            norm = normalize(text)
            if norm.known:
                parts.append(norm.expression)
            else:
                problems.append(f"{lic.value!r}: {norm.error}")
        if parts and not problems:
            expr = parts[0] if len(parts) == 1 else " AND ".join(f"({p})" for p in parts)
            out[name] = DependencyLicense(name, version, normalize(expr).expression or expr, "bom")
            continue
        why = ("the BOM names no license" if not problems
               else f"the BOM license {'; '.join(problems)}")
        local = installed_license(name)
        if local.expression:
            out[name] = DependencyLicense(
                name, version, local.expression,
                f"installed-metadata {local.version} ({why})")
        else:
            out[name] = DependencyLicense(name, version, "", f"{why}; {local.source}")
    return list(out.values())


def _pypi_name(purl: str) -> str:
    from packageurl import PackageURL

    try:
        parsed = PackageURL.from_string(purl)
    except ValueError:
        return ""
    return re.sub(r"[-_.]+", "-", parsed.name).lower()
