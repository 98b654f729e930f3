"""`mlgate license`: detection, normalisation, expression evaluation, presets, exceptions."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from mlgate.cli import main
from mlgate.core.findings import Report, Severity
from mlgate.core.policy import load_preset, parse_policy_text
from mlgate.core.policy.license import LicensePolicy
from mlgate.license.check import check_licenses
from mlgate.license.deps import installed_license
from mlgate.license.detect import identify_text
from mlgate.license.evaluate import evaluate
from mlgate.license.spdx import category, normalize, normalize_card_license

# Openings of the official texts (as distributed with the licenses).
MIT = """MIT License

Copyright (c) 2024 Example

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.
"""
BSD3 = """Copyright (c) 2024, Example
All rights reserved.

Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions are met:

1. Redistributions of source code must retain the above copyright notice, this
   list of conditions and the following disclaimer.
3. Neither the name of the copyright holder nor the names of its
   contributors may be used to endorse or promote products derived from
   this software without specific prior written permission.
"""
GPL3 = """                    GNU GENERAL PUBLIC LICENSE
                       Version 3, 29 June 2007

 Copyright (C) 2007 Free Software Foundation, Inc. <https://fsf.org/>
 Everyone is permitted to copy and distribute verbatim copies
 of this license document, but changing it is not allowed.
"""
CC_BY_NC = """Attribution-NonCommercial 4.0 International

=======================================================================

Creative Commons Corporation ("Creative Commons") is not a law firm and
does not provide legal services or legal advice.
"""
LLAMA3 = """META LLAMA 3 COMMUNITY LICENSE AGREEMENT
Meta Llama 3 Version Release Date: April 18, 2024

