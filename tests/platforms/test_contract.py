"""Contract tests: our GitHub client's requests and the fake server's responses both conform
to GitHub's published OpenAPI description, driven by real webhook payloads."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from mlgate.platforms.github import GitHubPlatform
from tests.platforms.fake_github import PREFIX, FakeGitHub
from tests.platforms.openapi import Spec, data_file, load_spec
from tests.platforms.test_github import decision


@pytest.fixture(scope="module")
def spec() -> Spec:
    return load_spec(str(data_file("MLGATE_GITHUB_OPENAPI", "api.github.com.json")))


@pytest.fixture(scope="module")
def webhooks() -> dict[str, list[dict[str, Any]]]:
    data = json.loads(data_file("MLGATE_GITHUB_WEBHOOKS", "webhooks-examples.json").read_text())
    return {e["name"]: e["examples"] for e in data}


def _example(webhooks: dict[str, list[dict[str, Any]]], name: str, action: str | None) -> dict[str, Any]:
    for ex in webhooks[name]:
        if action is None or ex.get("action") == action:
            return ex
    raise AssertionError(f"no {name}/{action} example")


@pytest.fixture
def server(httpserver: HTTPServer) -> Iterator[tuple[HTTPServer, str]]:
    yield httpserver, httpserver.url_for("").rstrip("/")


def _run(server: tuple[HTTPServer, str], tmp_path: Path, event_name: str, payload: dict[str, Any],
         outcome: str, *, forbid_checks: bool = False, reasons: int = 3) -> FakeGitHub:
    httpserver, base = server
    repo = payload["repository"]["full_name"]
    fake = FakeGitHub(base=base, repo=repo, forbid_checks=forbid_checks)
    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake.handle)
    event = tmp_path / "event.json"
    event.write_text(json.dumps(payload))
    if event_name == "pull_request":
        fake.add_comment(payload["pull_request"]["number"], "a human comment")
        fake.add_comment(payload["pull_request"]["number"], "another one")
        fake.add_comment(payload["pull_request"]["number"], "and a third")
    env = {
        "GITHUB_ACTIONS": "true", "GITHUB_API_URL": fake.api, "GITHUB_SERVER_URL": base,
        "GITHUB_REPOSITORY": repo, "GITHUB_SHA": payload.get("after") or "0" * 40,
        "GITHUB_EVENT_NAME": event_name, "GITHUB_EVENT_PATH": str(event), "GITHUB_RUN_ID": "1",
        "GITHUB_TOKEN": fake.token,
    }
    for _ in range(2):  # the second run updates the sticky comment
        GitHubPlatform(env, backoff=0, write_delay=None, echo=lambda _: None).publish(
            decision=decision(outcome, n_reasons=reasons))
    return fake


def _check_all(spec: Spec, fake: FakeGitHub) -> None:
    assert fake.calls
    for call in fake.calls:
        path = call.path
        for prefix in (PREFIX, "/api/uploads"):
            if path.startswith(prefix):
                path = path[len(prefix):]
        spec.check_request(call.method, path, call.body)
        spec.check_response(call.method, path, call.status, call.response)


def test_pull_request_event_contract(spec: Spec, webhooks: dict[str, list[dict[str, Any]]],
                                     server: tuple[HTTPServer, str], tmp_path: Path) -> None:
    payload = _example(webhooks, "pull_request", "opened")
    fake = _run(server, tmp_path, "pull_request", payload, "reject", reasons=60)
    assert fake.check_runs[0]["head_sha"] == payload["pull_request"]["head"]["sha"]
    assert len([c for c in fake.comments if "mlgate:decision" in c["body"]]) == 1
    _check_all(spec, fake)


def test_push_event_contract_with_status_fallback(spec: Spec, webhooks: dict[str, list[dict[str, Any]]],
                                                  server: tuple[HTTPServer, str], tmp_path: Path) -> None:
    payload = _example(webhooks, "push", None)
    fake = _run(server, tmp_path, "push", payload, "hold", forbid_checks=True)
    assert fake.statuses and fake.statuses[0]["sha"] == payload["after"]
    _check_all(spec, fake)


def test_hold_conclusion_is_a_documented_blocking_value(spec: Spec) -> None:
    _, op = spec.operation("POST", "/repos/o/r/check-runs")
    enum = op["requestBody"]["content"]["application/json"]["schema"]["properties"]["conclusion"]["enum"]
    from mlgate.platforms.github import CONCLUSION

    assert set(CONCLUSION.values()) <= set(enum)
    assert CONCLUSION["hold"] not in ("neutral", "skipped", "success")


def test_release_and_asset_upload_contract(spec: Spec, server: tuple[HTTPServer, str],
                                           tmp_path: Path) -> None:
    from mlgate.platforms.base import ReleaseAsset

    httpserver, base = server
    fake = FakeGitHub(base=base)
    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake.handle)
    rec = tmp_path / "decision-record.intoto.json"
    rec.write_text('{"_type": "https://in-toto.io/Statement/v1"}')
    env = {"GITHUB_ACTIONS": "true", "GITHUB_API_URL": fake.api, "GITHUB_SERVER_URL": base,
           "GITHUB_REPOSITORY": fake.repo, "GITHUB_SHA": "a" * 40, "GITHUB_EVENT_NAME": "push",
           "GITHUB_TOKEN": fake.token}
    url = GitHubPlatform(env, backoff=0, write_delay=None, echo=lambda _: None).create_release(
        tag="bert@v1.0.0", title="bert@v1.0.0", body="record", commit="a" * 40,
        assets=[ReleaseAsset(rec, rec.name)])
    assert url.endswith("/releases/tag/bert@v1.0.0") and fake.assets[0]["name"] == rec.name
    _check_all(spec, fake)


def test_bad_credentials_body_contract(spec: Spec, server: tuple[HTTPServer, str], tmp_path: Path) -> None:
    from mlgate.core.errors import NetworkError

    httpserver, base = server
    fake = FakeGitHub(base=base)
    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake.handle)
    env = {"GITHUB_ACTIONS": "true", "GITHUB_API_URL": fake.api, "GITHUB_SERVER_URL": base,
           "GITHUB_REPOSITORY": fake.repo, "GITHUB_SHA": "a" * 40, "GITHUB_EVENT_NAME": "push",
           "GITHUB_TOKEN": "ghp_not_the_right_one"}
    with pytest.raises(NetworkError):
        GitHubPlatform(env, backoff=0, write_delay=None, echo=lambda _: None).publish(decision=decision())
    assert [c.status for c in fake.calls] == [401]
    _check_all(spec, fake)
