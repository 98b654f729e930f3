"""`mlgate lock hf:...` and `mlgate fetch` against a local server that answers like the Hub
(``HF_ENDPOINT``): model info with blobs, resolve URLs with X-Repo-Commit/ETag, 404, 401, 429."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from mlgate.bom.fetch import blob_path, fetch_locked, lock_hub, parse_hf_ref
from mlgate.bom.lock import parse_lock
from mlgate.cli import main
from mlgate.core.errors import UsageError

REPO = "acme/tiny"
COMMIT_A = "a" * 40
COMMIT_B = "b" * 40
CONFIG = b'{"model_type": "bert"}'
WEIGHTS = b"\x00\x01" * 5000


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _info(commit: str, files: dict[str, bytes], lfs: set[str]) -> dict[str, Any]:
    siblings = []
    for name, data in files.items():
        entry: dict[str, Any] = {"rfilename": name, "size": len(data),
                                 "blobId": hashlib.sha1(data).hexdigest()}
        if name in lfs:
            entry["lfs"] = {"sha256": _sha(data), "size": len(data), "pointerSize": 134}
        siblings.append(entry)
    return {"_id": "65f0", "id": REPO, "modelId": REPO, "author": "acme", "sha": commit,
            "lastModified": "2026-01-01T00:00:00.000Z", "private": False, "disabled": False,
            "gated": False, "downloads": 10, "likes": 1, "tags": ["transformers"],
            "pipeline_tag": "text-classification", "library_name": "transformers",
            "createdAt": "2025-01-01T00:00:00.000Z", "siblings": siblings}


class FakeHub:
    """Serves revisions of one repo; ``files[commit][path]`` are the bytes served."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.refs = {"main": COMMIT_A}
        self.files: dict[str, dict[str, bytes]] = {
            COMMIT_A: {"config.json": CONFIG, "model.safetensors": WEIGHTS}}
        self.requests: list[str] = []
        self.auth: list[str | None] = []
        server.expect_request(f"/api/models/{REPO}/revision/main").respond_with_handler(
            self.info)
        server.expect_request(f"/api/models/{REPO}/revision/{COMMIT_A}").respond_with_handler(
            self.info)
        for commit in (COMMIT_A, COMMIT_B):
            for name in ("config.json", "model.safetensors"):
                server.expect_request(f"/{REPO}/resolve/{commit}/{name}").respond_with_handler(
                    self.resolve)
        server.expect_request("/api/models/acme/missing/revision/main").respond_with_response(
            Response(json.dumps({"error": "Repository not found"}), status=404,
                     headers={"X-Error-Code": "RepoNotFound",
                              "Content-Type": "application/json"}))

    def info(self, request: Request) -> Response:
        self.requests.append(request.full_path)
        rev = request.path.rsplit("/", 1)[-1]
        commit = self.refs.get(rev, rev)
        assert request.args.get("blobs") == "true"
        return Response(json.dumps(_info(commit, self.files[commit], {"model.safetensors"})),
                        headers={"Content-Type": "application/json"})

    def resolve(self, request: Request) -> Response:
        self.requests.append(request.path)
        self.auth.append(request.headers.get("Authorization"))
        parts = request.path.lstrip("/").split("/", 4)  # org/name/resolve/commit/path
        commit, name = parts[3], parts[4]
        data = self.files.get(commit, {}).get(name)
        if data is None:
            return Response(json.dumps({"error": "Entry not found"}), status=404,
                            headers={"X-Error-Code": "EntryNotFound"})
        return Response(data, headers={"ETag": f'"{_sha(data)}"', "X-Repo-Commit": commit,
                                       "Content-Length": str(len(data))})


