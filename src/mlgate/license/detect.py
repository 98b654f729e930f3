"""Find the licenses a model declares: its card and its LICENSE files.

LICENSE texts are identified by fingerprints: phrases that occur in one license's official text
and not in the others, compared after normalisation (lower case, punctuation and whitespace
collapsed), so re-wrapped or re-formatted copies still match. The most specific fingerprints
are tried first (``Attribution-NonCommercial-ShareAlike`` before ``Attribution``; Llama 3.1
before Llama 3). Text that matches none is "unknown", never a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mlgate.bom.modelcard import ModelCard
from mlgate.core.artifacts import open_nofollow

MAX_LICENSE_BYTES = 512 * 1024
LICENSE_FILE = re.compile(r"^(license|licence|copying|notice)([._-].*)?$", re.I)

# (SPDX id / LicenseRef, phrases that must all occur, phrases that must not occur)
_FINGERPRINTS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("LicenseRef-llama3.3", ("llama 3 3 community license agreement",), ()),
    ("LicenseRef-llama3.2", ("llama 3 2 community license agreement",), ()),
    ("LicenseRef-llama3.1", ("llama 3 1 community license agreement",), ()),
    ("LicenseRef-llama3", ("meta llama 3 community license agreement",), ()),
    ("LicenseRef-llama2", ("llama 2 community license agreement",), ()),
    ("LicenseRef-gemma", ("gemma terms of use",), ()),
    ("LicenseRef-creativeml-openrail-m", ("creativeml open rail m",), ()),
    ("LicenseRef-bigscience-openrail-m", ("bigscience open rail m",), ()),
    ("LicenseRef-openrail", ("responsible ai license",), ()),
    ("CC-BY-NC-ND-4.0", ("attribution noncommercial noderivatives 4 0 international",), ()),
    ("CC-BY-NC-SA-4.0", ("attribution noncommercial sharealike 4 0 international",), ()),
    ("CC-BY-NC-4.0", ("attribution noncommercial 4 0 international",), ()),
    ("CC-BY-ND-4.0", ("attribution noderivatives 4 0 international",), ()),
    ("CC-BY-SA-4.0", ("attribution sharealike 4 0 international",), ()),
    ("CC-BY-4.0", ("attribution 4 0 international",), ("noncommercial", "sharealike")),
    ("CC0-1.0", ("cc0 1 0 universal",), ()),
    # the title lines, contiguous: each GPL text names the others in its body (GPL-3.0 ends
    # with "use the GNU Lesser General Public License instead"), so loose words misfire
    ("AGPL-3.0-only", ("gnu affero general public license version 3 19 november 2007",), ()),
    ("LGPL-3.0-only", ("gnu lesser general public license version 3 29 june 2007",), ()),
    ("LGPL-2.1-only", ("gnu lesser general public license version 2 1 february 1999",), ()),
    ("GPL-3.0-only", ("gnu general public license version 3 29 june 2007",), ()),
    ("GPL-2.0-only", ("gnu general public license version 2 june 1991",), ()),
    ("MPL-2.0", ("mozilla public license version 2 0",), ()),
    ("Apache-2.0", ("apache license", "version 2 0"), ()),
    ("BSL-1.0", ("boost software license version 1 0",), ()),
    ("Unlicense", ("this is free and unencumbered software released into the public domain",), ()),
    ("MIT", ("permission is hereby granted free of charge to any person obtaining a copy",
             "the above copyright notice and this permission notice shall be included"), ()),
    ("BSD-3-Clause", ("redistribution and use in source and binary forms",
                      "neither the name of"), ()),
    ("BSD-2-Clause", ("redistribution and use in source and binary forms",
                      "this list of conditions and the following disclaimer"),
     ("neither the name of",)),
    ("ISC", ("permission to use copy modify and or distribute this software for any purpose",), ()),
)


def normalize_text(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


def identify_text(text: str) -> str:
    """The SPDX id / LicenseRef of a license text, '' when it matches no fingerprint."""
    norm = normalize_text(text[:MAX_LICENSE_BYTES])
    for license_id, must, must_not in _FINGERPRINTS:
        if all(p in norm for p in must) and not any(p in norm for p in must_not):
            return license_id
    return ""


@dataclass(frozen=True)
class LicenseEvidence:
    """One place that states a license. ``expression`` is '' when it could not be read or
    recognised; ``detail`` then says why."""

    source: str  # "model-card", "license-file"
    location: str  # file (relative POSIX path)
    raw: str
    expression: str
    detail: str = ""


def card_evidence(card: ModelCard) -> list[LicenseEvidence]:
    from mlgate.license.spdx import normalize, normalize_card_license

    if not card.ok:
        return []
    out: list[LicenseEvidence] = []
    for raw in card.licenses:
        expr = normalize_card_license(raw, card.license_name)
        if expr:
            out.append(LicenseEvidence("model-card", card.path, raw, expr))
        else:
            why = ("license: other without license_name" if raw.lower() == "other"
                   else normalize(raw).error)
            out.append(LicenseEvidence("model-card", card.path, raw, "", why))
    return out


def file_evidence(folder: Path) -> list[LicenseEvidence]:
    """Every LICENSE*/COPYING*/NOTICE* file at the top of ``folder``, identified."""
    if not folder.is_dir():
        return []
    out: list[LicenseEvidence] = []
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if not LICENSE_FILE.match(path.name) or path.name.lower().startswith("notice"):
            continue
        try:
            fd = open_nofollow(path)
            with open(fd, "rb", buffering=0, closefd=True) as f:
                data = f.read(MAX_LICENSE_BYTES)
        except OSError as exc:
            out.append(LicenseEvidence("license-file", path.name, "", "",
                                       f"cannot read: {exc}"))
            continue
        text = data.decode("utf-8", "replace")
        found = identify_text(text)
        out.append(LicenseEvidence(
            "license-file", path.name, text[:200].strip(), found,
            "" if found else "text matches no known license",
        ))
    return out
