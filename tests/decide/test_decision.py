from __future__ import annotations

from datetime import date

import pytest

from mlgate.core.errors import InputError, UsageError
from mlgate.core.findings import FileRecord, Severity
from mlgate.core.policy import load_preset, parse_policy_text
from mlgate.decide.decision import Decision, decide, mark_unverified, policy_digest
from tests.decide.helpers import finding, report

TODAY = date(2026, 6, 1)
FULL = ("scan", "bom", "license", "maturity")


def rules_of(d: Decision) -> list[str]:
    return [r.rule_id for r in d.reasons]


def test_clean_scan_promotes_to_dev() -> None:
    d = decide([report("scan")], load_preset("commercial-safe"), stage="dev", today=TODAY)
    assert d.outcome == "promote" and d.exit_code == 0
    assert d.stage == "dev" and d.reasons == ()
    assert [i.kind for i in d.inputs] == ["scan"]


def test_default_stage_is_dev() -> None:
    assert decide([report("scan")], parse_policy_text(""), today=TODAY).stage == "dev"


def test_critical_scan_finding_rejects_with_linked_reason() -> None:
    f = finding()
    d = decide([report("scan", f)], parse_policy_text(""), stage="dev", today=TODAY)
    assert d.outcome == "reject" and d.exit_code == 1
    (r,) = d.reasons
    assert r.rule_id == "MLG-DEC-003" and r.effect == "reject"
    assert r.fingerprint == f.fingerprint and r.finding_rule_id == "MLG-SCAN-051"
    assert r.location is not None and r.location.path == "model.pkl"
    assert d.counts["critical"] == 1


def test_high_finding_holds_in_dev_rejects_in_staging() -> None:
    reps = [report("scan", finding(sev=Severity.HIGH)), *(report(k) for k in FULL[1:])]
    pol = parse_policy_text("")
    assert decide(reps, pol, stage="dev", today=TODAY).outcome == "hold"
    assert decide(reps, pol, stage="staging", today=TODAY).outcome == "reject"


def test_low_finding_promotes() -> None:
    d = decide([report("scan", finding(sev=Severity.LOW))], parse_policy_text(""), stage="dev", today=TODAY)
    assert d.outcome == "promote" and d.counts["low"] == 1


@pytest.mark.parametrize(("stage", "missing"), [("staging", {"bom", "license"}),
                                                 ("production", {"bom", "license", "maturity"})])
def test_missing_required_report_holds(stage: str, missing: set[str]) -> None:
    d = decide([report("scan")], parse_policy_text(""), stage=stage, today=TODAY)
    assert d.outcome == "hold"
    assert {r.report_kind for r in d.reasons if r.rule_id == "MLG-DEC-001"} == missing


def test_production_needs_bench_only_when_metrics_named() -> None:
    pol = parse_policy_text("")
    assert decide([report(k) for k in FULL], pol, stage="production", today=TODAY).outcome == "promote"
    custom = parse_policy_text("stages:\n  production:\n    requires: [scan]\n    bench: required\n")
    d = decide([report("scan")], custom, stage="production", today=TODAY)
    assert d.outcome == "hold" and d.reasons[0].report_kind == "bench"


def test_incomplete_report_holds_and_shards_merge() -> None:
    pol = parse_policy_text("")
    d = decide([report("scan", complete=False)], pol, stage="dev", today=TODAY)
    assert d.outcome == "hold" and rules_of(d) == ["MLG-DEC-002"]
    one = decide([report("scan", shard="1/2")], pol, stage="dev", today=TODAY)
    assert one.outcome == "hold"
    both = decide([report("scan", shard="1/2"), report("scan", shard="2/2")], pol, stage="dev", today=TODAY)
    assert both.outcome == "promote" and len(both.inputs) == 2


def test_allow_incomplete_is_explicit() -> None:
    pol = parse_policy_text("stages:\n  dev:\n    requires: [scan]\n    allow_incomplete: true\n")
    assert decide([report("scan", complete=False)], pol, stage="dev", today=TODAY).outcome == "promote"


@pytest.mark.parametrize(
    ("setting", "outcome"), [("hold", "hold"), ("reject", "reject"), ("pass", "promote")]
)
def test_inconclusive_bench(setting: str, outcome: str) -> None:
    pol = parse_policy_text(f"stages:\n  dev:\n    requires: [bench]\n    inconclusive: {setting}\n")
    f = finding("MLG-BENCH-003", Severity.MEDIUM, "bench", verdict="inconclusive")
    d = decide([report("bench", f)], pol, stage="dev", today=TODAY)
    assert d.outcome == outcome


