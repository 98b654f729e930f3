"""Reading JSON files that users hand to mlgate (reports, decisions, results, records).

Every such file is input like any other: bounded in size, never followed through a symlink
when the caller says so, and every problem is one InputError (exit 2) naming the file.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

from mlgate.core.errors import InputError

DEFAULT_MAX_BYTES = 64 * 1024 * 1024


def read_json_bytes(
    path: Path, *, what: str, max_bytes: int = DEFAULT_MAX_BYTES, allow_symlink: bool = True
) -> tuple[Any, bytes]:
    """The parsed document and the exact bytes it was parsed from (for digests)."""
    try:
        if not allow_symlink and path.is_symlink():
            raise InputError(f"{path}: is a symbolic link; give the real file")
        st = path.stat()
        if stat.S_ISDIR(st.st_mode):
            raise InputError(f"{path} is a folder, not a {what}")
        if not stat.S_ISREG(st.st_mode):  # a FIFO would block the read forever
            raise InputError(f"{path} is not a regular file, not a {what}")
        if st.st_size > max_bytes:
            raise InputError(f"{path} is larger than {max_bytes} bytes: not a {what}")
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such file ({what})") from exc
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    try:
        return json.loads(raw.decode("utf-8")), raw
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InputError(f"{path} is not a JSON {what}: {exc}") from exc


def read_json(
    path: Path, *, what: str, max_bytes: int = DEFAULT_MAX_BYTES, allow_symlink: bool = True
) -> Any:
    return read_json_bytes(path, what=what, max_bytes=max_bytes, allow_symlink=allow_symlink)[0]