@pytest.fixture
def hub(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> FakeHub:
    monkeypatch.setenv("HF_ENDPOINT", httpserver.url_for("").rstrip("/"))
    return FakeHub(httpserver)


def _env(server: HTTPServer, **extra: str) -> dict[str, str]:
    return {"HF_ENDPOINT": server.url_for("").rstrip("/"), **extra}


def test_parse_hf_ref() -> None:
    assert parse_hf_ref("hf:acme/tiny@v1") == ("acme/tiny", "v1")
    assert parse_hf_ref("hf:acme/tiny") == ("acme/tiny", None)
    with pytest.raises(UsageError):
        parse_hf_ref("hf:tiny")
    with pytest.raises(UsageError):  # an empty revision is a mistake, never silently "main"
        parse_hf_ref("hf:acme/tiny@")


def test_lock_resolves_branch_to_commit_and_hashes(hub: FakeHub, httpserver: HTTPServer) -> None:
    lock = lock_hub(REPO, None, environ=_env(httpserver))
    assert lock.revision == COMMIT_A
    files = {f.path: f for f in lock.files}
    assert files["model.safetensors"].sha256 == _sha(WEIGHTS)  # from the LFS metadata
    assert files["config.json"].sha256 == _sha(CONFIG)  # streamed, not LFS
    # weights were not downloaded to lock
    assert f"/{REPO}/resolve/{COMMIT_A}/model.safetensors" not in hub.requests
    assert parse_lock(lock.to_text()) == lock


def test_fetch_downloads_verifies_and_reuses_cache(hub: FakeHub, httpserver: HTTPServer,
                                                   tmp_path: Path) -> None:
    env = _env(httpserver)
    lock = lock_hub(REPO, "main", environ=env)
    cache = tmp_path / "cache"
    report = fetch_locked(lock, cache, dest=tmp_path / "model", environ=env)
    assert report.kind == "fetch" and report.findings == ()
    assert report.evidence["downloaded"] == 2
    assert blob_path(cache, _sha(WEIGHTS)).read_bytes() == WEIGHTS
    assert (tmp_path / "model" / "config.json").read_bytes() == CONFIG
    # upstream disappears: the cache still rebuilds the model
    hub.files[COMMIT_A] = {}
    again = fetch_locked(lock, cache, environ=env)
    assert again.findings == () and again.evidence["from_cache"] == 2


def test_fetch_uses_pinned_commit_after_branch_moves(hub: FakeHub, httpserver: HTTPServer,
                                                     tmp_path: Path) -> None:
    env = _env(httpserver)
    lock = lock_hub(REPO, "main", environ=env)
    hub.files[COMMIT_B] = {"config.json": b'{"model_type": "evil"}',
                           "model.safetensors": WEIGHTS}
    hub.refs["main"] = COMMIT_B
    report = fetch_locked(lock, tmp_path / "c", environ=env)
    assert report.findings == ()
    assert all(COMMIT_B not in r for r in hub.requests if "/resolve/" in r)
    assert lock_hub(REPO, "main", environ=env).revision == COMMIT_B


def test_changed_bytes_at_same_commit_are_rejected(hub: FakeHub, httpserver: HTTPServer,
                                                   tmp_path: Path) -> None:
    env = _env(httpserver)
    lock = lock_hub(REPO, "main", environ=env)
    hub.files[COMMIT_A]["model.safetensors"] = b"\x00\x02" * 5000
    cache = tmp_path / "c"
    report = fetch_locked(lock, cache, environ=env)
    assert [f.rule_id for f in report.findings] == ["MLG-BOM-006"]
    assert not blob_path(cache, _sha(WEIGHTS)).exists()
    assert report.complete is False


def test_server_sending_too_much_is_cut_off(hub: FakeHub, httpserver: HTTPServer,
                                            tmp_path: Path) -> None:
    env = _env(httpserver)
    lock = lock_hub(REPO, "main", environ=env)
    hub.files[COMMIT_A]["config.json"] = CONFIG + b" " * 100_000
    report = fetch_locked(lock, tmp_path / "c", environ=env)
    assert [f.rule_id for f in report.findings] == ["MLG-BOM-006"]
    assert "more than" in report.findings[0].detail


def test_corrupt_cache_entry_is_replaced(hub: FakeHub, httpserver: HTTPServer,
                                         tmp_path: Path) -> None:
    env = _env(httpserver)
    lock = lock_hub(REPO, "main", environ=env)
    cache = tmp_path / "c"
    blob = blob_path(cache, _sha(WEIGHTS))
    blob.parent.mkdir(parents=True)
    blob.write_bytes(b"corrupt")
    report = fetch_locked(lock, cache, environ=env)
    assert report.findings == ()
    assert blob.read_bytes() == WEIGHTS


def test_404_file_is_a_finding(hub: FakeHub, httpserver: HTTPServer, tmp_path: Path) -> None:
    env = _env(httpserver)
    lock = lock_hub(REPO, "main", environ=env)
    del hub.files[COMMIT_A]["config.json"]
    report = fetch_locked(lock, tmp_path / "c", environ=env)
    assert [f.rule_id for f in report.findings] == ["MLG-BOM-007"]
    assert "404" in report.findings[0].detail


def test_missing_repo_is_usage_error(hub: FakeHub, httpserver: HTTPServer) -> None:
    with pytest.raises(UsageError, match="not found"):
        lock_hub("acme/missing", None, environ=_env(httpserver))


def test_401_without_token(httpserver: HTTPServer, hub: FakeHub, tmp_path: Path) -> None:
    env = _env(httpserver)
    lock = lock_hub(REPO, "main", environ=env)
    httpserver.clear_all_handlers()
    httpserver.expect_request(f"/{REPO}/resolve/{COMMIT_A}/config.json").respond_with_response(
        Response("Invalid username or password.", status=401))
    httpserver.expect_request(
        f"/{REPO}/resolve/{COMMIT_A}/model.safetensors").respond_with_response(
        Response("Invalid username or password.", status=401))
    report = fetch_locked(lock, tmp_path / "c", environ=env)
    assert {f.rule_id for f in report.findings} == {"MLG-BOM-007"}
    assert "HF_TOKEN" in report.findings[0].detail


def test_429_is_retried(hub: FakeHub, httpserver: HTTPServer, tmp_path: Path) -> None:
    env = _env(httpserver)
    lock = lock_hub(REPO, "main", environ=env)
    httpserver.expect_oneshot_request(
        f"/{REPO}/resolve/{COMMIT_A}/config.json").respond_with_response(
        Response("slow down", status=429, headers={"Retry-After": "0"}))
    report = fetch_locked(lock, tmp_path / "c", environ=env)
    assert report.findings == ()
    assert any(resp.status_code == 429 for _, resp in httpserver.log)


def test_token_is_sent_and_masked_on_github(hub: FakeHub, httpserver: HTTPServer,
                                           tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    env = _env(httpserver, HF_TOKEN="hf_secret123", GITHUB_ACTIONS="true")
    lock = lock_hub(REPO, "main", environ=env)
    report = fetch_locked(lock, tmp_path / "c", environ=env)
    assert report.findings == ()
    assert "Bearer hf_secret123" in hub.auth
    captured = capsys.readouterr()
    assert "::add-mask::hf_secret123" in captured.err and "hf_secret123" not in captured.out
    assert "hf_secret123" not in report.dumps()


def test_cli_lock_and_fetch(hub: FakeHub, httpserver: HTTPServer, tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    lockfile = tmp_path / "mlgate.lock"
    assert main(["lock", f"hf:{REPO}@main", "--output", str(lockfile)]) == 0
    data = json.loads(lockfile.read_text())
    assert data["source"] == {"type": "huggingface", "repo": REPO, "revision": COMMIT_A}
    dest = tmp_path / "model"
    assert main(["fetch", "--lock", str(lockfile), "--cache", str(tmp_path / "c"),
                 "--dest", str(dest)]) == 0
    assert main(["verify", str(dest), "--lock", str(lockfile)]) == 0
    hub.files[COMMIT_A]["config.json"] = b"{}"
    assert main(["fetch", "--lock", str(lockfile), "--cache", str(tmp_path / "c2")]) == 1


def test_api_429_then_success_is_retried(hub: FakeHub, httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request(f"/api/models/{REPO}/revision/main").respond_with_response(
        Response(json.dumps({"error": "rate limited"}), status=429,
                 headers={"Retry-After": "0", "Content-Type": "application/json"}))
    lock = lock_hub(REPO, "main", environ=_env(httpserver))
    assert lock.revision == COMMIT_A
    assert [resp.status_code for _, resp in httpserver.log][:2] == [429, 200]


def test_unknown_revision_is_usage_error(hub: FakeHub, httpserver: HTTPServer) -> None:
    httpserver.expect_request(f"/api/models/{REPO}/revision/nope").respond_with_response(
        Response(json.dumps({"error": "Invalid rev id: nope"}), status=404,
                 headers={"X-Error-Code": "RevisionNotFound",
                          "Content-Type": "application/json"}))
    with pytest.raises(UsageError, match="revision not found"):
        lock_hub(REPO, "nope", environ=_env(httpserver))


def test_fetch_cache_shares_the_one_cache_root(tmp_path: Path) -> None:
    from mlgate.bom.fetch import default_cache

    assert default_cache({"MLGATE_CACHE_DIR": str(tmp_path)}) == tmp_path / "blobs"
    assert default_cache({"MLGATE_CACHE": str(tmp_path / "b"), "MLGATE_CACHE_DIR": "x"}) == tmp_path / "b"
    assert default_cache({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "mlgate" / "blobs"


def test_unreachable_hub_is_a_network_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # regression: huggingface_hub's httpx transport errors are not OSError: an internal error
    import socket

    from mlgate.core.errors import NetworkError

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    with pytest.raises(NetworkError, match="cannot reach the Hub"):
        lock_hub("acme/tiny", "main")
