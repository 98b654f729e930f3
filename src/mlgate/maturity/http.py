"""HTTP plumbing shared by the sources: bounded retries, tokens from the environment, masking.

* ``BoundedRetry`` (urllib3 Retry) retries 429 / 5xx / connection errors with exponential
  backoff, honours ``Retry-After`` and GitHub's ``X-RateLimit-Remaining: 0`` +
  ``X-RateLimit-Reset``, but only when the wait fits in ``max_wait``: otherwise it gives the
  response back at once so the caller reports a clear error with the reset time.
* ``call_with_retry`` does the same for clients that do not use requests (huggingface_hub).
* Tokens are read from the environment only, masked on GitHub Actions (``::add-mask::``) and
  scrubbed from every message we build from a library error.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from urllib3.exceptions import MaxRetryError
from urllib3.util.retry import Retry

log = logging.getLogger("mlgate.maturity")

RETRY_STATUSES = frozenset({403, 429, 500, 502, 503, 504})
_masked: set[str] = set()
_secrets: set[str] = set()

T = TypeVar("T")


def token_from_env(*names: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The first non-empty variable of ``names``; masked on GitHub Actions, never logged."""
    env = os.environ if environ is None else environ
    for name in names:
        value = env.get(name, "").strip()
        if value:
            register_secret(value, environ=env)
            return value
    return None


def register_secret(value: str, *, environ: Mapping[str, str] | None = None) -> None:
    env = os.environ if environ is None else environ
    _secrets.add(value)
    if env.get("GITHUB_ACTIONS") == "true" and value not in _masked:
        _masked.add(value)
        # stderr: the runner reads commands there too, and stdout may be a report redirected
        # to a file (`mlgate maturity --format json > m.json` must not hold the token)
        sys.stderr.write(f"::add-mask::{value}\n")
        sys.stderr.flush()


def scrub(text: str) -> str:
    """``text`` with every known token replaced by ***."""
    for secret in _secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def rate_limit_wait(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asks us to wait (Retry-After, or GitHub/GitLab rate-limit reset when
    the remaining budget is 0); None when the headers ask for no wait."""
    lower = {k.lower(): v for k, v in headers.items()}
    current = time.time() if now is None else now
    retry_after = lower.get("retry-after")
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after.strip()))
        except ValueError:
            from email.utils import parsedate_to_datetime

            try:
                return max(0.0, parsedate_to_datetime(retry_after).timestamp() - current)
            except (TypeError, ValueError):
                return None
    remaining = lower.get("x-ratelimit-remaining", lower.get("ratelimit-remaining"))
    reset = lower.get("x-ratelimit-reset", lower.get("ratelimit-reset"))
    if remaining is not None and remaining.strip() == "0" and reset is not None:
        try:
            return max(0.0, float(reset) - current)
        except ValueError:
            return None
    return None


def is_rate_limited(status: int, headers: Mapping[str, str]) -> bool:
    lower = {k.lower(): v for k, v in headers.items()}
    if status == 429:
        return True
    if status != 403:
        return False
    # primary limit: remaining budget 0; secondary (abuse) limit: 403 with Retry-After
    remaining = lower.get("x-ratelimit-remaining", lower.get("ratelimit-remaining"))
    return (remaining is not None and remaining.strip() == "0") or "retry-after" in lower


def reset_text(headers: Mapping[str, str]) -> str:
    """' (resets at 2026-01-01T00:00:00Z, in 42 min)' from the rate-limit headers, or ''."""
    lower = {k.lower(): v for k, v in headers.items()}
    reset = lower.get("x-ratelimit-reset", lower.get("ratelimit-reset"))
    wait = rate_limit_wait(headers)
    if reset is not None:
        try:
            when = datetime.fromtimestamp(float(reset), tz=timezone.utc)
        except (ValueError, OverflowError, OSError):
            return ""
        stamp = when.replace(microsecond=0).isoformat().replace("+00:00", "Z")
        mins = f", in {max(0, round((wait or 0) / 60))} min" if wait is not None else ""
        return f" (resets at {stamp}{mins})"
    if wait is not None:
        return f" (retry after {wait:.0f}s)"
    return ""


class BoundedRetry(Retry):
    """urllib3 Retry that waits for rate limits only when the wait is at most ``max_wait``."""

    def __init__(self, *args: Any, max_wait: float = 60.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_wait = max_wait

    def new(self, **kw: Any) -> BoundedRetry:
        new = super().new(**kw)
        assert isinstance(new, BoundedRetry)
        new.max_wait = self.max_wait
        return new

    def increment(self, method: str | None = None, url: str | None = None, *args: Any,
                  **kwargs: Any) -> BoundedRetry:
        response = kwargs.get("response")
        if response is not None:
            status = int(response.status)
            headers = dict(response.headers)
            wait = rate_limit_wait(headers)
            if status == 403 and not is_rate_limited(status, headers):
                # an ordinary 'forbidden' is not worth a retry
                raise MaxRetryError(kwargs.get("_pool"), url or "", "forbidden")  # type: ignore[arg-type]
            if wait is not None and wait > self.max_wait:
                log.debug("not waiting %.0fs for %s (max_wait %.0fs)", wait, url, self.max_wait)
                raise MaxRetryError(kwargs.get("_pool"), url or "", "rate limited")  # type: ignore[arg-type]
        new = super().increment(method, url, *args, **kwargs)
        assert isinstance(new, BoundedRetry)
        return new

    def sleep_for_retry(self, response: Any) -> bool:
        wait = rate_limit_wait(dict(response.headers))
        if wait:
            time.sleep(min(wait, self.max_wait))
            return True
        return False


def make_retry(retries: int, max_wait: float, backoff: float = 0.5) -> BoundedRetry:
    return BoundedRetry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        backoff_factor=backoff,
        backoff_max=30.0,
        status_forcelist=sorted(RETRY_STATUSES),
        allowed_methods=frozenset({"GET", "HEAD"}),
        respect_retry_after_header=True,
        raise_on_status=False,  # give the last response back: the library raises a clear error
        max_wait=max_wait,
    )


def make_session(retries: int, max_wait: float, etag_root: Path | None = None) -> Any:
    """A requests Session with ``BoundedRetry`` mounted for http and https; with ``etag_root``,
    GETs are conditional requests (:mod:`mlgate.maturity.etag`)."""
    import requests

    from mlgate.maturity.etag import mount

    session = requests.Session()
    mount(session, etag_root, make_retry(retries, max_wait))
    return session


def call_with_retry(
    fn: Callable[[], T],
    *,
    status_of: Callable[[BaseException], tuple[int, Mapping[str, str]] | None],
    retries: int,
    max_wait: float,
    retry_on: Sequence[type[BaseException]],
    backoff: float = 0.5,
) -> T:
    """Run ``fn``; on an exception of ``retry_on`` whose (status, headers) is 429/5xx or a
    connection error (status_of -> None), retry with backoff / Retry-After within the bounds."""
    attempt = 0
    while True:
        try:
            return fn()
        except tuple(retry_on) as exc:
            info = status_of(exc)
            if attempt >= retries:
                raise
            wait = backoff * (2**attempt)
            if info is not None:
                status, headers = info
                if status not in RETRY_STATUSES or (status == 403 and not is_rate_limited(status, headers)):
                    raise
                asked = rate_limit_wait(headers)
                if asked is not None:
                    if asked > max_wait:
                        raise
                    wait = asked
            attempt += 1
            time.sleep(min(wait, max_wait))
