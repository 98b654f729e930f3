"""Compare one source's Signals with its effective thresholds -> findings.

Each finding carries the measured value and the threshold in ``properties``. A threshold on a
signal that could not be measured is MLG-MAT-013 (fail closed unless ``unmeasured: warn``).
Sources owned by a trusted organisation skip the popularity / activity thresholds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mlgate.core.findings import Finding, Location, Severity
from mlgate.core.policy.maturity import MaturityPolicy, MaturityThresholds
from mlgate.core.rules import Rule
from mlgate.maturity import rules as R
from mlgate.maturity.base import Signals, Unmeasured


def is_trusted(signals: Signals, policy: MaturityPolicy) -> bool:
    ref = signals.source
    owners = {ref.owner.lower()}
    if isinstance(signals.author, str):
        owners.add(signals.author.lower())
    prefix = {"github": "github", "gitlab": "gitlab", "huggingface": "hf"}[ref.kind]
    for entry in policy.trusted:
        entry = entry.strip().lower().rstrip("/")
        if ":" in entry:
            kind, _, name = entry.partition(":")
            if kind not in (prefix, ref.kind):
                continue
        else:
            name = entry
        if name in owners or ref.path.lower() == name or ref.path.lower().startswith(name + "/"):
            return True
    return False


def evaluate(signals: Signals, policy: MaturityPolicy, now: datetime) -> list[Finding]:
    ref = signals.source
    th: MaturityThresholds = policy.thresholds_for(ref.kind, ref.ref)
    loc = Location(ref.ref)
    out: list[Finding] = []
    unmeasured_sev = Severity.MEDIUM if policy.unmeasured == "fail" else Severity.LOW
    trusted = is_trusted(signals, policy)

    def unmeasured(signal: str, value: Unmeasured, threshold: Any) -> None:
        out.append(R.UNMEASURED.finding(
            f"{ref.ref}: {signal} could not be measured ({value.reason}); threshold {threshold}.",
            loc, title=f"{signal} could not be measured", severity=unmeasured_sev,
            properties={"source": ref.ref, "signal": signal, "reason": value.reason,
                        "threshold": threshold},
        ))

    def minimum(rule: Rule, signal: str, value: object, threshold: int | None) -> None:
        if threshold is None or trusted:
            return
        if isinstance(value, Unmeasured):
            if value.applicable:
                unmeasured(signal, value, threshold)
            return
        assert isinstance(value, int)
        if value < threshold:
            out.append(rule.finding(
                f"{ref.ref}: {value} {signal}, policy wants at least {threshold}.", loc,
                properties={"source": ref.ref, "signal": signal, "value": value, "threshold": threshold},
            ))

    def max_age(rule: Rule, signal: str, value: object, days: int | None) -> None:
        if days is None or trusted:
            return
        if isinstance(value, Unmeasured):
            if value.applicable:
                unmeasured(signal, value, days)
            return
        if value == "none":
            out.append(rule.finding(
                f"{ref.ref}: no {signal} at all, policy wants one within {days} days.", loc,
                properties={"source": ref.ref, "signal": signal, "value": None, "threshold": days},
            ))
            return
        assert isinstance(value, datetime)
        age = (now - value).days
        if age > days:
            out.append(rule.finding(
                f"{ref.ref}: last {signal} {age} days ago ({value.date().isoformat()}), "
                f"policy allows at most {days}.", loc,
                properties={"source": ref.ref, "signal": signal, "value": age, "threshold": days},
            ))

    def required(rule: Rule, signal: str, value: object, wanted: bool | None, bad: object) -> None:
        if not wanted:
            return
        if isinstance(value, Unmeasured):
            if value.applicable:
                unmeasured(signal, value, True)
            return
        if value == bad:
            out.append(rule.finding(f"{ref.ref}: {rule.description}", loc,
                                    properties={"source": ref.ref, "signal": signal}))

    def closed_ratio(sig: Signals, threshold: float | None, window: int) -> None:
        if threshold is None or trusted:
            return
        opened, closed = sig.recent_issues, sig.recent_issues_closed
        for value in (opened, closed):
            if isinstance(value, Unmeasured):
                if value.applicable:
                    unmeasured("closed issue ratio", value, threshold)
                return
        assert isinstance(opened, int) and isinstance(closed, int)
        if opened == 0:
            return  # nothing opened in the window: nothing left unanswered
        ratio = closed / opened
        if ratio < threshold:
            out.append(R.FEW_ISSUES_CLOSED.finding(
                f"{ref.ref}: {closed} of {opened} issues opened in the last {window} days are "
                f"closed ({ratio:.0%}), policy wants at least {threshold:.0%}.", loc,
                properties={"source": ref.ref, "signal": "closed issue ratio",
                            "value": round(ratio, 4), "opened": opened, "closed": closed,
                            "threshold": threshold, "window_days": window},
            ))

    # archived: always checked (even for trusted owners) unless explicitly allowed
    if not th.allow_archived:
        if isinstance(signals.archived, Unmeasured):
            if signals.archived.applicable:
                unmeasured("archived", signals.archived, "not archived")
        elif signals.archived:
            out.append(R.ARCHIVED.finding(
                f"{ref.ref} is archived or disabled upstream.", loc,
                properties={"source": ref.ref, "signal": "archived", "value": True},
            ))
    gated = signals.gated
    if th.allow_gated is False and not isinstance(gated, Unmeasured) and gated is not False:
        out.append(R.GATED.finding(f"{ref.ref} is gated ({signals.gated}).", loc,
                                   properties={"source": ref.ref, "value": str(signals.gated)}))
    if isinstance(signals.security_scan_issues, int) and signals.security_scan_issues > 0:
        out.append(R.HUB_SCAN_ISSUES.finding(
            f"{ref.ref}: the Hub security scan flags {signals.security_scan_issues} file(s).", loc,
            properties={"source": ref.ref, "value": signals.security_scan_issues},
        ))

    minimum(R.FEW_STARS, "stars", signals.stars, th.min_stars)
    minimum(R.FEW_FORKS, "forks", signals.forks, th.min_forks)
    minimum(R.FEW_CONTRIBUTORS, "contributors", signals.contributors, th.min_contributors)
    minimum(R.FEW_DOWNLOADS, "downloads", signals.downloads, th.min_downloads)
    minimum(R.FEW_LIKES, "likes", signals.likes, th.min_likes)
    max_age(R.STALE_COMMIT, "commit", signals.last_commit, th.max_days_since_commit)
    max_age(R.STALE_RELEASE, "release", signals.last_release, th.max_days_since_release)
    closed_ratio(signals, th.min_closed_issue_ratio, policy.issue_window_days)
    license_value: object = signals.license
    if isinstance(license_value, str) and license_value.strip().lower() in ("", "none", "other", "unknown"):
        license_value = "missing"
    required(R.NO_LICENSE, "license", license_value, th.require_license, "missing")
    required(R.NO_SECURITY_POLICY, "security policy", signals.security_policy,
             th.require_security_policy, False)
    if policy.require_trusted and not trusted:
        out.append(R.UNTRUSTED.finding(
            f"{ref.ref}: owner {ref.owner!r} is not in maturity.trusted.", loc,
            properties={"source": ref.ref, "owner": ref.owner},
        ))
    return out
