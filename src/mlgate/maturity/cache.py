"""A small on-disk cache of measured Signals, so repeated runs do not spend API budget.

Off unless ``maturity.cache_ttl`` > 0. One JSON file per (API base, source) under
``$MLGATE_CACHE_DIR`` (else ``$XDG_CACHE_HOME/mlgate``, else ``~/.cache/mlgate``) in
``maturity/``. Only successful fetches are stored; a corrupt or expired entry is ignored.
Entries hold measured signals only (never tokens or headers).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from typing import Any

from mlgate.maturity.base import NOT_APPLICABLE, Signals, SourceRef, Unmeasured

_DATES = ("last_commit", "last_release")
MAX_ENTRY_BYTES = 100_000


def cache_dir(environ: Mapping[str, str]) -> Path:
    if environ.get("MLGATE_CACHE_DIR"):
        return Path(environ["MLGATE_CACHE_DIR"]) / "maturity"
    if environ.get("XDG_CACHE_HOME"):
        return Path(environ["XDG_CACHE_HOME"]) / "mlgate" / "maturity"
    return Path.home() / ".cache" / "mlgate" / "maturity"


def _entry(root: Path, ref: SourceRef) -> Path:
    key = hashlib.sha256(f"{ref.api_url}|{ref.ref}".encode()).hexdigest()[:32]
    return root / f"{key}.json"


def load(root: Path, ref: SourceRef, ttl: float, now: float | None = None) -> Signals | None:
    path = _entry(root, ref)
    try:
        if path.stat().st_size > MAX_ENTRY_BYTES:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        fetched = float(data["fetched_at"])
        if (time.time() if now is None else now) - fetched > ttl or data.get("source") != ref.ref:
            return None
        return signals_from_json(ref, data["signals"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store(root: Path, signals: Signals) -> None:
    path = _entry(root, signals.source)
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"fetched_at": time.time(), "source": signals.source.ref,
                                   "signals": signals.to_json()}), encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass  # a cache that cannot be written only costs API calls


def signals_from_json(ref: SourceRef, data: Mapping[str, Any]) -> Signals:
    values: dict[str, Any] = {}
    for f in fields(Signals):
        if f.name in ("source", "url"):
            continue
        if f.name not in data:
            values[f.name] = NOT_APPLICABLE
            continue
        raw = data[f.name]
        if isinstance(raw, dict) and "unmeasured" in raw:
            values[f.name] = Unmeasured(str(raw["unmeasured"]))
        elif f.name in _DATES and isinstance(raw, str) and raw != "none":
            values[f.name] = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        elif raw is None or isinstance(raw, (bool, int, str)):
            values[f.name] = raw
        else:
            raise ValueError(f"unexpected cached value for {f.name}")
    return Signals(source=ref, url=str(data.get("url", "")), **values)
