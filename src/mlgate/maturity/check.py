"""``check_maturity``: sources -> Signals -> findings, as one Report of kind "maturity".

Sources come from the command line, from ``maturity.sources`` in the policy, from a CycloneDX
BOM (``bom``: purls and repository references, see :mod:`mlgate.maturity.bomsources`) and,
when none are given on the command line, from the model card (README.md front matter: ``base_model``,
``datasets``, and GitHub / GitLab repository links in the card). A source that cannot be read
is a finding (never a pass) and makes the report incomplete.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from mlgate.core.errors import UsageError
from mlgate.core.findings import Finding, JSONValue, Location, Report, Severity
from mlgate.core.policy import Policy
from mlgate.maturity import cache
from mlgate.maturity import rules as R
from mlgate.maturity.base import Source, SourceError, SourceRef, parse_source, source_class
from mlgate.maturity.http import scrub
from mlgate.maturity.thresholds import evaluate, is_trusted

MAX_CARD_BYTES = 1_000_000
MAX_DERIVED_SOURCES = 50
_REPO_URL = re.compile(
    r"https?://(?:www\.)?(?:github\.com|gitlab\.com)/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*"
)


def check_maturity(
    sources: Sequence[str],
    policy: Policy,
    *,
    offline: bool = False,
    model_path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    now: datetime | None = None,
    bom: Path | None = None,
) -> Report:
    mp = policy.maturity
    env = dict(os.environ if environ is None else environ)
    when = now or datetime.now(timezone.utc)
    findings: list[Finding] = []
    refs: dict[str, SourceRef] = {}
    origin: dict[str, str] = {}

    notes: list[str] = []

    def add(text: str, where: str, *, strict: bool, quiet: bool = False) -> None:
        try:
            ref = parse_source(text, env)
        except UsageError as exc:
            if strict:
                raise
            if quiet:
                notes.append(f"{where}: {text[:200]} skipped (not a GitHub, GitLab or Hub repository)")
                return
            findings.append(R.BAD_SOURCE.finding(f"{where}: {exc.message}", Location(where),
                                                 properties={"source": text[:200]}))
            return
        refs.setdefault(ref.ref, ref)
        origin.setdefault(ref.ref, where)

    for text in sources:
        add(text, "command line", strict=True)
    for text in mp.sources:
        add(text, "policy", strict=True)
    if bom is not None:
        from mlgate.maturity.bomsources import sources_from_bom

        bom_sources, bom_notes = sources_from_bom(bom)
        notes.extend(bom_notes)
        for item in bom_sources:
            add(item.text, item.where, strict=False, quiet=not item.strict)
    if not sources and model_path is not None:
        for text, where in sources_from_model_card(model_path):
            add(text, where, strict=False)
    if not refs and not findings:
        if model_path is None and bom is None:
            raise UsageError(
                "no sources to check",
                hint="name sources (github:owner/repo, hf:org/name, ...), use --model PATH, "
                "or list them in maturity.sources",
            )
        where = str(bom if model_path is None else model_path)
        findings.append(R.NO_SOURCES.finding(
            f"{where}: no base_model, datasets or repository links in the model card or BOM.",
            Location(where),
        ))

    clients: dict[str, Source] = {}
    cache_root = cache.cache_dir(env)
    etag_root = cache_root / "http" if mp.etag_cache else None
    wants_issues = mp.min_closed_issue_ratio is not None or any(
        o.min_closed_issue_ratio is not None for o in mp.overrides.values())
    issues_since = (when - timedelta(days=mp.issue_window_days)).date() if wants_issues else None
    evidence: list[JSONValue] = []
    # a source named but not understood, or none at all, means something went unchecked
    complete = not any(f.rule_id in (R.NO_SOURCES.id, R.BAD_SOURCE.id) for f in findings)
    if any(n.startswith("truncated:") for n in notes):
        complete = False
    for key, ref in refs.items():
        entry: dict[str, JSONValue] = {"source": key, "kind": ref.kind, "from": origin[key]}
        if offline:
            sev = Severity.MEDIUM if mp.offline == "fail" else Severity.INFO
            findings.append(R.OFFLINE.finding(f"{key} was not checked (--offline).", Location(key),
                                              severity=sev, properties={"source": key}))
            entry["status"] = "offline"
            evidence.append(entry)
            complete = False
            continue
        cached = cache.load(cache_root, ref, mp.cache_ttl) if mp.cache_ttl else None
        try:
            if cached is not None:
                signals = cached
            else:
                client = clients.get(ref.kind)
                if client is None:
                    cls: Any = source_class(ref.kind)
                    client = cls(timeout=mp.timeout, retries=mp.retries, max_wait=mp.max_wait,
                                 environ=env, etag_root=etag_root, issues_since=issues_since)
                    clients[ref.kind] = client
                signals = client.fetch(ref)
                if mp.cache_ttl:
                    cache.store(cache_root, signals)
        except SourceError as exc:
            complete = False
            entry.update({"status": exc.reason, "error": scrub(exc.message)})
            evidence.append(entry)
            findings.append(_error_finding(ref, exc, mp.on_error))
            continue
        except Exception as exc:  # a library raised something we did not anticipate: fail closed
            complete = False
            message = scrub(f"{key}: unexpected {type(exc).__name__}: {exc}")[:500]
            entry.update({"status": "unreachable", "error": message})
            evidence.append(entry)
            findings.append(_error_finding(ref, SourceError("unreachable", message), mp.on_error))
            continue
        entry.update(signals.to_json())
        entry["status"] = "checked"
        entry["cached"] = cached is not None
        entry["trusted"] = is_trusted(signals, mp)
        evidence.append(entry)
        findings.extend(evaluate(signals, mp, when))

    target = ", ".join(refs) if refs else str(model_path or bom or "")
    return Report(
        kind="maturity",
        target=target[:1000],
        findings=tuple(findings),
        evidence={"sources": evidence, "policy_source": policy.source, "offline": offline,
                  "skipped": list(notes[:200])},
        complete=complete,
    )


def _error_finding(ref: SourceRef, exc: SourceError, on_error: str) -> Finding:
    loc = Location(ref.ref)
    props: dict[str, JSONValue] = {"source": ref.ref, "reason": exc.reason}
    if exc.reason == "not_found":
        return R.NOT_FOUND.finding(scrub(exc.message), loc, properties=props)
    sev = Severity.HIGH if on_error == "fail" else Severity.LOW
    return R.UNREACHABLE.finding(scrub(exc.message), loc, severity=sev, properties=props)


def read_front_matter(text: str) -> dict[str, Any]:
    """The YAML front matter of a model card (``---`` ... ``---``), or {} if none / malformed."""
    from mlgate.bom.modelcard import CardError, safe_yaml, split_front_matter

    try:  # the one card parser: alias bombs and deep nesting are refused as in bom and license
        front, _ = split_front_matter(text.lstrip("\ufeff"))
        data = safe_yaml(front) if front is not None else {}
    except CardError:
        return {}
    return data if isinstance(data, dict) else {}


def sources_from_model_card(model_path: Path) -> list[tuple[str, str]]:
    """(source text, where it was found) for base_model, datasets and repo links of the card."""
    from mlgate.core.artifacts import open_nofollow

    card = model_path if model_path.is_file() else model_path / "README.md"
    if card.is_symlink() or not card.is_file():
        return []  # a card must not lead the tool to read a file outside the model
    try:
        with open(open_nofollow(card), "rb", closefd=True) as fh:
            raw = fh.read(MAX_CARD_BYTES)
    except OSError:
        return []
    text = raw.decode("utf-8", errors="replace")
    meta = read_front_matter(text)
    where = card.name
    out: list[tuple[str, str]] = []

    def names(value: object) -> list[str]:
        items = value if isinstance(value, list) else [value]
        return [str(v).strip() for v in items if isinstance(v, str) and v.strip()]

    for name in names(meta.get("base_model")):
        out.append((name if "://" in name else f"hf:{name}", f"{where}: base_model"))
    for name in names(meta.get("datasets")):
        out.append((name if "://" in name else f"hf:datasets/{name}", f"{where}: datasets"))
    for match in _REPO_URL.finditer(text):
        out.append((match.group(0).rstrip("."), f"{where}: link"))
    unique: dict[str, str] = {}
    for text_, where_ in out:
        unique.setdefault(text_, where_)
    return list(unique.items())[:MAX_DERIVED_SOURCES]
