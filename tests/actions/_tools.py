"""Finding the external linters. Outside CI a missing tool skips with the reason; in CI
(CI=true) it fails: CI installs them (.ci/setup.d/actions.sh), so missing means broken."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def node_prefixes() -> list[Path]:
    out = [os.environ.get("MLGATE_NODE_PREFIX", ""), os.environ.get("VIRTUAL_ENV", ""), sys.prefix,
           str(Path.home() / ".local")]
    return [Path(p) for p in out if p]


def missing(what: str) -> None:
    msg = f"{what} is not installed (run .ci/setup.d/actions.sh)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(msg)
    pytest.skip(msg)


def tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for prefix in node_prefixes():
        cand = prefix / "bin" / name
        if cand.is_file() and os.access(cand, os.X_OK):
            return str(cand)
    missing(name)
    raise AssertionError("unreachable")


def node_modules_with(package: str) -> Path:
    for prefix in node_prefixes():
        cand = prefix / "lib" / "node_modules"
        if (cand / package / "package.json").is_file():
            return cand
    missing(f"npm package {package}")
    raise AssertionError("unreachable")
