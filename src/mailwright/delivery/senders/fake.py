"""A sender that keeps messages in memory, for tests (optionally answering with scripted results)."""

import threading
from collections.abc import Callable
from dataclasses import dataclass

from mailwright.delivery.senders.base import SendResult


@dataclass(frozen=True)
class SentMessage:
    """One message the fake sender accepted."""

    envelope_from: str
    recipients: tuple[str, ...]
    data: bytes


class FakeSender:
    """Records every accepted message; `answer` decides the result per message (accept by default)."""

    name = "fake"

    def __init__(self, answer: Callable[[str, list[str], bytes], SendResult] | None = None) -> None:
        self.sent: list[SentMessage] = []
        self.refused: list[tuple[SentMessage, SendResult]] = []
        self.answer = answer
        self.closed = False
        self._lock = threading.Lock()

    def send(self, envelope_from: str, recipients: list[str], message: bytes) -> SendResult:
        """Accept (and record) the message, or return the scripted refusal."""
        result = self.answer(envelope_from, recipients, message) if self.answer else SendResult.accepted()
        item = SentMessage(envelope_from, tuple(recipients), message)
        with self._lock:
            if result.ok:
                self.sent.append(item)
            else:
                self.refused.append((item, result))
        return result

    def close(self) -> None:
        """Nothing to release."""
        self.closed = True
