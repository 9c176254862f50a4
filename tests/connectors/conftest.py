"""Connector tests never reach beyond this machine: a default transport that only allows loopback."""

from collections.abc import Iterator

import httpx
import pytest

from mailwright.connectors.http import override_http


class LoopbackOnly(httpx.BaseTransport):
    """Forwards requests to 127.0.0.1 and fails any other (a test forgot its mock transport)."""

    def __init__(self) -> None:
        self.real = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host != "127.0.0.1":
            raise httpx.ConnectError(f"tests may not reach {request.url.host}", request=request)
        return self.real.handle_request(request)

    def close(self) -> None:
        self.real.close()


@pytest.fixture(autouse=True)
def _loopback_only() -> Iterator[None]:
    transport = LoopbackOnly()
    with override_http(transport=transport, sleep=lambda _s: None):
        yield
    transport.close()
