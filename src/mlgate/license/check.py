"""``check_licenses``: every license of a model, its datasets and dependencies vs the policy.

Subjects and where their license comes from:
- ``model``: the card's ``license`` (+ ``license_name`` for ``other``) and LICENSE* files;
  both are evaluated, and a difference between them is a conflict;
- each dataset of the card: a local data card (``data_cards/<org>/<name>/README.md``), the
  Hugging Face cache (``datasets--org--name`` snapshots), or, when not offline, the Hub API;
- each Python dependency of the BOM (``--bom``: ``library`` components with ``pkg:pypi``
  purls, licenses as the BOM states them) and of ``requirements*.txt`` (installed package
  metadata, offline); the BOM wins for a package named in both.
Anything that cannot be determined is "unknown" and handled by ``unknown: fail|warn``.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from mlgate.bom.build import read_requirements
from mlgate.bom.modelcard import load_model_card
from mlgate.core.artifacts import require_model_path
from mlgate.core.findings import Finding, Location, Report, Severity
from mlgate.core.policy import Policy
from mlgate.core.policy.license import LicensePolicy
from mlgate.license import rules
from mlgate.license.detect import LicenseEvidence, card_evidence, file_evidence
from mlgate.license.evaluate import DENIED, NOT_ALLOWED, evaluate
from mlgate.license.spdx import category, licensing, normalize_card_license


@dataclass(frozen=True)
class Subject:
    kind: str  # model | dataset | dependency
    name: str  # "model", dataset id, package name
    expression: str  # '' = unknown
    source: str
    location: str
    detail: str = ""


def check_licenses(
    path: Path,
    policy: Policy,
    *,
    offline: bool = True,
    data_cards: Path | None = None,
    today: dt.date | None = None,
    environ: Mapping[str, str] | None = None,
    bom: Path | None = None,
) -> Report:
    env = os.environ if environ is None else environ
    require_model_path(path)
    folder = path if path.is_dir() else path.parent
    if data_cards is None and (folder / "data_cards").is_dir() and not (folder / "data_cards").is_symlink():
        # data cards shipped with the model (private or vendored datasets) are read offline
        data_cards = folder / "data_cards"
    lp = policy.license
    card = load_model_card(folder)
    findings: list[Finding] = []
    subjects: list[Subject] = []

    if card.status == "invalid":
        findings.append(rules.CARD_UNREADABLE.finding(card.error, Location(card.path or "README.md")))

    # --- the model -----------------------------------------------------------------------
    card_ev = card_evidence(card)
    file_ev = file_evidence(folder)
    known_files = [e for e in file_ev if e.expression]
    for ev in file_ev:
        if not ev.expression:
            findings.append(rules.UNRECOGNISED_TEXT.finding(
                f"{ev.location}: {ev.detail}", Location(ev.location)))
    stated = [e for e in card_ev if e.expression] + known_files
    for ev in card_ev:
        if not ev.expression:
            findings.append(_unknown(lp, "model", f"model card license {ev.raw!r}: {ev.detail}",
                                     Location(ev.location), "model"))
    if not stated and not any(not e.expression for e in card_ev):
        why = ("no license in the model card and no recognisable LICENSE file"
               if card.status != "invalid" else "model card unreadable and no LICENSE file")
        findings.append(_unknown(lp, "model", why, Location(card.path or "."), "model"))
    # one subject per distinct license: the card and a LICENSE file that agree are one finding
    by_expr: dict[str, list[LicenseEvidence]] = {}
    for ev in stated:
        by_expr.setdefault(_canon(ev.expression), []).append(ev)
    for evs in by_expr.values():
        subjects.append(Subject("model", "model", evs[0].expression,
                                "+".join(dict.fromkeys(e.source for e in evs)), evs[0].location))
    card_exprs = {_canon(e.expression) for e in card_ev if e.expression}
    file_exprs = {_canon(e.expression) for e in known_files}
    if card_exprs and file_exprs and not (file_exprs <= card_exprs):
        findings.append(rules.CONFLICT.finding(
            f"model card says {' AND '.join(sorted(card_exprs))}; LICENSE file(s) say "
            f"{' AND '.join(sorted(file_exprs))}",
            Location(known_files[0].location),
            severity=_sev(lp.conflict),
            properties={"card": sorted(card_exprs), "files": sorted(file_exprs)},
        ))

    # --- datasets ------------------------------------------------------------------------
    if lp.check_datasets and card.ok:
        for ds in card.datasets:
            subj = dataset_license(ds, offline=offline, data_cards=data_cards, environ=env)
            if subj.expression:
                subjects.append(subj)
            else:
                findings.append(_unknown(lp, "dataset", f"dataset {ds}: {subj.detail}",
                                         Location(card.path), ds))

    # --- dependencies --------------------------------------------------------------------
    if lp.check_dependencies:
        from mlgate.license.deps import bom_dependencies, installed_license

        seen: set[str] = set()
        if bom is not None:
            from mlgate.license.bomfile import read_bom

            for dep in bom_dependencies(read_bom(bom)):
                seen.add(_pkg_key(dep.package))
                label = f"{dep.package}=={dep.version}" if dep.version else dep.package
                if dep.expression:
                    subjects.append(Subject("dependency", dep.package, dep.expression, dep.source,
                                            bom.name))
                else:
                    findings.append(_unknown(lp, "dependency", f"package {label}: {dep.source}",
                                             Location(bom.name), dep.package))
        for req in read_requirements(folder):
            if _pkg_key(req.name) in seen:
                continue
            dep = installed_license(req.name)
            if dep.expression:
                subjects.append(Subject("dependency", req.name, dep.expression, dep.source,
                                        "requirements.txt"))
            else:
                findings.append(_unknown(lp, "dependency", f"package {req.name}: {dep.source}",
                                         Location("requirements.txt"), req.name))

    # --- policy --------------------------------------------------------------------------
    evidence_rows: list[dict[str, Any]] = []
    for subj in subjects:
        verdict = evaluate(subj.expression, lp, subj.kind)
        cats = sorted({category(s) for s in verdict.deciding})
        evidence_rows.append({
            "kind": subj.kind, "subject": subj.name, "license": verdict.expression,
            "source": subj.source, "location": subj.location, "status": verdict.status,
            "categories": cats,
        })
        props = {"subject": subj.name, "kind": subj.kind, "license": verdict.expression,
                 "categories": cats}
        label = "model" if subj.kind == "model" else f"{subj.kind} {subj.name}"
        if verdict.status == DENIED:
            findings.append(rules.DENIED.finding(
                f"{label}: {verdict.expression} is denied ({', '.join(verdict.deciding)}; "
                f"{', '.join(cats)}) [from {subj.source}]",
                Location(subj.location), properties=props))
        elif verdict.status == NOT_ALLOWED:
            action = getattr(lp, subj.kind).not_allowed or lp.not_allowed
            findings.append(rules.NOT_ALLOWED.finding(
                f"{label}: {verdict.expression} is not in the allow list "
                f"({', '.join(verdict.deciding)}; {', '.join(cats)}) [from {subj.source}]",
                Location(subj.location), severity=_sev(action), properties=props))

    findings = _apply_exceptions(findings, lp, today or dt.date.today())
    return Report(
        kind="license",
        target=str(path),
        findings=tuple(findings),
        evidence={"licenses": evidence_rows, "model_card": card.status, "offline": offline},
    )


def _pkg_key(name: str) -> str:
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


def _canon(expr: str) -> str:
    return str(licensing().parse(expr, validate=False).simplify())


def _sev(action: str) -> Severity:
    return Severity.HIGH if action == "fail" else Severity.LOW


def _unknown(lp: LicensePolicy, kind: str, detail: str, loc: Location, subject: str) -> Finding:
    section = getattr(lp, kind)
    action = section.unknown or lp.unknown
    return rules.UNKNOWN.finding(detail, loc, severity=_sev(action),
                                 properties={"subject": subject, "kind": kind})


def _apply_exceptions(findings: list[Finding], lp: LicensePolicy, today: dt.date) -> list[Finding]:
    if not lp.exceptions:
        return findings
    out: list[Finding] = []
    for f in findings:
        subject = str(f.properties.get("subject", ""))
        lic = str(f.properties.get("license", ""))
        path = f.location.path if f.location else ""
        match = None
        for exc in lp.exceptions:
            subj_ok = any(fnmatchcase(x.lower(), exc.subject.lower()) for x in (subject, path) if x)
            lic_ok = exc.license is None or (lic and fnmatchcase(lic.lower(), exc.license.lower()))
            if subj_ok and lic_ok:
                match = exc
                break
        if match is None:
            out.append(f)
        elif match.expires is not None and match.expires < today:
            out.append(f)
            out.append(rules.EXCEPTION_EXPIRED.finding(
                f"exception for {match.subject!r} expired on {match.expires.isoformat()} "
                f"(reason was: {match.reason})", f.location))
        else:
            from dataclasses import replace

            until = f" until {match.expires.isoformat()}" if match.expires else ""
            out.append(replace(
                f, severity=Severity.INFO, title=f"{f.title} (accepted by exception)",
                detail=f"{f.detail} -- accepted{until}: {match.reason}",
                properties={**f.properties, "exception": match.reason},
            ))
    return out


# --- datasets ----------------------------------------------------------------------------

def dataset_license(
    dataset: str,
    *,
    offline: bool,
    data_cards: Path | None,
    environ: Mapping[str, str],
) -> Subject:
    """The license of a dataset named in a card ('' expression with a reason when unknown)."""
    for card_path in _local_dataset_cards(dataset, data_cards, environ):
        card = load_model_card(card_path.parent)
        if card.ok and card.licenses:
            expr = " AND ".join(
                normalize_card_license(raw, card.license_name) or "" for raw in card.licenses)
            if all(normalize_card_license(raw, card.license_name) for raw in card.licenses):
                return Subject("dataset", dataset, expr, "dataset-card", str(card_path))
    if offline:
        return Subject("dataset", dataset, "", "", "",
                       "no local dataset card (offline: give --data-cards DIR or run online)")
    return _dataset_license_hub(dataset, environ)


def _local_dataset_cards(dataset: str, data_cards: Path | None,
                         environ: Mapping[str, str]) -> list[Path]:
    out: list[Path] = []
    if ".." in dataset.split("/"):
        return out
    if data_cards is not None:
        p = data_cards / dataset / "README.md"
        if p.is_file():
            out.append(p)
    hub_cache = environ.get("HF_HUB_CACHE") or (
        str(Path(environ["HF_HOME"]) / "hub") if environ.get("HF_HOME") else "")
    if hub_cache:
        snap = Path(hub_cache) / f"datasets--{dataset.replace('/', '--')}" / "snapshots"
        if snap.is_dir():
            out.extend(sorted(snap.glob("*/README.md")))
    return out


def _dataset_license_hub(dataset: str, environ: Mapping[str, str]) -> Subject:
    """The dataset's ``license`` from the Hub API (``HF_ENDPOINT``, ``HF_TOKEN``)."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

    endpoint = environ.get("HF_ENDPOINT") or None
    token = environ.get("HF_TOKEN") or False
    try:
        info = HfApi(endpoint=endpoint, token=token).dataset_info(dataset, timeout=30)
    except RepositoryNotFoundError:
        return Subject("dataset", dataset, "", "", "", "not found on the Hub (or private)")
    except (HfHubHTTPError, OSError, ValueError) as exc:
        return Subject("dataset", dataset, "", "", "", f"Hub API error: {_first_line(exc)}")
    data: dict[str, Any] = (info.card_data.to_dict()  # type: ignore[no-untyped-call]
                            if info.card_data is not None else {})
    raw = data.get("license")
    values = raw if isinstance(raw, list) else [raw] if raw else []
    exprs = [normalize_card_license(str(v), str(data.get("license_name") or "")) for v in values]
    if not values or not all(exprs):
        return Subject("dataset", dataset, "", "", "",
                       f"Hub card license {raw!r} is missing or not recognised")
    return Subject("dataset", dataset, " AND ".join(exprs), "hub-dataset-card",
                   f"hf:datasets/{dataset}")


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:300]


__all__ = ["LicenseEvidence", "check_licenses", "dataset_license"]