def test_unhashed_scanned_file_holds() -> None:
    rep = report("scan", files=(FileRecord("a.bin", 3, None, error="permission denied"),))
    d = decide([rep], parse_policy_text(""), stage="dev", today=TODAY)
    assert d.outcome == "hold" and rules_of(d) == ["MLG-DEC-009"]
    assert "permission denied" in d.reasons[0].text


def test_digest_conflict_between_reports_holds() -> None:
    scan = report("scan", files=(FileRecord("m.bin", 3, "a" * 64),))
    bom = report("bom", files=(FileRecord("m.bin", 3, "b" * 64),))
    d = decide([scan, bom], parse_policy_text(""), stage="dev", today=TODAY)
    assert d.outcome == "hold" and "MLG-DEC-008" in rules_of(d)


WAIVER = """stages:
  dev:
    requires: [scan]
    waivers:
      - rule: MLG-SCAN-051
        path: "models/*.pkl"
        reason: reviewed by security, legacy tokenizer
        approved_by: alice
        expires: {expires}
"""


def test_waiver_suppresses_matching_finding_only() -> None:
    pol = parse_policy_text(WAIVER.format(expires="2026-12-31"))
    hit = finding(path="models/a.pkl")
    d = decide([report("scan", hit)], pol, stage="dev", today=TODAY)
    assert d.outcome == "promote"
    (w,) = d.waived
    assert w.fingerprint == hit.fingerprint and w.approved_by == "alice"
    other = decide([report("scan", finding(path="other/a.pkl"))], pol, stage="dev", today=TODAY)
    assert other.outcome == "reject"
    assert "MLG-DEC-007" in rules_of(other)  # the waiver matched nothing: a note


def test_waiver_applies_on_its_expiry_day_not_after() -> None:
    pol = parse_policy_text(WAIVER.format(expires="2026-06-01"))
    rep = report("scan", finding(path="models/a.pkl"))
    assert decide([rep], pol, stage="dev", today=date(2026, 6, 1)).outcome == "promote"
    d = decide([rep], pol, stage="dev", today=date(2026, 6, 2))
    assert d.outcome == "reject" and d.waived == ()
    assert "MLG-DEC-006" in rules_of(d)
    assert any("expired on 2026-06-01" in r.text for r in d.reasons)


def test_waiver_needs_reason_approver_and_expiry() -> None:
    from mlgate.core.errors import PolicyError

    with pytest.raises(PolicyError, match="approved_by"):
        parse_policy_text(
            "stages:\n  dev:\n    waivers:\n      - {rule: X, reason: y, expires: 2027-01-01}\n"
        )


def test_unknown_stage_is_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown stage"):
        decide([report("scan")], parse_policy_text(""), stage="prod", today=TODAY)


def test_json_round_trip_and_policy_digest_stable() -> None:
    pol = parse_policy_text("")
    d = decide([report("scan", finding())], pol, stage="dev", today=TODAY)
    again = Decision.from_json(d.to_json())
    assert again == d
    assert policy_digest(pol) == policy_digest(parse_policy_text("")) == d.policy_sha256
    assert policy_digest(parse_policy_text("scan:\n  fail_on: high\n")) != d.policy_sha256


def test_malformed_decision_json_is_input_error() -> None:
    with pytest.raises(InputError):
        Decision.from_json({"mlgate_decision": 1, "decision": "ship-it", "stage": "dev"})
    with pytest.raises(InputError):
        Decision.from_json({"decision": "promote"})


def test_unverified_never_promotes() -> None:
    d = decide([report("scan")], parse_policy_text(""), stage="dev", today=TODAY)
    u = mark_unverified(d, "from a fork")
    assert u.outcome == "hold" and not u.verified and u.reasons[0].rule_id == "MLG-DEC-010"


def test_commercial_safe_stages_are_the_builtin_defaults() -> None:
    from mlgate.core.policy.stages import default_stages

    assert load_preset("commercial-safe").stages == default_stages()


def test_production_requires_bench_when_metrics_named() -> None:
    pol = parse_policy_text("extends: commercial-safe\nbench:\n  metrics:\n    latency_ms: {better: lower}\n")
    d = decide([report(k) for k in FULL], pol, stage="production", today=TODAY)
    assert d.outcome == "hold" and [r.report_kind for r in d.reasons] == ["bench"]
    bench = report("bench", finding("MLG-BENCH-002", Severity.MEDIUM, "bench"))
    d2 = decide([*(report(k) for k in FULL), bench], pol, stage="production", today=TODAY)
    assert d2.outcome == "hold" and d2.reasons[0].rule_id == "MLG-DEC-005"


def test_user_waiver_extends_preset_stage() -> None:
    pol = parse_policy_text("extends: commercial-safe\n" + WAIVER.format(expires="2026-12-31")
                            .replace("    requires: [scan]\n", ""))
    assert pol.stages["dev"].requires == ["scan"] and len(pol.stages["dev"].waivers) == 1
