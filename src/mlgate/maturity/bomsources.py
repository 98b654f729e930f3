"""Maturity sources named in a CycloneDX JSON BOM (as ``mlgate bom`` writes it).

From every component (``metadata.component`` and ``components``, nested ones included):

* purls ``pkg:huggingface/org/name`` (-> ``hf:org/name``), ``pkg:github/owner/repo`` and
  ``pkg:gitlab/group/project``;
* external references of type ``vcs``, ``website`` and ``distribution`` whose URL is a GitHub,
  GitLab or Hugging Face repository (``git+https://``, ``git@host:`` and ``.git`` forms too);
* the ``mlgate:base-model`` properties of the model (-> ``hf:``).

What is skipped is said in ``notes``: ``pkg:pypi`` (a package index entry is not a repository;
mapping it to one would need the package's own project URLs), other purl types, websites that
are not repositories. A ``vcs`` reference that is not understood is a bad source (a finding),
because a repository named in the BOM would otherwise go unchecked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mlgate.license.bomfile import BomComponent, read_bom

MAX_BOM_SOURCES = 500
TRUNCATED = "truncated"
_SCP = re.compile(r"^git@([A-Za-z0-9.-]+):(.+)$")


@dataclass(frozen=True)
class BomSource:
    text: str  # what parse_source reads
    where: str  # "bom.cdx.json: <component> (vcs)"
    strict: bool  # True: not understood is a finding; False: not understood is only a note


def sources_from_bom(path: Path) -> tuple[list[BomSource], list[str]]:
    """(candidate sources, notes on what was skipped and why)."""
    comps = read_bom(path)
    out: list[BomSource] = []
    notes: list[str] = []
    for comp in comps:
        label = f"{path.name}: {comp.name or comp.bom_ref or comp.type}"
        purl = comp.purl.lower()
        if purl:
            text = _from_purl(comp)
            if text:
                out.append(BomSource(text, f"{label} (purl)", strict=True))
            elif purl.startswith("pkg:pypi/"):
                notes.append(f"{label}: {comp.purl} skipped (a PyPI package is not a repository; "
                             "name its repository as a source to check it)")
            elif not purl.startswith(("pkg:generic/", "pkg:mlflow/")):
                notes.append(f"{label}: {comp.purl} skipped (purl type not a supported source)")
        for ref_type, url in comp.external_refs:
            if ref_type not in ("vcs", "website", "distribution"):
                continue
            out.append(BomSource(_web_url(url), f"{label} ({ref_type})", strict=ref_type == "vcs"))
        for name, value in comp.properties:
            if name == "mlgate:base-model" and value:
                out.append(BomSource(value if "://" in value else f"hf:{value}",
                                     f"{label} (base-model)", strict=True))
    unique: dict[str, BomSource] = {}
    for item in out:
        unique.setdefault(item.text, item)
    if len(unique) > MAX_BOM_SOURCES:
        notes.append(f"{TRUNCATED}: the BOM names {len(unique)} sources; only the first "
                     f"{MAX_BOM_SOURCES} were checked")
    return list(unique.values())[:MAX_BOM_SOURCES], notes


def _from_purl(comp: BomComponent) -> str:
    from packageurl import PackageURL

    try:
        p = PackageURL.from_string(comp.purl)
    except ValueError:
        return ""
    if not p.namespace:
        return ""
    prefix = {"huggingface": "hf", "github": "github", "gitlab": "gitlab"}.get(p.type)
    return f"{prefix}:{p.namespace}/{p.name}" if prefix else ""


def _web_url(url: str) -> str:
    """git+https://host/o/r.git, git@host:o/r.git, ssh://git@host/o/r -> https://host/o/r."""
    text = url.strip()
    if text.startswith("git+"):
        text = text[4:]
    m = _SCP.match(text)
    if m:
        text = f"https://{m.group(1)}/{m.group(2)}"
    if text.startswith("ssh://git@"):
        text = "https://" + text[len("ssh://git@"):]
    text = text.split("#", 1)[0].split("?", 1)[0]
    return text.removesuffix(".git")
