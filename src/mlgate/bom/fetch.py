"""Hub side of the lockfile: ``lock hf:org/name[@rev]`` and ``fetch``.

``lock_hub`` asks the Hub API (``/api/models/{repo}/revision/{rev}?blobs=true``) for the commit
a revision points to and each file's size and LFS sha256; files that are not in LFS are small
(configs, tokenizers) and are hashed by streaming them once from ``/{repo}/resolve/{commit}/..``.

``fetch_locked`` downloads each locked file from ``/{repo}/resolve/{commit}/{path}`` (the
pinned commit, never a branch) into a content-addressed cache ``<cache>/sha256/<ab>/<digest>``,
hashing while it writes; a file whose bytes do not match the lock never enters the cache. A file
already in the cache is re-hashed, not trusted. The cache folder works as an actions/cache or
GitLab cache path, so a model that disappears upstream can still be rebuilt.

The endpoint comes from ``HF_ENDPOINT`` (mirrors, tests), the token from ``HF_TOKEN`` only; it
is masked on GitHub Actions and never logged. 429 and 5xx are retried (honouring Retry-After).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from mlgate.bom import rules
from mlgate.bom.lock import Lock, LockedFile, valid_rel_path
from mlgate.core.errors import NetworkError, UsageError
from mlgate.core.findings import FileRecord, Finding, Location, Report

DEFAULT_ENDPOINT = "https://huggingface.co"
TIMEOUT = 30.0
ATTEMPTS = 4
MAX_RETRY_AFTER = 60.0
CHUNK = 1 << 20
_REPO = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")
_COMMIT = re.compile(r"[0-9a-f]{40}")

T = TypeVar("T")


class _TooLarge(Exception):
    """Raised by a sink when the server sends more bytes than the lock allows."""


def parse_hf_ref(ref: str) -> tuple[str, str | None]:
    """``hf:org/name[@revision]`` → (repo, revision or None)."""
    body = ref[3:] if ref.startswith("hf:") else ref
    repo, at, rev = body.partition("@")
    if not _REPO.fullmatch(repo) or (at and not rev):
        raise UsageError(f"bad Hub model reference {ref!r}",
                         hint="write it as hf:org/name or hf:org/name@revision")
    return repo, rev or None


def default_cache(environ: Mapping[str, str] | None = None) -> Path:
    """``$MLGATE_CACHE`` (the blobs folder itself), else ``$MLGATE_CACHE_DIR/blobs`` (the one
    cache root that the maturity cache shares), else ``$XDG_CACHE_HOME/mlgate/blobs``, else
    ``~/.cache/mlgate/blobs``."""
    env = os.environ if environ is None else environ
    if env.get("MLGATE_CACHE"):
        return Path(env["MLGATE_CACHE"])
    if env.get("MLGATE_CACHE_DIR"):
        return Path(env["MLGATE_CACHE_DIR"]) / "blobs"
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]) / "mlgate" / "blobs"
    return Path.home() / ".cache" / "mlgate" / "blobs"


class _Hub:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self.endpoint = (environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
        self.token = environ.get("HF_TOKEN") or None
        if self.token and environ.get("GITHUB_ACTIONS") == "true":
            sys.stderr.write(f"::add-mask::{self.token}\n")  # never into a redirected report
            sys.stderr.flush()

    def headers(self) -> dict[str, str]:
        from huggingface_hub.utils._headers import build_hf_headers

        headers: dict[str, str] = build_hf_headers(token=self.token or False,
                                                   library_name="mlgate")
        return headers

    def model_info(self, repo: str, revision: str) -> Any:
        from huggingface_hub import HfApi

        api = HfApi(endpoint=self.endpoint, token=self.token or False)
        return _retry(lambda: api.model_info(repo, revision=revision, files_metadata=True,
                                             timeout=TIMEOUT))

    def resolve_url(self, repo: str, commit: str, path: str) -> str:
        return f"{self.endpoint}/{repo}/resolve/{commit}/{quote(path, safe='/')}"

    def stream(self, url: str, sink: Callable[[bytes], None]) -> int:
        """GET ``url`` following redirects, feeding chunks to ``sink``; returns the status
        (200) or raises NetworkError. 429/5xx are retried before any byte is passed on."""
        from huggingface_hub import get_session

        session = get_session()
        started = False
        for attempt in range(ATTEMPTS):
            try:
                with session.stream("GET", url, headers=self.headers(), timeout=TIMEOUT,
                                     follow_redirects=True) as resp:
                    status = resp.status_code
                    if status == 429 or status >= 500:
                        wait = _retry_after(resp.headers.get("Retry-After"), attempt)
                        if attempt + 1 < ATTEMPTS:
                            time.sleep(wait)
                            continue
                        raise NetworkError(f"HTTP {status} from the Hub after {ATTEMPTS} tries")
                    if status != 200:
                        raise NetworkError(f"HTTP {status}" + _status_hint(status))
                    for chunk in resp.iter_bytes(CHUNK):
                        started = True
                        sink(chunk)
                    return status
            except (NetworkError, _TooLarge):
                raise
            except Exception as exc:  # transport errors of the HTTP client
                if attempt + 1 < ATTEMPTS and not started:
                    time.sleep(_retry_after(None, attempt))
                    continue
                raise NetworkError(f"cannot reach {self.endpoint}: {type(exc).__name__}") from exc
        raise NetworkError("unreachable")  # pragma: no cover


def _status_hint(status: int) -> str:
    return {401: " (unauthorized: set HF_TOKEN)", 403: " (forbidden: gated or private repo)",
            404: " (not found at this revision)"}.get(status, "")


def _retry_after(value: str | None, attempt: int) -> float:
    if value:
        try:
            return min(max(float(value), 0.0), MAX_RETRY_AFTER)
        except ValueError:
            pass
    return float(min(2 ** attempt, 8))


def _retry(call: Callable[[], T]) -> T:
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    for attempt in range(ATTEMPTS):
        try:
            return call()
        except RevisionNotFoundError as exc:
            raise UsageError("revision not found on the Hub", hint=_first(exc)) from exc
        except GatedRepoError as exc:
            raise NetworkError("the repo is gated: accept its terms and set HF_TOKEN") from exc
        except RepositoryNotFoundError as exc:
            raise UsageError("model not found on the Hub (or private: set HF_TOKEN)") from exc
        except HfHubHTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            if (status == 429 or status >= 500) and attempt + 1 < ATTEMPTS:
                header = exc.response.headers.get("Retry-After") if exc.response is not None \
                    else None
                time.sleep(_retry_after(header, attempt))
                continue
            raise NetworkError(f"Hub API error (HTTP {status}): {_first(exc)}") from exc
        except OSError as exc:
            if attempt + 1 < ATTEMPTS:
                time.sleep(_retry_after(None, attempt))
                continue
            raise NetworkError(f"cannot reach the Hub: {exc}") from exc
        except Exception as exc:  # transport errors of httpx/httpx2 are not OSError
            if type(exc).__module__.split(".")[0] not in ("httpx", "httpx2", "requests"):
                raise
            if attempt + 1 < ATTEMPTS:
                time.sleep(_retry_after(None, attempt))
                continue
            raise NetworkError(f"cannot reach the Hub: {type(exc).__name__}: {_first(exc)}",
                               hint="check the network or HF_ENDPOINT") from exc
    raise NetworkError("Hub API kept failing")  # pragma: no cover


def _first(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:300]


def lock_hub(repo: str, revision: str | None = None, *,
             environ: Mapping[str, str] | None = None) -> Lock:
    """Pin a Hub model: the commit ``revision`` (default ``main``) points to, and the size and
    sha256 of every file (LFS hashes from the API; small non-LFS files are streamed)."""
    hub = _Hub(os.environ if environ is None else environ)
    info = hub.model_info(repo, revision or "main")
    commit = str(getattr(info, "sha", "") or "")
    if not _COMMIT.fullmatch(commit):
        raise NetworkError(f"the Hub did not return a commit id for {repo}@{revision or 'main'}")
    if revision and _COMMIT.fullmatch(revision) and revision != commit:
        raise NetworkError(f"asked for commit {revision} but the Hub answered {commit}")
    files: list[LockedFile] = []
    for sib in getattr(info, "siblings", None) or []:
        path = str(sib.rfilename)
        if not valid_rel_path(path):
            raise NetworkError(f"the Hub listed an unsafe file path {path!r}")
        lfs = getattr(sib, "lfs", None)
        if lfs is not None and getattr(lfs, "sha256", None):
            files.append(LockedFile(path, int(lfs.size), str(lfs.sha256)))
            continue
        files.append(_hash_remote(hub, repo, commit, path))
    return Lock("huggingface", tuple(sorted(files, key=lambda f: f.path)), repo, commit)


def _hash_remote(hub: _Hub, repo: str, commit: str, path: str) -> LockedFile:
    h = hashlib.sha256()
    size = 0

    def sink(chunk: bytes) -> None:
        nonlocal size
        h.update(chunk)
        size += len(chunk)

    try:
        hub.stream(hub.resolve_url(repo, commit, path), sink)
    except NetworkError as exc:
        raise NetworkError(f"cannot hash {path}: {exc.message}") from exc
    return LockedFile(path, size, h.hexdigest())


def blob_path(cache: Path, digest: str) -> Path:
    return cache / "sha256" / digest[:2] / digest


def _hash_file(path: Path) -> tuple[str, int]:
    from mlgate.core.artifacts import sha256_file

    return sha256_file(path)


def fetch_locked(lock: Lock, cache: Path, *, dest: Path | None = None,
                 environ: Mapping[str, str] | None = None) -> Report:
    """Make every locked file present and verified in ``cache`` (and ``dest`` if given)."""
    if lock.source != "huggingface" or not lock.repo or not lock.revision:
        raise UsageError("fetch needs a lock made from the Hub (mlgate lock hf:org/name)")
    hub = _Hub(os.environ if environ is None else environ)
    findings: list[Finding] = []
    records: list[FileRecord] = []
    cached = downloaded = 0
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create cache folder {cache}: {exc.strerror}") from exc
    for lf in lock.files:
        blob = blob_path(cache, lf.sha256)
        ok = False
        if blob.is_file() and not blob.is_symlink():
            digest, size = _hash_file(blob)
            if digest == lf.sha256 and size == lf.size:
                ok = True
                cached += 1
            else:  # a corrupt cache entry is thrown away, never used
                blob.unlink()
        if not ok:
            result = _download(hub, lock.repo, lock.revision, lf, blob)
            if isinstance(result, Finding):
                findings.append(result)
                records.append(FileRecord(lf.path, 0, None, error=result.detail))
                continue
            downloaded += 1
        records.append(FileRecord(lf.path, lf.size, lf.sha256))
        if dest is not None:
            target = dest / lf.path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(blob, target)
    return Report(
        kind="fetch",
        target=f"hf:{lock.repo}@{lock.revision}",
        findings=tuple(findings),
        files=tuple(records),
        evidence={"cache": str(cache), "from_cache": cached, "downloaded": downloaded,
                  "repo": lock.repo, "revision": lock.revision},
        complete=not findings,
    )


def _download(hub: _Hub, repo: str, commit: str, lf: LockedFile, blob: Path) -> Finding | None:
    blob.parent.mkdir(parents=True, exist_ok=True)
    tmp = blob.with_name(f".{blob.name}.{os.getpid()}.part")
    h = hashlib.sha256()
    size = 0
    try:
        with tmp.open("wb") as out:
            def sink(chunk: bytes) -> None:
                nonlocal size
                size += len(chunk)
                if size > lf.size:
                    raise _TooLarge
                h.update(chunk)
                out.write(chunk)

            hub.stream(hub.resolve_url(repo, commit, lf.path), sink)
    except _TooLarge:
        tmp.unlink(missing_ok=True)
        return rules.FETCH_MISMATCH.finding(
            f"{lf.path}: server sent more than the locked {lf.size} bytes", Location(lf.path))
    except NetworkError as exc:
        tmp.unlink(missing_ok=True)
        return rules.FETCH_FAILED.finding(f"{lf.path}: {exc.message}", Location(lf.path))
    digest = h.hexdigest()
    if digest != lf.sha256 or size != lf.size:
        tmp.unlink(missing_ok=True)
        return rules.FETCH_MISMATCH.finding(
            f"{lf.path}: locked sha256 {lf.sha256} ({lf.size} bytes), downloaded {digest} "
            f"({size} bytes)", Location(lf.path),
            properties={"expected": lf.sha256, "actual": digest})
    os.replace(tmp, blob)
    return None
