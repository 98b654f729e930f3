"""Hugging Face Hub models and datasets (huggingface.co or a mirror via HF_ENDPOINT) through
huggingface_hub.

One request per source: ``/api/models/{id}?securityStatus=True`` or ``/api/datasets/{id}``.
Signals: downloads (last 30 days), likes, last modification, gated, disabled, library, license
(card ``license`` or ``license:`` tag), author and the Hub's own security-scan status.
huggingface_hub does not retry info calls, so ``call_with_retry`` bounds 429/5xx retries here.
Token: HF_TOKEN only (never the token cached on disk by ``huggingface-cli login``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from mlgate.maturity.base import Signals, SourceError, SourceKind, SourceRef, Unmeasured
from mlgate.maturity.http import call_with_retry, is_rate_limited, reset_text, scrub, token_from_env


class HuggingFaceSource:
    kind: SourceKind = "huggingface"

    def __init__(self, *, timeout: float = 15.0, retries: int = 3, max_wait: float = 60.0,
                 environ: Mapping[str, str] | None = None, etag_root: Path | None = None,
                 issues_since: date | None = None) -> None:
        # huggingface_hub's own HTTP client makes the request: no conditional requests here
        # (one request per source; the signals cache covers repeats)
        del etag_root, issues_since
        self.timeout = timeout
        self.retries = retries
        self.max_wait = max_wait
        self.token = token_from_env("HF_TOKEN", environ=environ)

    def fetch(self, ref: SourceRef) -> Signals:
        import httpx2
        from huggingface_hub import HfApi
        from huggingface_hub.errors import HfHubHTTPError

        api = HfApi(endpoint=ref.api_url, token=self.token or False)
        dataset = ref.repo_type == "dataset"

        def call() -> Any:
            if dataset:
                return api.dataset_info(ref.path, timeout=self.timeout)
            return api.model_info(ref.path, securityStatus=True, timeout=self.timeout)

        def status_of(exc: BaseException) -> tuple[int, Mapping[str, str]] | None:
            response = getattr(exc, "response", None)
            if response is None:
                return None
            return int(response.status_code), dict(response.headers)

        try:
            info = call_with_retry(call, status_of=status_of, retries=self.retries, max_wait=self.max_wait,
                                   retry_on=(HfHubHTTPError, httpx2.TransportError))
        except HfHubHTTPError as exc:
            info_ = status_of(exc)
            status, headers = info_ if info_ else (0, {})
            if is_rate_limited(status, headers):
                message = f"{ref.ref}: Hub API rate limit exceeded (HTTP {status}){reset_text(headers)}"
                raise SourceError("unreachable", message) from None
            if status in (401, 403, 404):
                hint = " (private, gated for this token, renamed or missing; is HF_TOKEN set?)"
                raise SourceError("not_found", f"{ref.ref}: HTTP {status} from the Hub{hint}") from None
            raise SourceError("unreachable", scrub(f"{ref.ref}: Hub API failed: HTTP {status}")) from None
        except (httpx2.HTTPError, OSError) as exc:
            message = f"{ref.ref}: cannot reach {ref.api_url}: {type(exc).__name__}: {exc}"
            raise SourceError("unreachable", scrub(message)) from None
        return _signals(ref, info, dataset)


def _signals(ref: SourceRef, info: Any, dataset: bool) -> Signals:
    web = f"{ref.api_url}/{'datasets/' if dataset else ''}{ref.path}"
    modified = info.last_modified
    last: datetime | Unmeasured = Unmeasured("the Hub gave no lastModified")
    if isinstance(modified, datetime):
        last = modified if modified.tzinfo else modified.replace(tzinfo=timezone.utc)
    scan: int | Unmeasured = Unmeasured("not applicable", applicable=False)
    if not dataset:
        status = getattr(info, "security_repo_status", None)
        if isinstance(status, dict) and status.get("scansDone"):
            issues = status.get("filesWithIssues") or []
            scan = len(issues) if isinstance(issues, list) else 1
        else:
            scan = Unmeasured("the Hub security scan has not completed for this repo")
    return Signals(
        source=ref,
        url=web,
        downloads=_int(info.downloads, "downloads"),
        likes=_int(info.likes, "likes"),
        last_commit=last,
        archived=bool(getattr(info, "disabled", False)),
        gated=info.gated if isinstance(info.gated, (bool, str)) else Unmeasured("no gated field"),
        library=(str(getattr(info, "library_name", "") or "") or Unmeasured("no library_name"))
        if not dataset else Unmeasured("not applicable", applicable=False),
        license=_license(info),
        author=str(info.author or ref.owner),
        security_scan_issues=scan,
    )


def _int(value: Any, field: str) -> int | Unmeasured:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return Unmeasured(f"the Hub gave no {field}")


def _license(info: Any) -> str:
    card = getattr(info, "card_data", None)
    value = getattr(card, "license", None) if card is not None else None
    if isinstance(value, list):
        value = " OR ".join(str(v) for v in value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    for tag in info.tags or []:
        if isinstance(tag, str) and tag.startswith("license:"):
            return tag.split(":", 1)[1]
    return "none"
