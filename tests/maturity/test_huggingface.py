"""Hugging Face Hub API answered like huggingface.co: /api/models/{id}, /api/datasets/{id}."""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from mlgate.cli import main
from mlgate.maturity.check import check_maturity

from .conftest import policy

NOW = datetime(2026, 12, 2, tzinfo=timezone.utc)
HF_TOKEN = "hf_SECRETabcdefghijklmnopqrstuvwxyzAB"


def model_json(repo_id: str, **over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "_id": "621ffdc136468d709f17b7d1", "id": repo_id, "modelId": repo_id,
        "author": repo_id.split("/")[0], "sha": "86b5e0934494bd15c9632b12f734a8a67f723594",
        "lastModified": "2026-11-01T12:00:00.000Z", "createdAt": "2022-03-02T23:29:04.000Z",
        "private": False, "disabled": False, "gated": False, "downloads": 125000, "likes": 420,
        "library_name": "transformers", "pipeline_tag": "fill-mask",
        "tags": ["transformers", "pytorch", "safetensors", "bert", "fill-mask", "en",
                 "dataset:bookcorpus", "license:apache-2.0", "region:us"],
        "cardData": {"language": "en", "license": "apache-2.0", "datasets": ["bookcorpus"]},
        "siblings": [{"rfilename": ".gitattributes"}, {"rfilename": "config.json"},
                     {"rfilename": "model.safetensors"}],
        "spaces": [], "usedStorage": 13397387509,
        "securityRepoStatus": {"scansDone": True, "filesWithIssues": []},
    }
    data.update(over)
    return data


def dataset_json(repo_id: str, **over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "_id": "621ffdd236468d709f181d58", "id": repo_id, "author": repo_id.split("/")[0],
        "sha": "2ec1c1d8c1b2e2c6e2b2f5e3b9a3c1e8f1a2b3c4", "lastModified": "2026-06-01T00:00:00.000Z",
        "private": False, "gated": "auto", "disabled": False, "downloads": 9000, "likes": 77,
        "tags": ["task_categories:text-generation", "license:cc-by-4.0"],
        "cardData": {"license": ["cc-by-4.0"]}, "siblings": [{"rfilename": "README.md"}],
        "createdAt": "2023-01-01T00:00:00.000Z", "usedStorage": 1000,
    }
    data.update(over)
    return data


class FakeHub:
    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.base = server.url_for("").rstrip("/")
        self.requests: list[Request] = []

    def route(self, path: str, answers: list[Response]) -> None:
        """Answer ``path`` with each response in turn, repeating the last one."""
        def handler(request: Request) -> Response:
            self.requests.append(request)
            return answers.pop(0) if len(answers) > 1 else answers[0]

        self.server.expect_request(path).respond_with_handler(handler)

    def model(self, repo_id: str, **over: Any) -> None:
        self.route(f"/api/models/{repo_id}", [hub_json(model_json(repo_id, **over))])

    def dataset(self, repo_id: str, **over: Any) -> None:
        self.route(f"/api/datasets/{repo_id}", [hub_json(dataset_json(repo_id, **over))])


def hub_json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(data), status=status, headers=headers or {}, content_type="application/json")


def not_found() -> Response:
    return hub_json({"error": "Repository not found"}, status=401,
                    headers={"X-Error-Code": "RepositoryNotFound",
                             "X-Error-Message": "Invalid username or password."})


