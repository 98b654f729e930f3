"""Rules of the BOM, lockfile, verify and fetch capability (MLG-BOM-NNN)."""

from __future__ import annotations

from mlgate.core.findings import Severity
from mlgate.core.rules import Rule

MISSING = Rule(
    "MLG-BOM-001", Severity.HIGH, "Locked file is missing",
    "A file listed in mlgate.lock is not in the model folder: the model is not the one that was "
    "approved (or is incomplete).",
    "Restore the file (e.g. `mlgate fetch`) or re-lock deliberately with `mlgate lock`.",
)
CHANGED = Rule(
    "MLG-BOM-002", Severity.CRITICAL, "File differs from the lock",
    "A file's SHA-256 or size differs from the one pinned in mlgate.lock: its bytes changed "
    "after it was approved (tampering, a moved upstream revision, or a corrupt download).",
    "Find out why the bytes changed; restore the locked file or review and re-lock.",
)
ADDED = Rule(
    "MLG-BOM-003", Severity.HIGH, "File is not in the lock",
    "The model folder holds a file that mlgate.lock does not list; unreviewed files can be "
    "loaded by frameworks (e.g. extra pickles or code).",
    "Remove the file or review it and re-lock with `mlgate lock`.",
)
RENAMED = Rule(
    "MLG-BOM-004", Severity.HIGH, "Locked file was renamed",
    "A file with the bytes of a locked file appears under another path and the locked path is "
    "gone. Frameworks load files by name, so a rename changes what is loaded.",
    "Restore the original name or re-lock deliberately.",
)
UNSAFE_ENTRY = Rule(
    "MLG-BOM-005", Severity.HIGH, "Entry cannot be verified",
    "A symlink leaving the folder, a broken symlink, a special file or an unreadable file: "
    "its bytes cannot be verified against the lock (fail closed).",
    "Replace the entry with a regular file inside the model folder and re-lock.",
)
FETCH_MISMATCH = Rule(
    "MLG-BOM-006", Severity.CRITICAL, "Downloaded file does not match the lock",
    "A file downloaded by `mlgate fetch` has a different SHA-256 or size than the lock pins; "
    "it was not put into the cache.",
    "Check the revision in the lock and the upstream repository; never skip verification.",
)
FETCH_FAILED = Rule(
    "MLG-BOM-007", Severity.HIGH, "Locked file could not be fetched",
    "A file listed in the lock could not be downloaded (not found, no access, or the server "
    "kept failing), so the model cannot be rebuilt from the lock.",
    "Check HF_TOKEN, the repository and revision, or restore the file from a cache.",
)

RULES: list[Rule] = [
    MISSING, CHANGED, ADDED, RENAMED, UNSAFE_ENTRY, FETCH_MISMATCH, FETCH_FAILED,
]
