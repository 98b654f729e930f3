"""LICENSE detection on the official license texts of the SPDX License List.

The texts come from the npm package spdx-license-list (installed by
.ci/setup.d/license-texts.sh, which exports MLGATE_SPDX_TEXTS), not from copies in this
repository. Without them these tests fail: run that script first.
"""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from mlgate.core.policy import load_preset
from mlgate.license.check import check_licenses
from mlgate.license.detect import identify_text


def _texts_dir() -> Path:
    env = os.environ.get("MLGATE_SPDX_TEXTS")
    candidates = [Path(env)] if env else []
    import sys

    candidates.append(Path(sys.prefix) / "share" / "spdx-license-list" / "licenses")
    for c in candidates:
        if (c / "MIT.json").is_file():
            return c
    raise AssertionError("official license texts missing: source .ci/setup.d/license-texts.sh")


def official(spdx_id: str) -> str:
    data = json.loads((_texts_dir() / f"{spdx_id}.json").read_text(encoding="utf-8"))
    text = data["licenseText"]
    assert isinstance(text, str) and len(text) > 200
    return text


# (file in the SPDX list, what detection must say)
CASES = [
    ("Apache-2.0", "Apache-2.0"),
    ("MIT", "MIT"),
    ("BSD-3-Clause", "BSD-3-Clause"),
    ("BSD-2-Clause", "BSD-2-Clause"),
    ("GPL-3.0-only", "GPL-3.0-only"),
    ("GPL-2.0-only", "GPL-2.0-only"),
    ("LGPL-2.1-only", "LGPL-2.1-only"),
    ("LGPL-3.0-only", "LGPL-3.0-only"),
    ("AGPL-3.0-only", "AGPL-3.0-only"),
    ("MPL-2.0", "MPL-2.0"),
    ("ISC", "ISC"),
    ("BSL-1.0", "BSL-1.0"),
    ("Unlicense", "Unlicense"),
    ("CC0-1.0", "CC0-1.0"),
    ("CC-BY-4.0", "CC-BY-4.0"),
    ("CC-BY-SA-4.0", "CC-BY-SA-4.0"),
    ("CC-BY-NC-4.0", "CC-BY-NC-4.0"),
    ("CC-BY-NC-SA-4.0", "CC-BY-NC-SA-4.0"),
    ("CC-BY-NC-ND-4.0", "CC-BY-NC-ND-4.0"),
    ("CC-BY-ND-4.0", "CC-BY-ND-4.0"),
]


@pytest.mark.parametrize(("spdx_file", "expected"), CASES)
def test_official_text_is_identified(spdx_file: str, expected: str) -> None:
    assert identify_text(official(spdx_file)) == expected


@pytest.mark.parametrize(("spdx_file", "expected"), CASES[:6])
def test_rewrapped_text_is_identified(spdx_file: str, expected: str) -> None:
    """The same text re-wrapped to 60 columns and with Windows line ends still matches."""
    wrapped = "\r\n".join(textwrap.fill(p, 60) for p in official(spdx_file).split("\n\n"))
    assert identify_text(wrapped) == expected


@pytest.mark.parametrize("spdx_file", ["Zlib", "WTFPL", "EUPL-1.2", "PostgreSQL", "OFL-1.1"])
def test_texts_without_a_fingerprint_are_unknown_never_a_guess(spdx_file: str) -> None:
    assert identify_text(official(spdx_file)) == ""


def test_official_cc_by_nc_license_file_is_denied_by_commercial_safe(tmp_path: Path) -> None:
    (tmp_path / "LICENSE").write_text(official("CC-BY-NC-4.0"), encoding="utf-8")
    (tmp_path / "README.md").write_text("---\nlicense: cc-by-nc-4.0\n---\n", encoding="utf-8")
    report = check_licenses(tmp_path, load_preset("commercial-safe"))
    assert [f.rule_id for f in report.findings] == ["MLG-LIC-002"]
    research = check_licenses(tmp_path, load_preset("research"))
    assert research.findings == ()


def test_official_gpl_file_conflicts_with_an_mit_card(tmp_path: Path) -> None:
    (tmp_path / "COPYING").write_text(official("GPL-3.0-only"), encoding="utf-8")
    (tmp_path / "README.md").write_text("---\nlicense: mit\n---\n", encoding="utf-8")
    rules = sorted(f.rule_id for f in check_licenses(tmp_path, load_preset("commercial-safe")).findings)
    assert rules == ["MLG-LIC-003", "MLG-LIC-004"]  # GPL held, and card vs file conflict
