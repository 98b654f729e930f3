"""Rules of the promotion decision (MLG-DEC-NNN): each reason a decision gives has one."""

from __future__ import annotations

from mlgate.core.findings import Severity
from mlgate.core.rules import Rule

MISSING_REPORT = Rule(
    id="MLG-DEC-001",
    severity=Severity.HIGH,
    title="Required evidence is missing",
    description="The target stage requires a report of this kind and none was given, so the "
    "property was not measured. The decision holds: not measured is never a pass.",
    remediation="Run the missing step (e.g. `mlgate bom`, `mlgate license`) and pass its JSON "
    "report to `mlgate decide`.",
)
INCOMPLETE_REPORT = Rule(
    id="MLG-DEC-002",
    severity=Severity.HIGH,
    title="Report is incomplete",
    description="A report says it did not examine everything (a missing shard, an unreachable "
    "source). The decision holds until the evidence is complete.",
    remediation="Merge every shard with `mlgate merge`, or rerun the step that could not finish.",
)
FINDING_REJECTS = Rule(
    id="MLG-DEC-003",
    severity=Severity.CRITICAL,
    title="Finding at or above the stage's reject threshold",
    description="A finding's severity is at or above the stage's `reject_on` and no valid "
    "waiver covers it.",
    remediation="Fix the finding, or (for an accepted risk) add a waiver with a reason, an "
    "approver and an expiry date.",
)
FINDING_HOLDS = Rule(
    id="MLG-DEC-004",
    severity=Severity.HIGH,
    title="Finding at or above the stage's hold threshold",
    description="A finding's severity is at or above the stage's `hold_on`: a human must look.",
    remediation="Fix the finding, or add a waiver with a reason, an approver and an expiry date.",
)
INCONCLUSIVE = Rule(
    id="MLG-DEC-005",
    severity=Severity.MEDIUM,
    title="Measurement is inconclusive",
    description="A check could not reach a verdict (e.g. a benchmark too noisy to tell a "
    "regression). The stage's `inconclusive` setting says whether that holds, rejects or passes.",
    remediation="Repeat the measurement with more runs or on a quieter runner.",
)
WAIVER_EXPIRED = Rule(
    id="MLG-DEC-006",
    severity=Severity.MEDIUM,
    title="Waiver has expired",
    description="A waiver's expiry date has passed; it no longer suppresses findings.",
    remediation="Fix the finding, or renew the waiver with a new approval and expiry date.",
)
WAIVER_UNUSED = Rule(
    id="MLG-DEC-007",
    severity=Severity.INFO,
    title="Waiver matches no finding",
    description="A waiver matched no finding of this decision. It may be stale.",
    remediation="Remove the waiver if the finding it was for is gone.",
)
DIGEST_CONFLICT = Rule(
    id="MLG-DEC-008",
    severity=Severity.HIGH,
    title="Reports disagree on a file's digest",
    description="Two reports name the same file with different sha256 digests: they did not "
    "look at the same bytes. The decision holds.",
    remediation="Rerun every step on the same checkout of the model.",
)
UNHASHED_FILE = Rule(
    id="MLG-DEC-009",
    severity=Severity.HIGH,
    title="Scanned file has no digest",
    description="A file in the scan report has no sha256, so the decision record cannot say "
    "which bytes were checked. The decision holds (unless the stage sets require_digests: false).",
    remediation="Scan without --no-hash, and fix read errors on the file.",
)
UNVERIFIED = Rule(
    id="MLG-DEC-010",
    severity=Severity.HIGH,
    title="Decision comes from an untrusted run",
    description="The decision was taken from an artifact of a run the repository does not "
    "control (a fork's pull request). It is shown, marked unverified, and never promotes.",
    remediation="Let a trusted job fetch the model files of the pull request's head commit and "
    "run mlgate on them under the base branch's policy.",
)

FINDING_BELOW = Rule(
    id="MLG-DEC-011",
    severity=Severity.INFO,
    title="Finding below the stage's thresholds",
    description="A finding that is neither severe enough to hold nor to reject at this stage. It "
    "does not change the decision; it is listed so that reviewers see it (up to 100 per "
    "decision).",
    remediation="Nothing is required; fix it or waive it before a stricter stage counts it.",
)

RULES: list[Rule] = [
    MISSING_REPORT,
    INCOMPLETE_REPORT,
    FINDING_REJECTS,
    FINDING_HOLDS,
    INCONCLUSIVE,
    WAIVER_EXPIRED,
    WAIVER_UNUSED,
    DIGEST_CONFLICT,
    UNHASHED_FILE,
    UNVERIFIED,
    FINDING_BELOW,
]
