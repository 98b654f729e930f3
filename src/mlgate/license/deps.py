"""Licenses of Python dependencies, read offline from installed package metadata.

Order of evidence: ``License-Expression`` (PEP 639), then trove classifiers
(``License :: OSI Approved :: MIT License``), then a short ``License`` field that is itself an
SPDX id or expression. Long ``License`` fields (a whole license text) are matched by the text
fingerprints of :mod:`mlgate.license.detect`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
