"""A real SMTP server on loopback (aiosmtpd) that records what it receives and answers as scripted.

In-process (`running_sink`) for the end-to-end and retry tests; as its own process
(`python tests/delivery/smtp_sink.py PORT OUTFILE`) for the crash test, writing one Message-ID per
line to OUTFILE as each message is accepted.
"""

import re
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

_MESSAGE_ID = re.compile(rb"^Message-ID:\s*<([^>]+)>", re.IGNORECASE | re.MULTILINE)


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


@dataclass
class Sink:
    """What the server received, and a script deciding its answer to each RCPT TO."""

    received: list[Received] = field(default_factory=list)
    # (address, how many RCPTs for it so far) -> an SMTP reply, or None for "250 OK"
    answer_rcpt: Callable[[str, int], str | None] | None = None
    rcpt_counts: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        with self.lock:
            n = self.rcpt_counts.get(address, 0)
            self.rcpt_counts[address] = n + 1
        reply = self.answer_rcpt(address, n) if self.answer_rcpt else None
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
            )
        return "250 2.0.0 Message accepted"


@contextmanager
def running_sink(port: int, answer_rcpt: Callable[[str, int], str | None] | None = None) -> Iterator[Sink]:
    """An SMTP sink on 127.0.0.1:port for the duration of the block."""
    sink = Sink(answer_rcpt=answer_rcpt)
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


class _FileSink:
    def __init__(self, path: str) -> None:
        self.out = Path(path).open("ab", buffering=0)  # noqa: SIM115 - open for the process's lifetime

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        found = _MESSAGE_ID.search(bytes(envelope.content))
        self.out.write((found.group(1) if found else b"?") + b"\n")
        return "250 2.0.0 Message accepted"


def main() -> None:
    port, path = int(sys.argv[1]), sys.argv[2]
    controller = Controller(_FileSink(path), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    try:
        threading.Event().wait()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
