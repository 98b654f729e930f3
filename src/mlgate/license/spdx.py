"""License names → SPDX expressions, and what each license means for a policy.

Hugging Face cards use lower-case ids (``apache-2.0``, ``cc-by-nc-4.0``) plus names for model
licenses that are not in SPDX (``llama3``, ``gemma``, ``openrail``...). Those become
``LicenseRef-<name>`` references so a policy can name them; everything else is parsed with
license-expression's SPDX index, which also gives the canonical case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

# Categories (docs/license.md): what the terms allow, as far as a gate needs to know.
PERMISSIVE = "permissive"
PUBLIC_DOMAIN = "public-domain"
WEAK_COPYLEFT = "weak-copyleft"
COPYLEFT = "copyleft"
NONCOMMERCIAL = "non-commercial"
RESEARCH_ONLY = "research-only"
CONDITIONAL = "conditional-commercial"  # Llama, Gemma, OpenRAIL: use restrictions
UNKNOWN_CATEGORY = "uncategorized"

# Hugging Face license ids that are not SPDX ids (or differ in spelling) -> SPDX / LicenseRef.
HF_LICENSES: dict[str, str] = {
    "gpl": "GPL-3.0-or-later",
    "gpl-2.0": "GPL-2.0-only",
    "gpl-3.0": "GPL-3.0-only",
    "lgpl": "LGPL-3.0-or-later",
    "lgpl-2.1": "LGPL-2.1-only",
    "lgpl-3.0": "LGPL-3.0-only",
    "lgpl-lr": "LGPLLR",
    "agpl-3.0": "AGPL-3.0-only",
    "cc": "LicenseRef-cc",
    "bsd": "BSD-3-Clause",
    "openrail": "LicenseRef-openrail",
    "openrail++": "LicenseRef-openrail-plus-plus",
    "creativeml-openrail-m": "LicenseRef-creativeml-openrail-m",
    "bigscience-openrail-m": "LicenseRef-bigscience-openrail-m",
    "bigscience-bloom-rail-1.0": "LicenseRef-bigscience-bloom-rail-1.0",
    "bigcode-openrail-m": "LicenseRef-bigcode-openrail-m",
    "llama2": "LicenseRef-llama2",
    "llama3": "LicenseRef-llama3",
    "llama3.1": "LicenseRef-llama3.1",
    "llama3.2": "LicenseRef-llama3.2",
    "llama3.3": "LicenseRef-llama3.3",
    "llama4": "LicenseRef-llama4",
    "gemma": "LicenseRef-gemma",
    "deepfloyd-if-license": "LicenseRef-deepfloyd-if-license",
    "apple-amlr": "LicenseRef-apple-amlr",
    "intel-research": "LicenseRef-intel-research",
    "lgpl-lr-2.0": "LicenseRef-lgpl-lr",
    "apple-ascl": "LicenseRef-apple-ascl",
    "unknown": "",
}

_CATEGORIES: dict[str, str] = {}


def _cat(category: str, *ids: str) -> None:
    for i in ids:
        _CATEGORIES[i.lower()] = category


_cat(PERMISSIVE, "Apache-2.0", "MIT", "MIT-0", "BSD-2-Clause", "BSD-3-Clause", "BSD-3-Clause-Clear",
     "ISC", "Zlib", "BSL-1.0", "AFL-3.0", "Artistic-2.0", "ECL-2.0", "PostgreSQL", "NCSA",
     "OFL-1.1", "PSF-2.0", "Python-2.0", "CC-BY-4.0", "CC-BY-3.0", "CC-BY-2.0", "CC-BY-2.5",
     "ODC-By-1.0", "CDLA-Permissive-1.0", "CDLA-Permissive-2.0", "Unicode-3.0", "X11", "0BSD",
     "UPL-1.0", "HPND")
_cat(PUBLIC_DOMAIN, "CC0-1.0", "Unlicense", "PDDL-1.0", "WTFPL")
_cat(WEAK_COPYLEFT, "LGPL-2.1-only", "LGPL-2.1-or-later", "LGPL-3.0-only", "LGPL-3.0-or-later",
     "LGPLLR", "MPL-2.0", "EPL-1.0", "EPL-2.0", "CDDL-1.0", "CDDL-1.1", "OSL-3.0",
     "CC-BY-SA-3.0", "CC-BY-SA-4.0", "ODbL-1.0", "CDLA-Sharing-1.0", "EUPL-1.2", "GFDL-1.3-only",
     "GFDL-1.3-or-later")
_cat(COPYLEFT, "GPL-2.0-only", "GPL-2.0-or-later", "GPL-3.0-only", "GPL-3.0-or-later",
     "AGPL-3.0-only", "AGPL-3.0-or-later")
_cat(NONCOMMERCIAL, "CC-BY-NC-2.0", "CC-BY-NC-3.0", "CC-BY-NC-4.0", "CC-BY-NC-SA-2.0",
     "CC-BY-NC-SA-3.0", "CC-BY-NC-SA-4.0", "CC-BY-NC-ND-3.0", "CC-BY-NC-ND-4.0")
_cat(RESEARCH_ONLY, "LicenseRef-deepfloyd-if-license", "LicenseRef-apple-amlr",
     "LicenseRef-intel-research", "LicenseRef-research-only")
_cat(CONDITIONAL, "LicenseRef-llama2", "LicenseRef-llama3", "LicenseRef-llama3.1",
     "LicenseRef-llama3.2", "LicenseRef-llama3.3", "LicenseRef-llama4", "LicenseRef-gemma",
     "LicenseRef-openrail", "LicenseRef-openrail-plus-plus", "LicenseRef-creativeml-openrail-m",
     "LicenseRef-bigscience-openrail-m", "LicenseRef-bigscience-bloom-rail-1.0",
     "LicenseRef-bigcode-openrail-m", "CreativeML-OpenRAIL-M")
_cat("no-derivatives", "CC-BY-ND-4.0", "CC-BY-ND-3.0")


def category(license_id: str) -> str:
    """The category of one SPDX id / LicenseRef (``uncategorized`` when not known)."""
    key = license_id.lower()
    if key in _CATEGORIES:
        return _CATEGORIES[key]
    if "-nc-" in key or key.endswith("-nc") or "noncommercial" in key or "non-commercial" in key:
        return NONCOMMERCIAL
    if "research" in key:
        return RESEARCH_ONLY
    return UNKNOWN_CATEGORY


@cache
def licensing() -> Any:
    from license_expression import get_spdx_licensing

    return get_spdx_licensing()


def slug(name: str) -> str:
    """A LicenseRef-safe form of a free-text license name (letters, digits, '.', '-')."""
    text = re.sub(r"[^A-Za-z0-9.]+", "-", name.strip()).strip("-.")
    return text[:80] or "unnamed"


@dataclass(frozen=True)
class Normalized:
    """An SPDX expression (``expression``) or the reason there is none (``error``)."""

    raw: str
    expression: str
    error: str = ""

    @property
    def known(self) -> bool:
        return bool(self.expression)


def normalize(raw: str) -> Normalized:
    """Turn a license id, HF name or SPDX expression into a canonical SPDX expression."""
    text = raw.strip()
    if not text:
        return Normalized(raw, "", "empty license value")
    mapped = HF_LICENSES.get(text.lower())
    if mapped is not None:
        if not mapped:
            return Normalized(raw, "", f"license is {text!r}")
        return Normalized(raw, mapped)
    lic = licensing()
    # HF ids inside expressions ("llama3 OR mit"): map word by word first
    words = re.split(r"(\s+|\(|\))", text)
    words = [HF_LICENSES.get(w.lower(), w) if HF_LICENSES.get(w.lower()) else w for w in words]
    text = "".join(words)
    try:
        parsed = lic.parse(text, validate=False)
    except Exception as exc:  # license-expression raises several error types
        return Normalized(raw, "", f"not an SPDX expression: {exc}")
    if parsed is None:
        return Normalized(raw, "", "empty license expression")
    unknown = [k for k in lic.unknown_license_keys(parsed) if not k.startswith("LicenseRef-")]
    if unknown:
        return Normalized(raw, "", f"unknown license id(s): {', '.join(sorted(unknown))}")
    return Normalized(raw, str(parsed))


def normalize_card_license(raw: str, license_name: str = "") -> str:
    """The SPDX expression for a card's ``license`` value ('' when unknown). ``other`` with a
    ``license_name`` becomes ``LicenseRef-<license_name>``."""
    if raw.strip().lower() == "other":
        if license_name:
            mapped = HF_LICENSES.get(license_name.strip().lower())
            return mapped if mapped else f"LicenseRef-{slug(license_name)}"
        return ""
    return normalize(raw).expression