"Agreement" means the terms and conditions for use, reproduction, distribution and
modification of the Llama Materials set forth herein.
"""


@pytest.mark.parametrize("text, expected", [
    (MIT, "MIT"), (BSD3, "BSD-3-Clause"), (GPL3, "GPL-3.0-only"),
    (CC_BY_NC, "CC-BY-NC-4.0"), (LLAMA3, "LicenseRef-llama3"),
    ((Path(__file__).parents[2] / "fixtures/example-model/LICENSE").read_text(), "Apache-2.0"),
    ("All rights reserved. Do not copy.", ""),
])
def test_identify_license_texts(text: str, expected: str) -> None:
    assert identify_text(text) == expected


def test_identify_survives_rewrapping() -> None:
    assert identify_text(" ".join(MIT.split()).upper()) == "MIT"


@pytest.mark.parametrize("raw, expected", [
    ("apache-2.0", "Apache-2.0"), ("mit", "MIT"), ("cc-by-nc-4.0", "CC-BY-NC-4.0"),
    ("gpl-3.0", "GPL-3.0-only"), ("llama3.1", "LicenseRef-llama3.1"),
    ("gemma", "LicenseRef-gemma"), ("creativeml-openrail-m", "LicenseRef-creativeml-openrail-m"),
    ("mit OR apache-2.0", "MIT OR Apache-2.0"), ("llama3 AND mit", "LicenseRef-llama3 AND MIT"),
    ("unknown", ""), ("not-a-license-id", ""),
])
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw).expression == expected


def test_other_with_license_name() -> None:
    assert normalize_card_license("other", "Acme Model License v1") == \
        "LicenseRef-Acme-Model-License-v1"
    assert normalize_card_license("other", "") == ""


def test_categories() -> None:
    assert category("CC-BY-NC-SA-4.0") == "non-commercial"
    assert category("LicenseRef-llama3") == "conditional-commercial"
    assert category("LGPL-3.0-only") == "weak-copyleft"
    assert category("LicenseRef-acme-research-only") == "research-only"


POL = LicensePolicy(allow=["MIT", "Apache-2.0", "GPL-2.0-only WITH Classpath-exception-2.0"],
                    deny=["GPL-*", "CC-BY-NC-*"])


@pytest.mark.parametrize("expr, status", [
    ("MIT", "allowed"),
    ("MIT OR GPL-3.0-only", "allowed"),  # choose the allowed branch
    ("MIT AND GPL-3.0-only", "denied"),  # all terms apply
    ("MIT AND LicenseRef-llama3", "not-allowed"),
    ("LicenseRef-llama3 OR CC-BY-NC-4.0", "not-allowed"),
    ("GPL-2.0-only WITH Classpath-exception-2.0", "denied"),  # deny wins over allow
    ("mit", "allowed"),  # case-insensitive
])
def test_evaluate_expressions(expr: str, status: str) -> None:
    assert evaluate(normalize(expr).expression, POL).status == status


def test_with_exception_allowed_by_exact_entry() -> None:
    pol = LicensePolicy(allow=["GPL-2.0-only WITH Classpath-exception-2.0"])
    assert evaluate("GPL-2.0-only WITH Classpath-exception-2.0", pol).status == "allowed"
    assert evaluate("GPL-2.0-only", pol).status == "not-allowed"


def test_category_lists_add_to_top_level() -> None:
    pol = LicensePolicy(allow=["MIT"], dataset={"allow": ["CC-BY-SA-4.0"]})  # type: ignore[arg-type]
    assert evaluate("CC-BY-SA-4.0", pol, "dataset").status == "allowed"
    assert evaluate("CC-BY-SA-4.0", pol, "model").status == "not-allowed"


# --- presets: one row per (license, preset) -------------------------------------------------

PRESET_TABLE = [
    # license            permissive      commercial-safe   research
    ("MIT",              "allowed",      "allowed",        "allowed"),
    ("Apache-2.0",       "allowed",      "allowed",        "allowed"),
    ("LGPL-3.0-only",    "not-allowed",  "allowed",        "allowed"),
    ("MPL-2.0",          "not-allowed",  "allowed",        "allowed"),
    ("GPL-3.0-only",     "not-allowed",  "not-allowed",    "allowed"),
    ("CC-BY-NC-4.0",     "denied",       "denied",         "allowed"),
    ("CC-BY-NC-SA-4.0",  "denied",       "denied",         "allowed"),
    ("LicenseRef-deepfloyd-if-license", "denied", "denied", "allowed"),
    ("LicenseRef-llama3", "not-allowed", "not-allowed",    "not-allowed"),
    ("LicenseRef-gemma", "not-allowed",  "not-allowed",    "not-allowed"),
]


@pytest.mark.parametrize("row", PRESET_TABLE, ids=[r[0] for r in PRESET_TABLE])
def test_preset_verdicts(row: tuple[str, str, str, str]) -> None:
    lic, *expected = row
    got = [evaluate(lic, load_preset(p).license).status
           for p in ("permissive", "commercial-safe", "research")]
    assert got == expected


# --- check_licenses on model folders ---------------------------------------------------------

def _model(tmp_path: Path, card: str | None, license_text: str | None = None,
           requirements: str | None = None) -> Path:
    m = tmp_path / "model"
    m.mkdir()
    (m / "model.safetensors").write_bytes(b"\x00" * 16)
    if card is not None:
        (m / "README.md").write_text(card)
    if license_text is not None:
        (m / "LICENSE").write_text(license_text)
    if requirements is not None:
        (m / "requirements.txt").write_text(requirements)
    return m


def _ids(report: Report) -> list[tuple[str, str]]:
    return sorted((f.rule_id, f.severity.value) for f in report.findings)


def test_mit_model_passes_commercial_safe(tmp_path: Path) -> None:
    m = _model(tmp_path, "---\nlicense: mit\n---\n", MIT)
    report = check_licenses(m, load_preset("commercial-safe"))
    assert report.kind == "license"
    assert report.findings == ()
    rows = report.evidence["licenses"]
    assert [r["source"] for r in rows] == ["model-card+license-file"]


def test_no_license_anywhere_is_unknown_and_fails_closed(tmp_path: Path) -> None:
    m = _model(tmp_path, None)
    assert _ids(check_licenses(m, load_preset("commercial-safe"))) == [("MLG-LIC-001", "high")]
    assert _ids(check_licenses(m, load_preset("research"))) == [("MLG-LIC-001", "low")]


def test_noncommercial_denied_under_commercial_safe(tmp_path: Path) -> None:
    m = _model(tmp_path, "---\nlicense: cc-by-nc-4.0\n---\n")
    report = check_licenses(m, load_preset("commercial-safe"))
    assert _ids(report) == [("MLG-LIC-002", "high")]
    assert report.findings[0].properties["categories"] == ["non-commercial"]
    assert check_licenses(m, load_preset("research")).findings == ()


def test_llama_held_until_policy_names_it(tmp_path: Path) -> None:
    m = _model(tmp_path, "---\nlicense: llama3\n---\n", LLAMA3)
    assert _ids(check_licenses(m, load_preset("commercial-safe"))) == [("MLG-LIC-003", "high")]
    pol = parse_policy_text("extends: commercial-safe\nlicense:\n  model:\n"
                            "    allow: [LicenseRef-llama3]\n")
    assert check_licenses(m, pol).findings == ()


def test_card_and_license_file_conflict(tmp_path: Path) -> None:
    m = _model(tmp_path, "---\nlicense: mit\n---\n", GPL3)
    ids = _ids(check_licenses(m, load_preset("research")))
    assert ("MLG-LIC-004", "low") in ids  # research: conflict only warns
    ids = _ids(check_licenses(m, load_preset("commercial-safe")))
    assert ("MLG-LIC-004", "high") in ids
    assert ("MLG-LIC-003", "high") in ids  # and the GPL file itself is not allowed


def test_unrecognised_license_file_is_low(tmp_path: Path) -> None:
    m = _model(tmp_path, "---\nlicense: mit\n---\n", "Acme proprietary terms. No use.")
    assert _ids(check_licenses(m, load_preset("commercial-safe"))) == [("MLG-LIC-006", "low")]


def test_malformed_card_is_a_finding_and_license_unknown(tmp_path: Path) -> None:
    m = _model(tmp_path, "---\nlicense: [mit\n---\n")
    ids = _ids(check_licenses(m, load_preset("commercial-safe")))
    assert ids == [("MLG-LIC-001", "high"), ("MLG-LIC-005", "medium")]


def test_dataset_license_from_local_data_card(tmp_path: Path) -> None:
    m = _model(tmp_path, "---\nlicense: mit\ndatasets:\n- acme/reviews\n---\n")
    pol = load_preset("commercial-safe")
    assert _ids(check_licenses(m, pol)) == [("MLG-LIC-001", "high")]  # offline, no card
    cards = tmp_path / "cards"
    (cards / "acme" / "reviews").mkdir(parents=True)
    (cards / "acme" / "reviews" / "README.md").write_text("---\nlicense: cc-by-nc-sa-4.0\n---\n")
    report = check_licenses(m, pol, data_cards=cards)
    assert _ids(report) == [("MLG-LIC-002", "high")]
    assert report.findings[0].properties["subject"] == "acme/reviews"


def test_dataset_license_from_hf_cache(tmp_path: Path) -> None:
    m = _model(tmp_path, "---\nlicense: mit\ndatasets: [acme/reviews]\n---\n")
    snap = tmp_path / "hf" / "hub" / "datasets--acme--reviews" / "snapshots" / ("a" * 40)
    snap.mkdir(parents=True)
    (snap / "README.md").write_text("---\nlicense: cc-by-4.0\n---\n")
    report = check_licenses(m, load_preset("commercial-safe"),
                            environ={"HF_HOME": str(tmp_path / "hf")})
    assert report.findings == ()


def test_dependency_licenses_from_installed_metadata(tmp_path: Path) -> None:
    m = _model(tmp_path, "---\nlicense: mit\n---\n",
               requirements="click>=8\npydantic\nnot-a-real-package-xyz==1.0\n")
    report = check_licenses(m, load_preset("commercial-safe"))
    assert _ids(report) == [("MLG-LIC-001", "high")]
    assert "not-a-real-package-xyz" in report.findings[0].detail
    deps = {r["subject"]: r["license"] for r in report.evidence["licenses"]
            if r["kind"] == "dependency"}
    assert deps["click"] == installed_license("click").expression != ""


def test_exception_waives_until_expiry(tmp_path: Path) -> None:
    m = _model(tmp_path, "---\nlicense: llama3\n---\n")
    text = ("extends: commercial-safe\nlicense:\n  exceptions:\n  - subject: model\n"
            "    license: LicenseRef-llama3\n    reason: legal approved 2026-01\n"
            "    expires: 2027-01-01\n")
    pol = parse_policy_text(text)
    report = check_licenses(m, pol, today=dt.date(2026, 6, 1))
    assert [f.severity for f in report.findings] == [Severity.INFO]
    assert "legal approved" in report.findings[0].detail
    expired = check_licenses(m, pol, today=dt.date(2027, 2, 1))
    assert _ids(expired) == [("MLG-LIC-003", "high"), ("MLG-LIC-007", "medium")]


def test_policy_exception_without_reason_is_policy_error() -> None:
    from mlgate.core.errors import PolicyError

    with pytest.raises(PolicyError, match="reason"):
        parse_policy_text("license:\n  exceptions:\n  - subject: model\n")


def test_policy_unknown_value_is_policy_error() -> None:
    from mlgate.core.errors import PolicyError

    with pytest.raises(PolicyError, match="line 2"):
        parse_policy_text("license:\n  unknown: maybe\n")


def test_cli_json_report_and_exit_codes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    m = _model(tmp_path, "---\nlicense: mit\n---\n", MIT)
    assert main(["license", str(m)]) == 0
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "README.md").write_text("---\nlicense: cc-by-nc-4.0\n---\n")
    out = tmp_path / "lic.json"
    assert main(["license", str(bad), "--format", "json", "--output", str(out)]) == 1
    assert json.loads(out.read_text())["findings"][0]["rule_id"] == "MLG-LIC-002"
    assert main(["license", str(bad), "--policy", "research"]) == 0
    assert main(["license", str(bad), "--policy", "no-such-preset"]) == 2


# --- online dataset lookup against a local server answering like the Hub API -------------------

def _dataset_json(repo: str, license_value: object) -> dict[str, object]:
    return {"_id": "66aa", "id": repo, "author": repo.split("/")[0], "sha": "c" * 40,
            "lastModified": "2025-01-01T00:00:00.000Z", "private": False, "gated": False,
            "disabled": False, "downloads": 5, "likes": 2, "tags": [f"license:{license_value}"],
            "cardData": {"license": license_value, "pretty_name": "Reviews"},
            "siblings": [{"rfilename": "README.md"}], "createdAt": "2024-01-01T00:00:00.000Z"}


def test_online_dataset_license_from_hub(tmp_path: Path, httpserver: object) -> None:
    from pytest_httpserver import HTTPServer

    assert isinstance(httpserver, HTTPServer)
    httpserver.expect_request("/api/datasets/acme/reviews").respond_with_json(
        _dataset_json("acme/reviews", "cc-by-nc-4.0"))
    httpserver.expect_request("/api/datasets/acme/gone").respond_with_json(
        {"error": "Repository not found"}, status=404,
        headers={"X-Error-Code": "RepoNotFound"})
    m = _model(tmp_path, "---\nlicense: mit\ndatasets: [acme/reviews, acme/gone]\n---\n")
    env = {"HF_ENDPOINT": httpserver.url_for("").rstrip("/")}
    report = check_licenses(m, load_preset("commercial-safe"), offline=False, environ=env)
    ids = {(f.rule_id, str(f.properties.get("subject"))) for f in report.findings}
    assert ids == {("MLG-LIC-002", "acme/reviews"), ("MLG-LIC-001", "acme/gone")}
    gone = next(f for f in report.findings if f.rule_id == "MLG-LIC-001")
    assert "not found" in gone.detail


def test_online_hub_5xx_is_unknown_not_crash(tmp_path: Path, httpserver: object) -> None:
    from pytest_httpserver import HTTPServer

    assert isinstance(httpserver, HTTPServer)
    httpserver.expect_request("/api/datasets/acme/reviews").respond_with_data(
        "upstream error", status=502)
    m = _model(tmp_path, "---\nlicense: mit\ndatasets: [acme/reviews]\n---\n")
    env = {"HF_ENDPOINT": httpserver.url_for("").rstrip("/")}
    report = check_licenses(m, load_preset("commercial-safe"), offline=False, environ=env)
    assert _ids(report) == [("MLG-LIC-001", "high")]
    assert "Hub API error" in report.findings[0].detail
