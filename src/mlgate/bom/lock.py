"""The model lockfile (``mlgate.lock``) and ``verify``.

Format (JSON, one file entry per line so diffs show exactly which file changed)::

    {
      "mlgate_lock": 1,
      "source": {"type": "local"},
      "files": [
        {"path": "config.json", "size": 429, "sha256": "76bd..."},
        ...
      ]
    }

For a Hub model ``source`` is ``{"type": "huggingface", "repo": "org/name", "revision":
"<40-hex commit>"}``. Paths are relative POSIX paths, so a lock verifies a copy of the model
anywhere. ``verify`` reports missing, changed, added and renamed files, and entries whose bytes
cannot be verified (symlinks leaving the folder, special files): all fail closed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from mlgate.bom import rules
from mlgate.core.errors import InputError, UsageError
from mlgate.core.findings import FileRecord, Location, Report

LOCK_VERSION = 1
LOCK_NAME = "mlgate.lock"
MAX_LOCK_BYTES = 64 << 20
_HEX64 = re.compile(r"[0-9a-f]{64}")
_COMMIT = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class LockedFile:
    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Lock:
    source: str  # "local" | "huggingface"
    files: tuple[LockedFile, ...]
    repo: str | None = None
    revision: str | None = None

    def to_text(self) -> str:
        src: dict[str, Any] = {"type": self.source}
        if self.repo:
            src["repo"] = self.repo
        if self.revision:
            src["revision"] = self.revision
        lines = ["{", f'  "mlgate_lock": {LOCK_VERSION},', f'  "source": {json.dumps(src)},',
                 '  "files": [']
        entries = [
            "    " + json.dumps({"path": f.path, "size": f.size, "sha256": f.sha256},
                                ensure_ascii=False)
            for f in sorted(self.files, key=lambda f: f.path)
        ]
        lines.append(",\n".join(entries))
        lines += ["  ]", "}"]
        return "\n".join(x for x in lines if x) + "\n"


def valid_rel_path(path: str) -> bool:
    if not path or path.startswith("/") or "\\" in path or "\x00" in path:
        return False
    parts = PurePosixPath(path).parts
    return all(p not in ("", ".", "..") for p in parts) and not re.match(r"^[A-Za-z]:", path)


def lock_from_records(records: Sequence[FileRecord], *, source: str = "local",
                      repo: str | None = None, revision: str | None = None) -> Lock:
    """A lock of hashed file records; an entry that could not be hashed is a usage error
    (a lock must never pin something it could not read)."""
    files: list[LockedFile] = []
    bad = [r for r in records if r.sha256 is None]
    if bad:
        listing = "; ".join(f"{r.path}: {r.error or 'not hashed'}" for r in bad[:5])
        raise UsageError(f"cannot lock entries that cannot be read as files: {listing}",
                         hint="replace symlinks that leave the folder and special files")
    for r in records:
        if r.path == LOCK_NAME:
            continue
        assert r.sha256 is not None
        files.append(LockedFile(r.path, r.size, r.sha256))
    return Lock(source, tuple(sorted(files, key=lambda f: f.path)), repo, revision)


def lock_folder(path: Path, *, file_records: Sequence[FileRecord] | None = None) -> Lock:
    from mlgate.bom.build import hash_folder

    if not path.is_dir():
        raise UsageError(f"not a folder: {path}", hint="lock a model folder or hf:org/name")
    return lock_from_records(file_records if file_records is not None else hash_folder(path))


def parse_lock(text: str, source: str = LOCK_NAME) -> Lock:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: hostile nesting
        raise InputError(f"{source}: not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("mlgate_lock") != LOCK_VERSION:
        raise InputError(f"{source}: not an mlgate lockfile (version {LOCK_VERSION})")
    src = data.get("source")
    files = data.get("files")
    if not isinstance(src, dict) or src.get("type") not in ("local", "huggingface"):
        raise InputError(f"{source}: 'source.type' must be 'local' or 'huggingface'")
    if not isinstance(files, list):
        raise InputError(f"{source}: 'files' must be a list")
    out: list[LockedFile] = []
    seen: set[str] = set()
    for i, entry in enumerate(files):
        if not isinstance(entry, dict):
            raise InputError(f"{source}: files[{i}] is not an object")
        p, size, digest = entry.get("path"), entry.get("size"), entry.get("sha256")
        if not isinstance(p, str) or not valid_rel_path(p):
            raise InputError(f"{source}: files[{i}].path {p!r} is not a relative POSIX path")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InputError(f"{source}: files[{i}].size must be a non-negative integer")
        if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
            raise InputError(f"{source}: files[{i}].sha256 must be 64 lower-case hex digits")
        if p in seen:
            raise InputError(f"{source}: {p} is listed twice")
        seen.add(p)
        out.append(LockedFile(p, size, digest))
    repo = src.get("repo")
    rev = src.get("revision")
    if src["type"] == "huggingface":
        if not isinstance(repo, str) or "/" not in repo:
            raise InputError(f"{source}: a huggingface lock needs 'source.repo' as org/name")
        if not isinstance(rev, str) or not _COMMIT.fullmatch(rev):
            raise InputError(f"{source}: 'source.revision' must be a 40-hex commit id")
    return Lock(str(src["type"]), tuple(out), repo if isinstance(repo, str) else None,
                rev if isinstance(rev, str) else None)


def read_lock(path: Path) -> Lock:
    try:
        if path.exists() and not path.is_file():  # a FIFO would block the read forever
            raise InputError(f"{path}: lockfile is not a regular file")
        with path.open("rb") as f:
            data = f.read(MAX_LOCK_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read lockfile {path}: {exc.strerror or exc}",
                         hint="create one with `mlgate lock PATH`") from exc
    if len(data) > MAX_LOCK_BYTES:
        raise InputError(f"{path}: lockfile larger than {MAX_LOCK_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: lockfile is not UTF-8") from exc
    return parse_lock(text, str(path))


def verify_lock(path: Path, lockfile: Path | Lock, *,
                file_records: Sequence[FileRecord] | None = None) -> Report:
    """Compare the folder at ``path`` with a lock (kind "verify"; findings on any difference)."""
    from mlgate.bom.build import hash_folder

    lock = lockfile if isinstance(lockfile, Lock) else read_lock(lockfile)
    if not path.is_dir():
        raise UsageError(f"not a folder: {path}")
    records = list(file_records) if file_records is not None else hash_folder(path)
    actual = {r.path: r for r in records if r.path != LOCK_NAME}
    locked = {f.path: f for f in lock.files}
    findings = []
    missing = [p for p in locked if p not in actual]
    added = [p for p in actual if p not in locked]
    # renames: an added file with exactly the bytes of a missing one
    by_digest: dict[str, list[str]] = {}
    for p in added:
        d = actual[p].sha256
        if d:
            by_digest.setdefault(d, []).append(p)
    renamed: dict[str, str] = {}
    for p in missing:
        cands = by_digest.get(locked[p].sha256) or []
        if cands:
            renamed[p] = cands.pop(0)
    for old, new in sorted(renamed.items()):
        findings.append(rules.RENAMED.finding(f"{old} is now {new} (same SHA-256)",
                                              Location(new), properties={"from": old, "to": new}))
    for p in sorted(missing):
        if p not in renamed:
            findings.append(rules.MISSING.finding(
                f"{p} ({locked[p].size} bytes, sha256 {locked[p].sha256}) is missing",
                Location(p)))
    renamed_to = set(renamed.values())
    for p in sorted(added):
        if p in renamed_to:
            continue
        rec = actual[p]
        if rec.sha256 is None:
            findings.append(rules.UNSAFE_ENTRY.finding(f"{p}: {rec.error}", Location(p)))
        else:
            findings.append(rules.ADDED.finding(f"{p} ({rec.size} bytes) is not in the lock",
                                                Location(p)))
    for p in sorted(set(locked) & set(actual)):
        want, rec = locked[p], actual[p]
        if rec.sha256 is None:
            findings.append(rules.UNSAFE_ENTRY.finding(f"{p}: {rec.error}", Location(p)))
        elif rec.sha256 != want.sha256 or rec.size != want.size:
            findings.append(rules.CHANGED.finding(
                f"{p}: locked sha256 {want.sha256} ({want.size} bytes), found {rec.sha256} "
                f"({rec.size} bytes)", Location(p),
                properties={"expected": want.sha256, "actual": rec.sha256}))
    return Report(
        kind="verify",
        target=str(path),
        findings=tuple(findings),
        files=tuple(sorted(records, key=lambda r: r.path)),
        evidence={"lock": {"source": lock.source, "repo": lock.repo, "revision": lock.revision,
                           "files": len(lock.files)},
                  "identical": not findings},
    )
