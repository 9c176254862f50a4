"""The connectors' HTTP client: what it waits for, what it retries, and what it gives up on."""

from datetime import UTC, datetime

import httpx
import pytest

from mailwright.connectors.http import ApiClient, HttpOptions, UpstreamAuthError, UpstreamError

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _client(responses: list[httpx.Response], slept: list[float], **options: object) -> ApiClient:
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        return queue.pop(0)

    opts = HttpOptions(transport=httpx.MockTransport(handler), sleep=slept.append, now=lambda: NOW, **options)  # type: ignore[arg-type]
    return ApiClient("https://api.example.com", options=opts, service="Example")


@pytest.mark.parametrize(
    ("first", "waited"),
    [
        (httpx.Response(429, headers={"Retry-After": "3"}), [3.0]),
        (httpx.Response(429, headers={"Retry-After": "Mon, 02 Nov 2026 09:00:20 GMT"}), [20.0]),
        (httpx.Response(503), [1.0]),  # no Retry-After: exponential backoff from 1 s
        (httpx.Response(429, headers={"Retry-After": "soon"}), [1.0]),
    ],
)
def test_waits_what_the_server_asks_then_succeeds(first: httpx.Response, waited: list[float]) -> None:
    slept: list[float] = []
    with _client([first, httpx.Response(200, json={"ok": True})], slept) as api:
        assert api.json("GET", "/things") == {"ok": True}
    assert slept == waited


def test_backoff_doubles_and_gives_up_naming_the_status() -> None:
    slept: list[float] = []
    with (
        _client([httpx.Response(500, text="boom")] * 4, slept, max_retries=3) as api,
        pytest.raises(UpstreamError) as err,
    ):
        api.json("GET", "/things")
    assert slept == [1.0, 2.0, 4.0]
    assert "500" in err.value.message and "boom" in err.value.message


def test_a_long_rate_limit_stops_instead_of_sleeping() -> None:
    slept: list[float] = []
    with (
        _client([httpx.Response(429, headers={"Retry-After": "3600"})], slept) as api,
        pytest.raises(UpstreamError) as err,
    ):
        api.json("GET", "/things")
    assert slept == [] and "resumes from its cursor" in err.value.message


def test_refused_credentials_are_not_retried() -> None:
    slept: list[float] = []
    with (
        _client([httpx.Response(401, json={"message": "expired"})], slept) as api,
        pytest.raises(UpstreamAuthError),
    ):
        api.json("GET", "/things")
    assert slept == []
