"""Senders on their own: the rate limit, per-domain concurrency over real SMTP connections, the fake."""

import asyncio
import threading
from typing import Any

from aiosmtpd.controller import Controller
from tests.support.server import free_port

from mailwright.delivery.senders import FakeSender, SendResult, SmtpSender
from mailwright.delivery.senders.smtp import RateLimiter

MESSAGE = b"From: a@shop.test\r\nTo: x@example.org\r\nSubject: s\r\n\r\nbody\r\n"


def test_the_rate_limit_spaces_sends() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        now[0] += seconds

    limiter = RateLimiter(4.0, monotonic=lambda: now[0], sleep=sleep)
    for _ in range(5):
        limiter.wait()
    assert slept == [0.25, 0.25, 0.25, 0.25]
    assert RateLimiter(0).interval == 0  # unlimited


class _Slow:
    """A sink that holds each DATA for a while and remembers how many were open at once per domain."""

    def __init__(self) -> None:
        self.open: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.received = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        domain = envelope.rcpt_tos[0].rsplit("@", 1)[1]
        self.open[domain] = self.open.get(domain, 0) + 1
        self.peak[domain] = max(self.peak.get(domain, 0), self.open[domain])
        await asyncio.sleep(0.05)
        self.open[domain] -= 1
        self.received += 1
        return "250 OK"


def test_per_domain_concurrency_caps_simultaneous_sends_and_reuses_connections() -> None:
    port = free_port()
    handler = _Slow()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    sender = SmtpSender("127.0.0.1", port, per_domain_concurrency=2)
    results: list[SendResult] = []
    try:

        def send(domain: str) -> None:
            for _ in range(4):
                results.append(sender.send("b@shop.test", [f"x@{domain}"], MESSAGE))

        threads = [
            threading.Thread(target=send, args=(d,))
            for d in ("a.example", "a.example", "a.example", "b.example")
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sender.close()
        controller.stop()
    assert len(results) == 16 and all(r.ok for r in results)
    assert handler.received == 16
    assert handler.peak["a.example"] == 2  # three threads, at most two at once
    assert handler.peak["b.example"] == 1
    assert sender.connections_opened == 3  # two for a.example, one for b.example, each reused


def test_an_unreachable_server_is_a_result_not_an_exception() -> None:
    result = SmtpSender("127.0.0.1", free_port(), timeout=2).send("b@shop.test", ["x@example.org"], MESSAGE)
    assert not result.ok and result.connection_error


def test_the_fake_sender_records_and_can_refuse() -> None:
    fake = FakeSender(
        lambda f, r, m: SendResult.refused(550, "5.1.1 unknown") if "bad" in r[0] else SendResult.accepted()
    )
    assert fake.send("b@shop.test", ["ok@example.org"], MESSAGE).ok
    refused = fake.send("b@shop.test", ["bad@example.org"], MESSAGE)
    assert refused.code == 550 and refused.enhanced_status == "5.1.1"
    assert [m.recipients for m in fake.sent] == [("ok@example.org",)]
    assert len(fake.refused) == 1
