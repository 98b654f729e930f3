"""Rules of the license capability (MLG-LIC-NNN)."""

from __future__ import annotations

from mlgate.core.findings import Severity
from mlgate.core.rules import Rule

UNKNOWN = Rule(
    "MLG-LIC-001", Severity.HIGH, "License could not be determined",
    "No license could be determined for the model, a dataset or a dependency (no card field, "
    "no recognisable LICENSE file, a dataset card that cannot be read offline, or package "
    "metadata without a license). Under `unknown: fail` this fails closed; `warn` lowers it "
    "to low.",
    "State the license in the model card (`license:`), add the LICENSE file, provide the "
    "dataset card (`--data-cards`) or add a reviewed exception to mlgate.yml.",
)
DENIED = Rule(
    "MLG-LIC-002", Severity.HIGH, "License is denied by policy",
    "The license (or every choice of an OR expression) matches the policy's `deny` list.",
    "Use another model, dataset or package, or change the policy after legal review.",
)
NOT_ALLOWED = Rule(
    "MLG-LIC-003", Severity.HIGH, "License is not in the allow list",
    "The license is neither allowed nor denied by the policy. Custom model licenses (Llama, "
    "Gemma, OpenRAIL) land here on purpose: they allow commercial use under conditions a "
    "person must accept. Under `not_allowed: warn` this is low.",
    "Review the terms and add the license to `allow` (or `deny`) in mlgate.yml.",
)
CONFLICT = Rule(
    "MLG-LIC-004", Severity.HIGH, "Conflicting license statements",
    "The model card and a LICENSE file name different licenses; which one applies is unclear.",
    "Make the card's `license:` field and the LICENSE file agree.",
)
CARD_UNREADABLE = Rule(
    "MLG-LIC-005", Severity.MEDIUM, "Model card cannot be read",
    "README.md exists but its front matter is malformed, too large, or an alias bomb, so its "
    "license fields could not be read.",
    "Fix the YAML front matter of README.md.",
)
UNRECOGNISED_TEXT = Rule(
    "MLG-LIC-006", Severity.LOW, "LICENSE file text not recognised",
    "A LICENSE file matches none of the known license texts, so it could not confirm the "
    "card's license; it may add terms.",
    "Read the file; if it is a standard license, use the unmodified official text.",
)
EXCEPTION_EXPIRED = Rule(
    "MLG-LIC-007", Severity.MEDIUM, "License exception has expired",
    "An exception in mlgate.yml matches this finding but its `expires` date has passed, so it "
    "no longer applies.",
    "Review the exception again and extend `expires`, or remove it.",
)

RULES: list[Rule] = [
    UNKNOWN, DENIED, NOT_ALLOWED, CONFLICT, CARD_UNREADABLE, UNRECOGNISED_TEXT, EXCEPTION_EXPIRED,
]
