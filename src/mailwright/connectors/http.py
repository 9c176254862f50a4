"""The HTTP client every connector uses: injectable transport, retries on 429/5xx, waits through a hook.

Tests replace the transport with `httpx.MockTransport` and the sleep with a recorder, so a rate limit
that says "come back in 10 s" costs nothing. Jobs take the process-wide defaults, which a test can
swap for a block with `override_http(...)`.
"""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from mailwright.core.errors import DomainError

Sleep = Callable[[float], None]


class UpstreamError(DomainError):
    """The other system answered with an error (or not at all) after the retries."""

    status = 502
    code = "upstream_error"


class UpstreamAuthError(UpstreamError):
    """The other system refused the credentials (wrong or expired and not refreshable)."""

    code = "upstream_unauthorized"


@dataclass(frozen=True)
class HttpOptions:
    """How connector requests go out: transport, waiting, retries and timeouts."""

    transport: httpx.BaseTransport | None = None
    sleep: Sleep = time.sleep
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    max_retries: int = 5
    # Base of the exponential backoff on 5xx and connection errors (1, 2, 4, 8 ... seconds).
    backoff_seconds: float = 1.0
    # A Retry-After longer than this is not waited for: the sync stops and resumes at its next run.
    max_wait_seconds: float = 120.0
    timeout_seconds: float = 30.0


_defaults = HttpOptions()


def default_options() -> HttpOptions:
    """The options jobs use when none are given."""
    return _defaults


@contextmanager
def override_http(**changes: Any) -> Iterator[HttpOptions]:
    """Use other HTTP options (a mock transport, a fake sleep) for the jobs run inside the block."""
    global _defaults
    saved = _defaults
    _defaults = replace(saved, **changes)
    try:
        yield _defaults
    finally:
        _defaults = saved


def retry_after_seconds(response: httpx.Response, now: datetime) -> float | None:
    """The wait a Retry-After header asks for (seconds or an HTTP date), None when absent or unreadable."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max((moment - now).total_seconds(), 0.0)


class ApiClient:
    """A JSON API client for one base URL; `rate_limit_wait` lets a connector add vendor-specific limits."""

    def __init__(
        self,
        base_url: str,
        *,
        options: HttpOptions | None = None,
        headers: dict[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        service: str = "API",
        rate_limit_wait: Callable[[httpx.Response], float | None] | None = None,
    ) -> None:
        self.options = options or default_options()
        self.service = service
        self.rate_limit_wait = rate_limit_wait
        self.waits: list[float] = []
        self.client = httpx.Client(
            base_url=base_url,
            headers={"Accept": "application/json", "User-Agent": "Mailwright", **(headers or {})},
            auth=auth,
            transport=self.options.transport,
            timeout=self.options.timeout_seconds,
        )

    def close(self) -> None:
        """Release the connection pool."""
        self.client.close()

    def __enter__(self) -> "ApiClient":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.options.sleep(seconds)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send a request; 429 and 5xx are retried with waits, other 4xx are returned to the caller."""
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.client.request(method, url, **kwargs)
            except httpx.TransportError as exc:
                if attempt > self.options.max_retries:
                    raise UpstreamError(
                        f"{self.service} unreachable at {method} {url}: {exc}", field="url"
                    ) from exc
                self._wait(self.options.backoff_seconds * 2 ** (attempt - 1))
                continue
            if response.status_code == 429 or response.status_code >= 500:
                if attempt > self.options.max_retries:
                    raise UpstreamError(
                        f"{self.service} answered {response.status_code} to {method} {url} "
                        f"after {attempt} attempts: {response.text[:300]}",
                        field="url",
                    )
                wait = retry_after_seconds(response, self.options.now())
                if wait is None and response.status_code == 429 and self.rate_limit_wait is not None:
                    wait = self.rate_limit_wait(response)
                if wait is None:
                    wait = self.options.backoff_seconds * 2 ** (attempt - 1)
                if wait > self.options.max_wait_seconds:
                    raise UpstreamError(
                        f"{self.service} asks to wait {wait:.0f} s (rate limit) before {method} {url}; "
                        "the sync stops here and resumes from its cursor next time",
                        field="url",
                    )
                self._wait(wait)
                continue
            if self.rate_limit_wait is not None and response.status_code < 400:
                # A vendor that announces its remaining budget: pause before the next call when spent.
                pause = self.rate_limit_wait(response)
                if pause:
                    self._wait(pause)
            return response

    def json(self, method: str, url: str, **kwargs: Any) -> Any:
        """Send a request and return its JSON body; a 4xx becomes UpstreamError (401/403: UpstreamAuthError)."""
        response = self.request(method, url, **kwargs)
        raise_for_status(response, self.service)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise UpstreamError(
                f"{self.service} sent a body that is not JSON for {method} {url}", field="url"
            ) from exc


def raise_for_status(response: httpx.Response, service: str) -> None:
    """Turn an error status into a domain error that says what the other system said."""
    if response.status_code < 400:
        return
    request = response.request
    where = f"{request.method} {request.url.path}"
    body = response.text[:300]
    if response.status_code in (401, 403):
        raise UpstreamAuthError(
            f"{service} refused the credentials ({response.status_code}) for {where}: {body}",
            field="token",
        )
    raise UpstreamError(f"{service} answered {response.status_code} to {where}: {body}", field="url")