@pytest.fixture
def hub(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> FakeHub:
    for name in ("HF_TOKEN", "HF_HUB_OFFLINE", "GITHUB_ACTIONS"):
        monkeypatch.delenv(name, raising=False)
    fake = FakeHub(httpserver)
    monkeypatch.setenv("HF_ENDPOINT", fake.base)
    return fake


def test_healthy_model_passes(hub: FakeHub) -> None:
    hub.model("google-bert/bert-base-uncased")
    pol = policy("  min_downloads: 1000\n  min_likes: 10\n  max_days_since_commit: 90\n"
                 "  require_license: true\n  min_stars: 100\n")
    report = check_maturity(["hf:google-bert/bert-base-uncased"], pol, now=NOW)
    assert report.findings == ()  # min_stars does not apply to the Hub
    src = report.evidence["sources"][0]
    assert src["downloads"] == 125000 and src["likes"] == 420 and src["license"] == "apache-2.0"
    assert src["library"] == "transformers" and src["security_scan_issues"] == 0
    assert "stars" not in src
    assert hub.requests[0].args.get("securityStatus") == "true"


def test_dataset_thresholds_and_gate(hub: FakeHub) -> None:
    hub.dataset("acme/corpus", downloads=3)
    pol = policy("  min_downloads: 100\n  allow_gated: false\n")
    report = check_maturity(["https://huggingface.co/datasets/acme/corpus"], pol, now=NOW)
    assert sorted(f.rule_id for f in report.findings) == ["MLG-MAT-007", "MLG-MAT-011"]
    assert report.evidence["sources"][0]["license"] == "cc-by-4.0"


def test_hub_scan_issues_and_disabled(hub: FakeHub) -> None:
    hub.model("evil/model", disabled=True, securityRepoStatus={
        "scansDone": True, "filesWithIssues": [{"path": "pytorch_model.bin", "level": "unsafe"}]})
    report = check_maturity(["hf:evil/model"], policy(), now=NOW)
    assert sorted(f.rule_id for f in report.findings) == ["MLG-MAT-001", "MLG-MAT-018"]


def test_missing_downloads_field_is_unmeasured(hub: FakeHub) -> None:
    data = model_json("acme/m")
    del data["downloads"]
    hub.route("/api/models/acme/m", [hub_json(data)])
    [f] = check_maturity(["hf:acme/m"], policy("  min_downloads: 10\n"), now=NOW).findings
    assert f.rule_id == "MLG-MAT-013" and f.properties["signal"] == "downloads"


def test_missing_repo_is_a_finding(hub: FakeHub) -> None:
    hub.route("/api/models/acme/nope", [not_found()])
    report = check_maturity(["hf:acme/nope"], policy(), now=NOW)
    [f] = report.findings
    assert f.rule_id == "MLG-MAT-014" and "401" in f.detail


def test_429_then_success_and_5xx_bounded(hub: FakeHub) -> None:
    hub.route("/api/models/acme/busy", [hub_json({"error": "rate limited"}, 429, {"Retry-After": "1"}),
                                        hub_json(model_json("acme/busy"))])
    assert check_maturity(["hf:acme/busy"], policy(), now=NOW).findings == ()
    assert len(hub.requests) == 2
    hub.route("/api/models/acme/down", [hub_json({"error": "bad gateway"}, 502)])
    [f] = check_maturity(["hf:acme/down"], policy("  retries: 1\n"), now=NOW).findings
    assert f.rule_id == "MLG-MAT-015" and "502" in f.detail
    assert len(hub.requests) == 4  # 2 + first try + one retry


def test_token_sent_never_logged(hub: FakeHub, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str],
                                 caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("HF_TOKEN", HF_TOKEN)
    hub.model("acme/private")
    caplog.set_level(logging.DEBUG)
    rc = main(["maturity", "hf:acme/private", "--format", "json", "--policy", "research"])
    out, err = capsys.readouterr()
    assert rc == 0
    assert hub.requests[0].headers.get("Authorization") == f"Bearer {HF_TOKEN}"
    assert HF_TOKEN not in out + err + caplog.text


def test_sources_derived_from_model_card(hub: FakeHub, tmp_path: Path) -> None:
    hub.model("acme/base")
    hub.dataset("acme/corpus")
    (tmp_path / "README.md").write_text(
        "---\nlicense: mit\nbase_model: acme/base\ndatasets:\n- acme/corpus\n- 'not a valid ref!'\n---\n"
        "# Model\nTrained from acme/base.\n", encoding="utf-8")
    report = check_maturity([], policy(), model_path=tmp_path, now=NOW)
    checked = {s["source"]: s["status"] for s in report.evidence["sources"]}
    assert checked == {"hf:acme/base": "checked", "hf:datasets/acme/corpus": "checked"}
    [bad] = report.findings
    assert bad.rule_id == "MLG-MAT-019" and not report.complete


def test_model_without_card_sources_is_a_finding(hub: FakeHub, tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("no front matter here\n", encoding="utf-8")
    report = check_maturity([], policy(), model_path=tmp_path, now=NOW)
    [f] = report.findings
    assert f.rule_id == "MLG-MAT-017" and not report.complete


def test_long_retry_after_gives_up_at_once(hub: FakeHub) -> None:
    hub.route("/api/models/acme/limited", [hub_json({"error": "rate limited"}, 429, {"Retry-After": "3600"})])
    start = time.monotonic()
    [f] = check_maturity(["hf:acme/limited"], policy(), now=NOW).findings
    assert time.monotonic() - start < 5
    assert f.rule_id == "MLG-MAT-015" and "rate limit" in f.detail and "retry after 3600s" in f.detail
    assert len(hub.requests) == 1
